"""Tensor: creation and dtypes, conversion, comparison, casts, in-place rules."""

import numpy as np
import pytest

import profondo


@pytest.mark.parametrize("data, dtype", [
    ([1.0, 2.0], np.float32), (1.5, np.float32), ([1, 2], np.int64), ([True, False], np.bool_),
    (np.array([1.0], np.float64), np.float64), (np.array([1], np.int32), np.int32),
])
def test_tensor_default_dtypes(data, dtype):
    assert profondo.tensor(data).dtype == dtype


def test_tensor_copies_from_numpy_shares():
    a = np.zeros(3, np.float32)
    t, f = profondo.tensor(a), profondo.from_numpy(a)
    a[0] = 1
    assert t.numpy()[0] == 0 and f.numpy()[0] == 1
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, received list"):
        profondo.from_numpy([1.0])


@pytest.mark.parametrize("make", [profondo.zeros, profondo.ones, profondo.empty, profondo.randn, profondo.rand])
def test_creators_default_to_float32(make):
    t = make(2, 3)
    assert t.shape == (2, 3) and t.dtype == np.float32
    assert make((2, 3), dtype="float64").dtype == np.float64


def test_creation_helpers():
    assert profondo.arange(3).dtype == np.int64 and profondo.arange(0, 1, 0.5).dtype == np.float32
    assert profondo.full((2,), 7).tolist() == [7.0, 7.0] and profondo.eye(2).tolist() == [[1, 0], [0, 1]]
    x = profondo.ones(2, 3, dtype="float64")
    assert profondo.zeros_like(x).dtype == np.float64 and profondo.full_like(x, 2).tolist() == [[2] * 3] * 2
    with pytest.raises(ValueError, match="unknown dtype 'float8'"):
        profondo.zeros(2, dtype="float8")


def test_random_is_seeded():
    profondo.manual_seed(3)
    a = profondo.randn(4).numpy()
    profondo.manual_seed(3)
    np.testing.assert_array_equal(a, profondo.randn(4).numpy())


def test_numpy_scalars_keep_the_tensor_dtype():
    x = profondo.ones(3, requires_grad=True)
    ys = [x / np.int64(3), x * np.float64(0.5), x + np.sqrt(2.0), x - np.float16(1), x ** np.float64(2.0),
          np.float64(2.0) * x, x + [1.0, 2.0, 3.0]]
    assert [y.dtype for y in ys] == [np.float32] * len(ys)
    sum(y.sum() for y in ys).backward()
    assert x.grad.dtype == np.float32


def test_integer_tensor_arithmetic():
    i = profondo.arange(4)
    assert (i + 1).dtype == np.int64 and (i * np.int32(2)).dtype == np.int64
    assert (i / 2).dtype.kind == "f"


def test_cast_and_gradient_dtype():
    x = profondo.ones(2, requires_grad=True)
    y = x.double() * 3
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3, 3]
    assert x.to(dtype="float16").dtype == np.float16 and x.long().dtype == np.int64 and x.to("cpu") is x


def test_comparisons_are_elementwise_and_untracked():
    x = profondo.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [(x > 2, [0, 0, 1]), (x <= 2, [1, 1, 0]), (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1]),
                             (x < profondo.tensor([2.0, 2.0, 2.0]), [1, 0, 0]), (x >= 1, [1, 1, 1])]:
        assert result.dtype == np.bool_ and not result.requires_grad and result.tolist() == [bool(e) for e in expected]


def test_numpy_array_on_the_left_gives_a_tensor():
    x = profondo.ones(2, requires_grad=True)
    y = np.array([2.0, 3.0], np.float32) * x
    assert isinstance(y, profondo.Tensor) and y.requires_grad


def test_item_len_and_conversions():
    t = profondo.tensor([[1.5, 2.0]])
    assert len(t) == 1 and t.ndim == 2 and t.numel() == 2 and t.size() == (1, 2) and t.size(1) == 2 and float(t[0, 0]) == 1.5 and int(t[0, 1]) == 2
    assert np.asarray(t).tolist() == [[1.5, 2.0]] and t.device == "cpu"
    with pytest.raises(ValueError, match=r"item\(\) needs a tensor of one element, received shape \(1, 2\)"):
        t.item()
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(profondo.tensor(1.0))


def test_repr():
    assert repr(profondo.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(profondo.tensor([1.0], requires_grad=True))
    assert "grad_fn=<Mul>" in repr(profondo.tensor([1.0], requires_grad=True) * 2)
    assert "dtype=float64" in repr(profondo.tensor([1.0], dtype="float64"))


def test_setitem():
    x = profondo.zeros(3)
    x[profondo.tensor([0, 2])] = 5.0
    assert x.tolist() == [5, 0, 5]
    w = profondo.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place assignment into a tensor that takes part in autograd"):
        w[0] = 1.0
    with profondo.no_grad():
        w[0] = 1.0
    assert w.tolist() == [1, 0, 0]


def test_methods_match_functions():
    x = profondo.tensor(np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32))
    F = profondo.functional
    for method, fn, args in [("exp", F.exp, ()), ("relu", F.relu, ()), ("sigmoid", F.sigmoid, ()), ("tanh", F.tanh, ()),
                             ("softmax", F.softmax, (1,)), ("log_softmax", F.log_softmax, (0,)), ("abs", F.abs, ())]:
        np.testing.assert_array_equal(getattr(x, method)(*args).numpy(), fn(x, *args).numpy())
    assert x.view(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,) and x.T.shape == (3, 2)
    assert x.clamp(0, 1).numpy().max() <= 1 and (-x).tolist() == (-x.numpy()).tolist() and (+x) is x


def test_numpy_array_of_a_tensor_copies_and_asarray_shares_as_with_an_ndarray():
    t = profondo.tensor([1.0, 2.0])
    copied, shared = np.array(t), np.asarray(t)
    t.data[0] = 5.0
    assert copied[0] == 1.0 and shared[0] == 5.0
