"""Live validation of architecture text: profondo's messages with the line they are about, the
arithmetic of size errors, the drawing when the text builds, and never an exception."""

from __future__ import annotations

import numpy as np
import pytest

from profondo.architecture import zoo
from profondo.ui.validate import validate_architecture_text as validate

pytest.importorskip("yaml")

LENET = zoo.path("lenet5").read_text()


def only_error(text: str, **kwargs) -> dict:
    result = validate(text, **kwargs)
    assert result["ok"] is False and result["layout"] is None and len(result["errors"]) == 1, result
    return result["errors"][0]


def test_valid_text_gives_its_drawing():
    result = validate(LENET)
    assert result["ok"] is True and result["errors"] == []
    assert [r["label"] for r in result["layout"]["layers"][:2]] == ["1@28x28", "6@28x28"]
    assert result["layout"]["totals"]["weights"] == 61_706
    result["layout"]["layers"].clear()  # a caller's copy: the remembered verdict is not changed
    assert validate(LENET)["layout"]["layers"]


def test_input_shape_builds_the_text_at_another_input():
    result = validate("input: [1, 28, 28]\nlayers:\n  - conv: {filters: 2, size: 3}\n  - dense: {units: 3}\n",
                      input_shape=(1, 10, 10))
    assert result["ok"] and result["layout"]["input_shape"] == [1, 10, 10]
    assert result["layout"]["layers"][-1]["weights"] == 2 * 8 * 8 * 3 + 3
    assert "input_shape expected positive integers" in only_error(LENET, input_shape=(0, 2))["message"]


def test_invalid_yaml_has_its_line_and_column():
    e = only_error("name: t\ninput: [3\nlayers: -\n")
    assert (e["line"], e["column"]) == (3, 7)
    assert e["message"] == "not valid YAML at line 3, column 7: while parsing a flow sequence, expected ',' or ']', " \
                           "but got ':'"


def test_unknown_kind_and_field_point_at_their_key():
    e = only_error("input: [1, 28, 28]\nlayers:\n  - relu\n  - {name: c, convolution: {filters: 6}}\n")
    assert (e["line"], e["column"]) == (4, 15)
    assert e["message"].startswith("layer 1 (c): unknown layer kind 'convolution'; valid kinds: activation, add,")
    e = only_error("input: [1, 28, 28]\nlayers:\n  - relu\n  - {name: c, conv: {filters: 6, size: 5, padd: 2}}\n")
    assert (e["line"], e["column"]) == (4, 43)  # the unknown field itself
    assert "unknown field 'padd' for 'conv'" in e["message"]


def test_size_mismatch_shows_the_arithmetic_on_its_line():
    text = ("name: small\ninput: [1, 28, 28]\nlayers:\n"
            "  - {name: conv1, conv: {filters: 6, size: 5}}     # 24x24\n"
            "  - pool: {type: max, size: 2}                     # 12x12\n"
            "  - {name: conv2, conv: {filters: 16, size: 5}}    # 8x8\n"
            "  - pool: {type: max, size: 2}                     # 4x4\n"
            "  - {name: conv3, conv: {filters: 16, size: 5}}\n")
    e = only_error(text)
    assert e["line"] == 8 and e["column"] == 5
    assert e["message"] == ("layer 4 (conv3): H_out = (4 - 5 + 2*0)/1 + 1 = 0: the window (5) is larger than the "
                            "padded input (4); its input [16, 4, 4] is the output of layer 3 (pool2)")
    e = only_error("input: [3, 15, 16]\nlayers:\n  - conv: {filters: 4, size: 5, stride: 2, pad: 1}\n")
    assert e["line"] == 3 and "W_out = (16 - 5 + 2*1)/2 + 1 = 7.5 is not an integer" in e["message"]


def test_top_level_and_graph_errors_are_placed():
    e = only_error("input: [1, 28, 28]\nlayer:\n  - relu\n")
    assert e["line"] == 2 and e["message"].startswith("unknown top-level field 'layer'")
    e = only_error("input: [1, 28, 0]\nlayers: [relu]\n")
    assert e["line"] == 1 and "received [1, 28, 0]" in e["message"]
    e = only_error("layers: [relu]\n")
    assert e["line"] is None and e["message"].startswith("missing field 'input'")
    e = only_error("input: [3, 8, 8]\nnodes:\n  - {name: a, relu}\n  - {name: b, add, inputs: [a, zz]}\n")
    assert (e["line"], e["column"]) == (4, 32) and "unknown input 'zz'" in e["message"]
    assert only_error("")["message"].endswith("received nothing (an empty file)")


def test_hostile_texts_are_refused_with_a_message():
    bomb = "a0: &a0 [relu, relu, relu, relu, relu, relu, relu, relu, relu]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9)) + "input: [4]\nlayers: *a8\n"
    assert "expands to more than 100000 YAML nodes" in only_error(bomb)["message"]
    deep = only_error("input: [4]\nlayers: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested more than 64 levels deep" in deep["message"] and deep["line"] == 2
    assert "expected at most 4,194,304" in only_error("#" * (5 * 2**20))["message"]
    assert "received bytes" in only_error(b"input: [4]")["message"]
    huge = only_error("input: [4]\nlayers:\n  - dense: {units: 1000000000000}\n")
    assert huge["line"] == 3 and "needs more memory than the limit" in huge["message"]
    # 8 GB of weights: within the cap for files, past the budget of a live check
    big = only_error("input: [100000]\nlayers:\n  - relu\n  - dense: {units: 20000}\n")
    assert big == {"line": 4, "column": 5, "message": "layer 1 (dense): its weights needs more memory than the "
                                                          "limit of 2 GiB set for this work"}


def _mutations(rng: np.random.Generator, text: str) -> str:
    chars = list(text)
    for _ in range(int(rng.integers(1, 4))):
        i = int(rng.integers(0, len(chars)))
        what = rng.integers(0, 4)
        if what == 0:
            del chars[i]
        elif what == 1:
            chars.insert(i, str(rng.choice(list("[]{}:,-&*!|>'\"#\t\n 0123456789x"))))
        elif what == 2 and chars[i].isdigit():
            chars[i] = str(rng.integers(0, 10))
        else:
            chars[i:i + int(rng.integers(1, 20))] = []
    return "".join(chars)


def test_never_raises_on_random_text():
    rng = np.random.default_rng(0)
    sources = [zoo.path(n).read_text() for n in ("lenet5", "mlp-mnist", "convnetjs-cifar10", "resnet-small")]
    alphabet = list("abcdefgh:[]{},-&*!|>'\"#\t\n 0123456789") + ["conv", "input", "layers", "nodes", "relu"]
    texts = [_mutations(rng, sources[i % len(sources)]) for i in range(120)]
    texts += ["".join(rng.choice(alphabet, int(rng.integers(0, 80)))) for _ in range(120)]
    texts += [bytes(rng.integers(0, 256, 40, dtype=np.uint8)).decode("latin-1") for _ in range(40)]
    verdicts = [validate(t) for t in texts]
    for text, result in zip(texts, verdicts):
        assert set(result) >= {"ok", "errors", "layout"}
        assert result["ok"] == (result["layout"] is not None) == (not result["errors"]), text
        for e in result["errors"]:
            assert isinstance(e["message"], str) and e["message"]
            assert e["line"] is None or 1 <= e["line"] <= text.count("\n") + 1, (text, e)
    assert 0 < sum(r["ok"] for r in verdicts) < len(verdicts)  # some mutations still build, most do not


def test_checks_from_several_threads_agree():
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"input: [1, {n}, {n}]\nlayers:\n  - conv: {{filters: 2, size: 5}}\n  - dense: {{units: 3}}\n"
             for n in range(3, 11)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(validate, texts))
    assert [r["ok"] for r in results] == [False, False, True, True, True, True, True, True]  # 3 and 4 < 5
    assert [r["layout"]["layers"][1]["shape"] for r in results[2:]] == [[2, n - 4, n - 4] for n in range(5, 11)]
