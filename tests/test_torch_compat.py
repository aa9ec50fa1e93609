"""PyTorch code runs unchanged and computes the same: each snippet below is written once, as a
function of the library (``t``: ``torch`` or ``profondo``), run under both, and its results
compared (values, shapes, dtypes, tuple structure). Without torch every test skips; a
divergence is a failure, never a skip.

Snippets receive ``t`` and ``d``, a dict of fixed NumPy arrays (seeded), and return tensors,
tuples of them, numbers, booleans or shapes.
"""

from __future__ import annotations

import numpy as np
import pytest

import profondo

torch = pytest.importorskip("torch")

_rng = np.random.default_rng(0)
DATA = {
    "a": _rng.standard_normal((3, 4)).astype(np.float32),
    "b": _rng.standard_normal((3, 4)).astype(np.float32),
    "c": _rng.standard_normal((4, 5)).astype(np.float32),
    "v": _rng.standard_normal(4).astype(np.float32),
    "x3": _rng.standard_normal((2, 3, 4)).astype(np.float32),
    "y3": _rng.standard_normal((2, 4, 5)).astype(np.float32),
    "img": _rng.standard_normal((2, 3, 6, 6)).astype(np.float32),
    "i": _rng.integers(0, 10, (3, 4)).astype(np.int64),
    "labels": np.array([0, 2, 1], np.int64),
    "ignored": np.array([0, -100, 1], np.int64),
    "ties": np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 2.0]], np.float32),
    "p": _rng.uniform(0.05, 0.95, (3, 4)).astype(np.float32),
    "target01": (_rng.uniform(0, 1, (3, 4)) > 0.5).astype(np.float32),
}


def _plain(value):
    """A library-independent form of a result: NumPy arrays, tuples, Python scalars, dtype names."""
    if isinstance(value, torch.Tensor):
        return ("tensor", value.detach().numpy(), str(value.dtype).replace("torch.", ""))
    if isinstance(value, profondo.Tensor):
        return ("tensor", value.numpy(), str(value.dtype))
    if isinstance(value, torch.dtype):
        return ("dtype", str(value).replace("torch.", ""))
    if isinstance(value, (np.dtype, type)) and value is not bool:
        return ("dtype", str(np.dtype(value)))
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def _same(ours, theirs, where="result"):
    if isinstance(theirs, tuple) and theirs and theirs[0] == "tensor" and len(theirs) == 3:
        assert isinstance(ours, tuple) and ours[0] == "tensor", f"{where}: a tensor in PyTorch, {ours!r} here"
        assert ours[1].shape == theirs[1].shape, f"{where}: shape {ours[1].shape}, PyTorch {theirs[1].shape}"
        assert ours[2] == theirs[2], f"{where}: dtype {ours[2]}, PyTorch {theirs[2]}"
        if theirs[1].dtype.kind == "f":
            np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-4, atol=1e-5, err_msg=where)
        else:
            np.testing.assert_array_equal(ours[1], theirs[1], err_msg=where)
    elif isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), f"{where}: {ours!r} vs PyTorch {theirs!r}"
        for i, (o, t_) in enumerate(zip(ours, theirs)):
            _same(o, t_, f"{where}[{i}]")
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs), f"{where}: keys {list(ours)} vs {list(theirs)}"
        for k in theirs:
            _same(ours[k], theirs[k], f"{where}[{k!r}]")
    elif isinstance(theirs, float):
        assert isinstance(ours, (float, int)) and not isinstance(ours, bool), f"{where}: {ours!r} vs {theirs!r}"
        assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-5), where
    else:
        assert type(ours) is type(theirs) and ours == theirs, f"{where}: {ours!r} here, PyTorch {theirs!r}"


def _run(snippet):
    theirs = _plain(snippet(torch, {k: v.copy() for k, v in DATA.items()}))
    ours = _plain(snippet(profondo, {k: v.copy() for k, v in DATA.items()}))
    _same(ours, theirs)


def T(t, d, name, **kw):
    """The array ``d[name]`` as a tensor of library ``t``."""
    return t.tensor(d[name], **kw)


def _grad(t, d, fn, *names):
    """Gradients of fn(*inputs).sum() with respect to the named inputs."""
    xs = [T(t, d, n, requires_grad=True) for n in names]
    fn(*xs).sum().backward()
    return tuple(x.grad for x in xs)


# --- creation and dtypes ----------------------------------------------------------------------
CREATION = {
    "tensor_floats": lambda t, d: t.tensor([1.0, 2.5]),
    "tensor_ints": lambda t, d: t.tensor([1, 2]),
    "tensor_bools": lambda t, d: t.tensor([True, False]),
    "tensor_nested": lambda t, d: t.tensor([[1, 2], [3, 4]], dtype=t.float32),
    "tensor_from_numpy_float64": lambda t, d: t.tensor(np.arange(3.0)),
    "from_numpy_shares": lambda t, d: (lambda a: (t.from_numpy(a).add_(1), a.sum().item())[1])(np.ones(3)),
    "zeros": lambda t, d: t.zeros(2, 3),
    "zeros_tuple": lambda t, d: t.zeros((2, 3), dtype=t.long),
    "ones_like": lambda t, d: t.ones_like(T(t, d, "i")),
    "zeros_like_float": lambda t, d: t.zeros_like(T(t, d, "a")),
    "full_int": lambda t, d: t.full((3,), -100),
    "full_float": lambda t, d: t.full((2, 2), 0.5),
    "full_bool": lambda t, d: t.full((2,), True),
    "full_like": lambda t, d: t.full_like(T(t, d, "i"), 7),
    "arange_int": lambda t, d: t.arange(5),
    "arange_float": lambda t, d: t.arange(0, 1, 0.25),
    "arange_start_stop": lambda t, d: t.arange(2, 8, 2),
    "linspace": lambda t, d: t.linspace(0, 1, 5),
    "eye": lambda t, d: t.eye(3),
    "eye_rect": lambda t, d: t.eye(2, 4),
    "empty_shape": lambda t, d: t.empty(2, 5).shape,
    "randn_shape_dtype": lambda t, d: (t.randn(3, 2).shape, t.randn(3, 2).dtype),
    "rand_range": lambda t, d: bool(((t.rand(100) >= 0) & (t.rand(100) < 1)).all()),
    "randint_range": lambda t, d: (t.randint(0, 5, (50,)).dtype, bool((t.randint(5, (50,)) < 5).all())),
    "randperm_sorted": lambda t, d: t.randperm(6).sort().values,
    "dtype_float": lambda t, d: t.float, "dtype_double": lambda t, d: t.double, "dtype_long": lambda t, d: t.long,
    "dtype_int": lambda t, d: t.int, "dtype_half": lambda t, d: t.half, "dtype_bool": lambda t, d: t.bool,
    "dtype_compare": lambda t, d: T(t, d, "a").dtype == t.float32,
    "to_dtype": lambda t, d: T(t, d, "a").to(t.float64),
    "to_int_truncates": lambda t, d: T(t, d, "a").to(t.int64),
    "long_method": lambda t, d: (T(t, d, "a") * 3).long(),
    "float_method": lambda t, d: T(t, d, "i").float(),
    "double_method": lambda t, d: T(t, d, "i").double(),
    "int_method": lambda t, d: T(t, d, "a").int(),
    "bool_method": lambda t, d: T(t, d, "i").bool(),
    "half_method": lambda t, d: T(t, d, "a").half().dtype,
    "type_as": lambda t, d: T(t, d, "i").type_as(T(t, d, "a")),
    "is_floating": lambda t, d: (T(t, d, "a").is_floating_point(), T(t, d, "i").is_floating_point()),
    "is_tensor": lambda t, d: (t.is_tensor(T(t, d, "a")), t.is_tensor(d["a"])),
    "numel_fn": lambda t, d: t.numel(T(t, d, "x3")),
    "item": lambda t, d: T(t, d, "a")[0, 0].item(),
    "tolist": lambda t, d: T(t, d, "i").tolist(),
    "int_of_tensor": lambda t, d: int(T(t, d, "i")[1, 1]),
    "float_of_tensor": lambda t, d: float(T(t, d, "a")[1, 1]),
    "new_zeros": lambda t, d: T(t, d, "i").new_zeros(2, 2),
    "new_ones": lambda t, d: T(t, d, "a").new_ones((3,)),
    "new_full": lambda t, d: T(t, d, "a").new_full((2,), 3.0),
    "new_tensor": lambda t, d: T(t, d, "a").new_tensor([1, 2]),
    "requires_grad_default": lambda t, d: (T(t, d, "a").requires_grad, T(t, d, "a", requires_grad=True).requires_grad),
    "is_leaf": lambda t, d: (lambda x: (x.is_leaf, (x * 2).is_leaf))(T(t, d, "a", requires_grad=True)),
    "detach": lambda t, d: (lambda y: (y.requires_grad, y.is_leaf))(T(t, d, "a", requires_grad=True).detach()),
}

# --- element-wise arithmetic and promotion -------------------------------------------------------
ARITHMETIC = {
    "add": lambda t, d: T(t, d, "a") + T(t, d, "b"),
    "add_broadcast_row": lambda t, d: T(t, d, "a") + T(t, d, "v"),
    "add_alpha": lambda t, d: t.add(T(t, d, "a"), T(t, d, "b"), alpha=2),
    "sub_method_alpha": lambda t, d: T(t, d, "a").sub(T(t, d, "b"), alpha=0.5),
    "mul_scalar": lambda t, d: T(t, d, "a") * 3,
    "rsub_scalar": lambda t, d: 1 - T(t, d, "a"),
    "rdiv_scalar": lambda t, d: 2 / (T(t, d, "p")),
    "pow_scalar": lambda t, d: T(t, d, "a") ** 2,
    "pow_half": lambda t, d: T(t, d, "p") ** 0.5,
    "rpow": lambda t, d: 2 ** T(t, d, "a"),
    "neg": lambda t, d: -T(t, d, "a"),
    "abs": lambda t, d: T(t, d, "a").abs(),
    "int_div_scalar": lambda t, d: T(t, d, "i") / 2,
    "int_div_int": lambda t, d: T(t, d, "i") / T(t, d, "i").clamp(min=1),
    "int_times_float": lambda t, d: T(t, d, "i") * 1.5,
    "int_plus_float_tensor": lambda t, d: T(t, d, "i") + T(t, d, "a"),
    "int_plus_int": lambda t, d: T(t, d, "i") + 1,
    "int_times_int": lambda t, d: T(t, d, "i") * 3,
    "int_pow_int": lambda t, d: T(t, d, "i") ** 2,
    "bool_sum": lambda t, d: (T(t, d, "a") > 0).sum(),
    "bool_float_mean": lambda t, d: (T(t, d, "a") > 0).float().mean(),
    "accuracy": lambda t, d: (T(t, d, "a").argmax(1) == T(t, d, "labels")).float().mean(),
    "float_times_numpy_scalar": lambda t, d: T(t, d, "a") * np.float32(2),
    "floordiv": lambda t, d: T(t, d, "i") // 3,
    "mod": lambda t, d: T(t, d, "i") % 3,
    "float_floordiv": lambda t, d: T(t, d, "a") // 0.5,
    "exp": lambda t, d: t.exp(T(t, d, "a")),
    "log": lambda t, d: t.log(T(t, d, "p")),
    "sqrt": lambda t, d: t.sqrt(T(t, d, "p")),
    "sigmoid": lambda t, d: t.sigmoid(T(t, d, "a")),
    "tanh": lambda t, d: t.tanh(T(t, d, "a")),
    "relu": lambda t, d: t.relu(T(t, d, "a")),
    "clamp": lambda t, d: t.clamp(T(t, d, "a"), -0.5, 0.5),
    "clamp_min": lambda t, d: T(t, d, "a").clamp(min=0),
    "clamp_max": lambda t, d: T(t, d, "a").clamp(max=0.1),
    "maximum": lambda t, d: t.maximum(T(t, d, "a"), T(t, d, "b")),
    "minimum": lambda t, d: t.minimum(T(t, d, "a"), T(t, d, "b")),
    "max_elementwise": lambda t, d: t.max(T(t, d, "a"), T(t, d, "b")),
    "min_elementwise": lambda t, d: t.min(T(t, d, "a"), T(t, d, "b")),
    "where": lambda t, d: t.where(T(t, d, "a") > 0, T(t, d, "a"), T(t, d, "b")),
    "where_scalar": lambda t, d: t.where(T(t, d, "a") > 0, T(t, d, "a"), t.zeros_like(T(t, d, "a"))),
    "gt": lambda t, d: T(t, d, "a") > T(t, d, "b"),
    "eq_scalar": lambda t, d: T(t, d, "i") == 3,
    "ne": lambda t, d: T(t, d, "i") != T(t, d, "i").T.T,
    "lt_method": lambda t, d: T(t, d, "a").lt(0),
    "ge_method": lambda t, d: T(t, d, "a").ge(T(t, d, "b")),
    "and": lambda t, d: (T(t, d, "a") > 0) & (T(t, d, "b") > 0),
    "or": lambda t, d: (T(t, d, "a") > 0) | (T(t, d, "b") > 0),
    "xor": lambda t, d: (T(t, d, "a") > 0) ^ (T(t, d, "b") > 0),
    "invert": lambda t, d: ~(T(t, d, "a") > 0),
    "int_and": lambda t, d: T(t, d, "i") & 6,
    "logical_not": lambda t, d: (T(t, d, "a") > 0).logical_not(),
    "matmul": lambda t, d: T(t, d, "a") @ T(t, d, "c"),
    "matmul_vec": lambda t, d: T(t, d, "a") @ T(t, d, "v"),
    "matmul_batched": lambda t, d: t.matmul(T(t, d, "x3"), T(t, d, "y3")),
    "mm": lambda t, d: t.mm(T(t, d, "a"), T(t, d, "c")),
    "mm_method": lambda t, d: T(t, d, "a").mm(T(t, d, "c")),
    "bmm": lambda t, d: t.bmm(T(t, d, "x3"), T(t, d, "y3")),
    "dot": lambda t, d: T(t, d, "v").dot(T(t, d, "v")),
    "einsum_matmul": lambda t, d: t.einsum("ij,jk->ik", T(t, d, "a"), T(t, d, "c")),
    "einsum_batched": lambda t, d: t.einsum("bij,bjk->bik", T(t, d, "x3"), T(t, d, "y3")),
    "einsum_outer": lambda t, d: t.einsum("i,j->ij", T(t, d, "v"), T(t, d, "v")),
    "einsum_sum": lambda t, d: t.einsum("ij->j", T(t, d, "a")),
    "einsum_implicit": lambda t, d: t.einsum("ij,jk", T(t, d, "a"), T(t, d, "c")),
    "einsum_transpose": lambda t, d: t.einsum("ij->ji", T(t, d, "a")),
    "einsum_list": lambda t, d: t.einsum("ij,ij->i", [T(t, d, "a"), T(t, d, "b")]),
    "allclose": lambda t, d: t.allclose(T(t, d, "a"), T(t, d, "a") + 1e-9),
    "equal": lambda t, d: (t.equal(T(t, d, "i"), T(t, d, "i")), t.equal(T(t, d, "i"), T(t, d, "i") + 1)),
}

# --- reductions ----------------------------------------------------------------------------------
REDUCTIONS = {
    "sum": lambda t, d: T(t, d, "a").sum(),
    "sum_dim": lambda t, d: T(t, d, "a").sum(1),
    "sum_dim_keepdim": lambda t, d: T(t, d, "a").sum(dim=0, keepdim=True),
    "sum_dims": lambda t, d: T(t, d, "x3").sum(dim=(0, 2)),
    "sum_int": lambda t, d: T(t, d, "i").sum(),
    "sum_fn": lambda t, d: t.sum(T(t, d, "a"), dim=1),
    "mean": lambda t, d: T(t, d, "a").mean(),
    "mean_dim": lambda t, d: T(t, d, "x3").mean(dim=-1),
    "mean_fn_keepdim": lambda t, d: t.mean(T(t, d, "a"), 1, keepdim=True),
    "max_all": lambda t, d: T(t, d, "a").max(),
    "max_dim": lambda t, d: T(t, d, "a").max(1),
    "max_dim_kw": lambda t, d: T(t, d, "a").max(dim=0),
    "max_dim_keepdim": lambda t, d: T(t, d, "a").max(1, keepdim=True),
    "max_fn_dim": lambda t, d: t.max(T(t, d, "a"), 1),
    "max_unpack_pred": lambda t, d: t.max(T(t, d, "a"), 1)[1],
    "max_of_outputs_data": lambda t, d: t.max(T(t, d, "a", requires_grad=True).data, 1)[1],
    "accuracy_loop": lambda t, d: (t.max(T(t, d, "a").data, 1)[1] == T(t, d, "labels")).sum().item(),
    "max_values_field": lambda t, d: T(t, d, "x3").max(dim=2).values,
    "max_indices_field": lambda t, d: T(t, d, "x3").max(dim=2).indices,
    "max_ties_first": lambda t, d: T(t, d, "ties").max(1),
    "min_dim": lambda t, d: T(t, d, "a").min(0),
    "min_ties": lambda t, d: T(t, d, "ties").min(dim=1),
    "min_all": lambda t, d: T(t, d, "i").min(),
    "max_int_dim": lambda t, d: T(t, d, "i").max(1),
    "amax": lambda t, d: T(t, d, "x3").amax(dim=(1, 2)),
    "amin": lambda t, d: t.amin(T(t, d, "a"), dim=0),
    "argmax": lambda t, d: T(t, d, "a").argmax(),
    "argmax_dim": lambda t, d: T(t, d, "a").argmax(dim=1),
    "argmax_keepdim": lambda t, d: t.argmax(T(t, d, "a"), dim=1, keepdim=True),
    "argmin_dim": lambda t, d: T(t, d, "a").argmin(0),
    "var": lambda t, d: T(t, d, "a").var(),
    "var_dim": lambda t, d: T(t, d, "a").var(1),
    "var_biased": lambda t, d: T(t, d, "a").var(unbiased=False),
    "var_dim_unbiased_false": lambda t, d: T(t, d, "a").var(1, unbiased=False),
    "var_correction0": lambda t, d: T(t, d, "a").var(dim=0, correction=0),
    "var_keepdim": lambda t, d: T(t, d, "a").var(1, keepdim=True),
    "var_fn": lambda t, d: t.var(T(t, d, "x3"), dim=(0, 1)),
    "std": lambda t, d: T(t, d, "a").std(),
    "std_dim": lambda t, d: T(t, d, "a").std(dim=1),
    "std_biased": lambda t, d: T(t, d, "a").std(0, unbiased=False),
    "std_fn": lambda t, d: t.std(T(t, d, "a"), dim=1, keepdim=True),
    "prod": lambda t, d: T(t, d, "p").prod(),
    "prod_dim": lambda t, d: T(t, d, "p").prod(1),
    "prod_int": lambda t, d: T(t, d, "i").prod(0),
    "cumsum": lambda t, d: T(t, d, "a").cumsum(1),
    "cumsum_int": lambda t, d: t.cumsum(T(t, d, "i"), dim=0),
    "logsumexp": lambda t, d: t.logsumexp(T(t, d, "a"), dim=1),
    "norm": lambda t, d: T(t, d, "a").norm(),
    "norm_dim": lambda t, d: T(t, d, "a").norm(dim=1),
    "norm_p1": lambda t, d: T(t, d, "a").norm(p=1),
    "any": lambda t, d: (T(t, d, "a") > 1).any(),
    "all": lambda t, d: (T(t, d, "p") > 0).all(),
    "any_dim": lambda t, d: (T(t, d, "a") > 1).any(dim=1),
    "all_dim": lambda t, d: t.all(T(t, d, "a") > -1, dim=0),
    "sort": lambda t, d: T(t, d, "a").sort(),
    "sort_dim0": lambda t, d: T(t, d, "a").sort(dim=0),
    "sort_descending": lambda t, d: t.sort(T(t, d, "a"), dim=1, descending=True),
    "sort_values": lambda t, d: T(t, d, "a").sort(1).values,
    "argsort": lambda t, d: T(t, d, "a").argsort(),
    "argsort_descending": lambda t, d: t.argsort(T(t, d, "a"), dim=0, descending=True),
    "topk": lambda t, d: T(t, d, "a").topk(2),
    "topk_dim0": lambda t, d: t.topk(T(t, d, "a"), 2, dim=0),
    "topk_smallest": lambda t, d: T(t, d, "a").topk(3, largest=False),
    "topk_indices": lambda t, d: T(t, d, "a").topk(1, dim=1).indices,
}

# --- shapes, joining, indexing ----------------------------------------------------------------
SHAPES = {
    "size": lambda t, d: T(t, d, "x3").size(),
    "size_equals_Size": lambda t, d: (T(t, d, "x3").size() == t.Size([2, 3, 4]), T(t, d, "a").shape == (3, 4)),
    "size_dim": lambda t, d: T(t, d, "x3").size(1),
    "size_neg": lambda t, d: T(t, d, "x3").size(-1),
    "shape": lambda t, d: T(t, d, "x3").shape,
    "shape_index": lambda t, d: T(t, d, "x3").shape[0],
    "dim": lambda t, d: T(t, d, "x3").dim(),
    "ndim": lambda t, d: T(t, d, "x3").ndim,
    "numel": lambda t, d: T(t, d, "x3").numel(),
    "len": lambda t, d: len(T(t, d, "x3")),
    "view": lambda t, d: T(t, d, "a").view(2, 6),
    "view_minus1": lambda t, d: T(t, d, "x3").view(-1),
    "view_batch": lambda t, d: T(t, d, "img").view(T(t, d, "img").size(0), -1),
    "reshape_tuple": lambda t, d: T(t, d, "a").reshape((4, 3)),
    "view_as": lambda t, d: T(t, d, "a").view_as(T(t, d, "b").T),
    "flatten": lambda t, d: T(t, d, "img").flatten(1),
    "flatten_fn": lambda t, d: t.flatten(T(t, d, "img"), start_dim=2),
    "transpose": lambda t, d: T(t, d, "x3").transpose(1, 2),
    "transpose_fn": lambda t, d: t.transpose(T(t, d, "x3"), 0, 2),
    "t": lambda t, d: T(t, d, "a").t(),
    "T": lambda t, d: T(t, d, "a").T,
    "permute": lambda t, d: T(t, d, "img").permute(0, 2, 3, 1),
    "permute_tuple": lambda t, d: T(t, d, "img").permute((3, 2, 1, 0)),
    "squeeze_all": lambda t, d: T(t, d, "a")[None, :, None].squeeze(),
    "squeeze_dim": lambda t, d: T(t, d, "a")[None].squeeze(0),
    "squeeze_dim_not_one": lambda t, d: T(t, d, "a").squeeze(1),
    "unsqueeze": lambda t, d: T(t, d, "a").unsqueeze(1),
    "unsqueeze_neg": lambda t, d: t.unsqueeze(T(t, d, "a"), -1),
    "expand": lambda t, d: T(t, d, "v").unsqueeze(0).expand(3, 4),
    "expand_minus1": lambda t, d: T(t, d, "v").view(4, 1).expand(-1, 3),
    "expand_as": lambda t, d: T(t, d, "v").expand_as(T(t, d, "a")),
    "repeat": lambda t, d: T(t, d, "a").repeat(2, 1),
    "repeat_new_dim": lambda t, d: T(t, d, "v").repeat(2, 3),
    "flip": lambda t, d: T(t, d, "a").flip(1),
    "flip_fn": lambda t, d: t.flip(T(t, d, "a"), [0, 1]),
    "cat": lambda t, d: t.cat([T(t, d, "a"), T(t, d, "b")]),
    "cat_dim1": lambda t, d: t.cat([T(t, d, "a"), T(t, d, "b")], dim=1),
    "cat_positional_dim": lambda t, d: t.cat((T(t, d, "a"), T(t, d, "b")), 1),
    "cat_neg_dim": lambda t, d: t.cat([T(t, d, "x3"), T(t, d, "x3")], dim=-1),
    "stack": lambda t, d: t.stack([T(t, d, "a"), T(t, d, "b")]),
    "stack_dim": lambda t, d: t.stack([T(t, d, "a"), T(t, d, "b")], dim=2),
    "split": lambda t, d: T(t, d, "a").split(2, dim=1),
    "split_sizes": lambda t, d: t.split(T(t, d, "a"), [1, 2], dim=0),
    "split_uneven": lambda t, d: t.split(T(t, d, "c"), 3, 1),
    "chunk": lambda t, d: T(t, d, "a").chunk(2, dim=1),
    "chunk_uneven": lambda t, d: t.chunk(T(t, d, "c"), 3, dim=1),
    "chunk_dim0": lambda t, d: t.chunk(T(t, d, "x3"), 2),
    "unbind": lambda t, d: T(t, d, "a").unbind(1),
    "getitem_int": lambda t, d: T(t, d, "a")[1],
    "getitem_slice": lambda t, d: T(t, d, "a")[:, 1:3],
    "getitem_step": lambda t, d: T(t, d, "a")[::2, ::-1] if False else T(t, d, "a")[::2],
    "getitem_ellipsis": lambda t, d: T(t, d, "x3")[..., 0],
    "getitem_none": lambda t, d: T(t, d, "a")[:, None].shape,
    "getitem_mask": lambda t, d: T(t, d, "a")[T(t, d, "a") > 0],
    "getitem_index_tensor": lambda t, d: T(t, d, "a")[T(t, d, "labels")],
    "getitem_pairs": lambda t, d: T(t, d, "a")[t.arange(3), T(t, d, "labels")],
    "gather": lambda t, d: T(t, d, "a").gather(1, T(t, d, "labels").unsqueeze(1)),
    "gather_fn": lambda t, d: t.gather(T(t, d, "a"), 0, T(t, d, "i") % 3),
    "index_select": lambda t, d: T(t, d, "a").index_select(1, t.tensor([0, 3])),
    "index_select_fn": lambda t, d: t.index_select(T(t, d, "a"), 0, t.tensor([2, 0])),
    "masked_fill": lambda t, d: T(t, d, "a").masked_fill(T(t, d, "a") < 0, 0.0),
    "masked_fill_broadcast": lambda t, d: T(t, d, "a").masked_fill(t.tensor([True, False, True, False]), -1.0),
    "masked_fill_inf_softmax": lambda t, d: t.softmax(T(t, d, "a").masked_fill(T(t, d, "i") > 5, float("-inf")), dim=1),
    "clone": lambda t, d: T(t, d, "a").clone(),
    "contiguous": lambda t, d: T(t, d, "a").T.contiguous(),
    "is_contiguous": lambda t, d: (T(t, d, "a").is_contiguous(), T(t, d, "a").T.is_contiguous()),
    "iterate": lambda t, d: [row.sum() for row in T(t, d, "a")],
    "one_hot": lambda t, d: t.nn.functional.one_hot(T(t, d, "labels")),
    "one_hot_classes": lambda t, d: t.nn.functional.one_hot(T(t, d, "labels"), num_classes=5),
    "one_hot_2d": lambda t, d: t.nn.functional.one_hot(T(t, d, "i"), 10).shape,
    "pad_torch_form": lambda t, d: t.nn.functional.pad(T(t, d, "img"), (1, 1, 2, 0)),
    "pad_last_only": lambda t, d: t.nn.functional.pad(T(t, d, "a"), (2, 1)),
    "pad_value": lambda t, d: t.nn.functional.pad(T(t, d, "a"), (1, 1), value=-1.0),
}

# --- in-place operations -------------------------------------------------------------------------
def _inplace(op):
    def snippet(t, d):
        x = T(t, d, "a")
        y = op(t, x, d)
        return x, y is x
    return snippet


def _no_grad_update(t, d):
    w = T(t, d, "a", requires_grad=True)
    (w * w).sum().backward()
    with t.no_grad():
        w -= 0.1 * w.grad
    return w.detach(), w.requires_grad, w.is_leaf


def _manual_sgd(t, d):
    w = T(t, d, "a", requires_grad=True)
    for _ in range(3):
        loss = ((w - 1) ** 2).sum()
        loss.backward()
        with t.no_grad():
            w.sub_(0.1 * w.grad)
            w.grad.zero_()
    return w.detach(), w.grad


def _inplace_on_graph(t, d):
    x = T(t, d, "a", requires_grad=True)
    y = x * 2
    y += 1
    y.mul_(3)
    y.sum().backward()
    return y, x.grad


def _residual_add(t, d):
    x = T(t, d, "a", requires_grad=True)
    out = x * 3  # mul saves its inputs, not its output: adding into the output is allowed
    out += x
    (out * out).sum().backward()
    return out, x.grad


def _relu_output_then_added(t, d):
    x = T(t, d, "a", requires_grad=True)
    out = t.relu(x * 3)  # relu saves its output: adding into it makes backward fail
    out += x
    try:
        out.sum().backward()
        return "no error"
    except RuntimeError:
        return "error"


def _saved_then_modified(t, d):
    x = T(t, d, "a", requires_grad=True)
    y = x * 2
    z = y * y
    y.add_(1)
    try:
        z.sum().backward()
        return "no error"
    except RuntimeError:
        return "error"


def _output_saved_then_modified(t, d):
    x = T(t, d, "a", requires_grad=True)
    y = x.exp()
    y.add_(1)
    try:
        y.sum().backward()
        return "no error"
    except RuntimeError:
        return "error"


def _unsaved_then_modified(t, d):
    x = T(t, d, "a", requires_grad=True)
    y = x * 2
    z = y + 1  # add saves nothing: changing y afterwards is allowed
    y.add_(1)
    z.sum().backward()
    return x.grad


def _used_then_scaled_in_place(t, d):
    x = T(t, d, "a", requires_grad=True)
    y = x * 2
    z = y + 1  # add saves nothing: z's gradient goes to y as it was before the change
    y.mul_(3)
    (z.sum() + (y * y).sum()).backward()
    return x.grad, y


def _changed_twice(t, d):
    x = T(t, d, "a", requires_grad=True)
    y = x * 2
    a = y + 0
    y.add_(1)
    b = (y + 2).reshape(-1)
    y.mul_(3)
    (a.sum() + b.sum() + (y * x).sum()).backward()
    return x.grad, y


def _leaf_inplace_refused(t, d):
    x = T(t, d, "a", requires_grad=True)
    try:
        x.add_(1)
        return "no error"
    except RuntimeError:
        return "error"


def _version(t, d):
    x = T(t, d, "a")
    v0 = x._version
    x.add_(1)
    x.mul_(2)
    return x._version - v0


def _view_shares(t, d):
    x = T(t, d, "a")
    x[0].fill_(5.0)
    x[:, 1].zero_()
    return x


def _setitem(t, d):
    x = T(t, d, "a")
    x[x < 0] = 0.0
    x[1, 2] = 7.0
    x[:, 0] = t.tensor([1.0, 2.0, 3.0])
    return x


INPLACE = {
    "add_": _inplace(lambda t, x, d: x.add_(1)),
    "add_tensor_alpha": _inplace(lambda t, x, d: x.add_(T(t, d, "b"), alpha=-0.5)),
    "sub_": _inplace(lambda t, x, d: x.sub_(T(t, d, "b"))),
    "mul_": _inplace(lambda t, x, d: x.mul_(2)),
    "div_": _inplace(lambda t, x, d: x.div_(4)),
    "pow_": _inplace(lambda t, x, d: x.pow_(2)),
    "neg_": _inplace(lambda t, x, d: x.neg_()),
    "abs_": _inplace(lambda t, x, d: x.abs_()),
    "exp_": _inplace(lambda t, x, d: x.exp_()),
    "clamp_": _inplace(lambda t, x, d: x.clamp_(-0.2, 0.2)),
    "clamp_min_": _inplace(lambda t, x, d: x.clamp_(min=0)),
    "relu_": _inplace(lambda t, x, d: x.relu_()),
    "sigmoid_": _inplace(lambda t, x, d: x.sigmoid_()),
    "tanh_": _inplace(lambda t, x, d: x.tanh_()),
    "zero_": _inplace(lambda t, x, d: x.zero_()),
    "fill_": _inplace(lambda t, x, d: x.fill_(3.5)),
    "copy_": _inplace(lambda t, x, d: x.copy_(T(t, d, "b"))),
    "copy_broadcast": _inplace(lambda t, x, d: x.copy_(T(t, d, "v"))),
    "masked_fill_": _inplace(lambda t, x, d: x.masked_fill_(x > 0, 1.0)),
    "addcmul_": _inplace(lambda t, x, d: x.addcmul_(T(t, d, "b"), T(t, d, "b"), value=0.5)),
    "addcdiv_": _inplace(lambda t, x, d: x.addcdiv_(T(t, d, "b"), T(t, d, "p"), value=-0.1)),
    "lerp_": _inplace(lambda t, x, d: x.lerp_(T(t, d, "b"), 0.25)),
    "iadd": lambda t, d: (lambda x: (x.__iadd__(T(t, d, "b")), x)[1])(T(t, d, "a")),
    "imul_int": lambda t, d: (lambda x: (x.__imul__(3), x)[1])(T(t, d, "i")),
    "requires_grad_": lambda t, d: T(t, d, "a").requires_grad_().requires_grad,
    "no_grad_update": _no_grad_update,
    "manual_sgd": _manual_sgd,
    "inplace_on_graph": _inplace_on_graph,
    "residual_add": _residual_add,
    "relu_output_then_added_raises": _relu_output_then_added,
    "saved_then_modified_raises": _saved_then_modified,
    "output_saved_then_modified_raises": _output_saved_then_modified,
    "unsaved_then_modified": _unsaved_then_modified,
    "leaf_inplace_refused": _leaf_inplace_refused,
    "used_then_scaled_in_place": _used_then_scaled_in_place,
    "changed_twice": _changed_twice,
    "version_counter": _version,
    "view_shares_memory": _view_shares,
    "setitem": _setitem,
}

# --- autograd ------------------------------------------------------------------------------------
def _hook(t, d):
    x = T(t, d, "a", requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 10)
    seen = []
    x.register_hook(lambda g: seen.append(g.sum().item()))
    y.sum().backward()
    return x.grad, seen


def _leaf_hook_sees_the_total(t, d):
    x = T(t, d, "a", requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.clone()))
    x.register_hook(lambda g: g.clamp(max=1.5))  # not linear: must see the summed gradient once
    (x * 2 + x * x).sum().backward()
    return x.grad, seen


def _hook_removed(t, d):
    x = T(t, d, "a", requires_grad=True)
    handle = x.register_hook(lambda g: g * 0)
    handle.remove()
    (x * 3).sum().backward()
    return x.grad


def _retain_grad(t, d):
    x = T(t, d, "a", requires_grad=True)
    y = x.exp()
    y.retain_grad()
    (y * 3).sum().backward()
    return y.grad, x.grad


def _accumulate(t, d):
    x = T(t, d, "a", requires_grad=True)
    (x * 2).sum().backward()
    (x * x).sum().backward()
    return x.grad


def _grad_through_max(t, d):
    x = T(t, d, "ties", requires_grad=True)
    values, _ = x.max(dim=1)
    values.sum().backward()
    return x.grad


def _grad_through_full_max(t, d):
    x = T(t, d, "ties", requires_grad=True)
    x.max().backward()
    return x.grad


def _no_grad_flags(t, d):
    x = T(t, d, "a", requires_grad=True)
    with t.no_grad():
        y = x * 2
    with t.enable_grad():
        z = x * 2
    with t.inference_mode():
        w = x * 2
    with t.set_grad_enabled(False):
        u = x * 2
    return y.requires_grad, z.requires_grad, w.requires_grad, u.requires_grad, t.is_grad_enabled()


def _backward_gradient(t, d):
    x = T(t, d, "a", requires_grad=True)
    (x * 3).backward(T(t, d, "b"))
    return x.grad


AUTOGRAD = {
    "grad_mul": lambda t, d: _grad(t, d, lambda a, b: a * b, "a", "b"),
    "grad_div": lambda t, d: _grad(t, d, lambda a, p: a / p, "a", "p"),
    "grad_broadcast": lambda t, d: _grad(t, d, lambda a, v: a * v, "a", "v"),
    "grad_used_twice": lambda t, d: _grad(t, d, lambda a: a * a + a, "a"),
    "grad_matmul": lambda t, d: _grad(t, d, lambda a, c: a @ c, "a", "c"),
    "grad_mm": lambda t, d: _grad(t, d, lambda a, c: t.mm(a, c), "a", "c"),
    "grad_bmm": lambda t, d: _grad(t, d, lambda x, y: t.bmm(x, y), "x3", "y3"),
    "grad_einsum": lambda t, d: _grad(t, d, lambda x, y: t.einsum("bij,bjk->bik", x, y), "x3", "y3"),
    "grad_einsum_sum_inside": lambda t, d: _grad(t, d, lambda a, b: t.einsum("ij,ik->k", a, b), "a", "b"),
    "grad_var": lambda t, d: _grad(t, d, lambda a: a.var(1), "a"),
    "grad_std": lambda t, d: _grad(t, d, lambda a: a.std(), "a"),
    "grad_prod": lambda t, d: _grad(t, d, lambda p: p.prod(1), "p"),
    "grad_cumsum": lambda t, d: _grad(t, d, lambda a: a.cumsum(1) * a, "a"),
    "grad_norm": lambda t, d: _grad(t, d, lambda a: a.norm(dim=1), "a"),
    "grad_topk": lambda t, d: _grad(t, d, lambda a: a.topk(2, dim=1).values ** 2, "a"),
    "grad_sort": lambda t, d: _grad(t, d, lambda a: a.sort(0).values * t.arange(3.0).unsqueeze(1), "a"),
    "grad_gather": lambda t, d: _grad(t, d, lambda a: a.gather(1, t.tensor([[0, 0], [1, 3], [2, 2]])), "a"),
    "grad_masked_fill": lambda t, d: _grad(t, d, lambda a: a.masked_fill(a > 0, 2.0) * a, "a"),
    "grad_repeat": lambda t, d: _grad(t, d, lambda a: a.repeat(2, 3) * t.arange(72.0).view(6, 12), "a"),
    "grad_expand": lambda t, d: _grad(t, d, lambda v: v.expand(3, -1) * t.arange(12.0).view(3, 4), "v"),
    "grad_flip": lambda t, d: _grad(t, d, lambda a: a.flip(1) * t.arange(12.0).view(3, 4), "a"),
    "grad_clone": lambda t, d: _grad(t, d, lambda a: a.clone() * 3, "a"),
    "grad_index_select": lambda t, d: _grad(t, d, lambda a: a.index_select(1, t.tensor([0, 0, 2])), "a"),
    "grad_unbind": lambda t, d: _grad(t, d, lambda a: a.unbind(0)[1] * 2, "a"),
    "grad_chunk": lambda t, d: _grad(t, d, lambda a: a.chunk(2, dim=1)[0] * 3, "a"),
    "grad_softmax": lambda t, d: _grad(t, d, lambda a: t.softmax(a, dim=1) * t.arange(4.0), "a"),
    "grad_log_softmax": lambda t, d: _grad(t, d, lambda a: a.log_softmax(dim=0) * t.arange(4.0), "a"),
    "grad_gelu": lambda t, d: _grad(t, d, lambda a: t.nn.functional.gelu(a), "a"),
    "grad_softplus": lambda t, d: _grad(t, d, lambda a: t.nn.functional.softplus(a * 10), "a"),
    "grad_silu": lambda t, d: _grad(t, d, lambda a: t.nn.functional.silu(a), "a"),
    "grad_elu": lambda t, d: _grad(t, d, lambda a: t.nn.functional.elu(a), "a"),
    "hooks": _hook,
    "leaf_hook_sees_the_total": _leaf_hook_sees_the_total,
    "hook_removed": _hook_removed,
    "retain_grad": _retain_grad,
    "grads_accumulate": _accumulate,
    "grad_through_max_dim": _grad_through_max,
    "grad_through_full_max_ties": _grad_through_full_max,
    "grad_modes": _no_grad_flags,
    "backward_with_gradient": _backward_gradient,
}

# --- nn.functional -------------------------------------------------------------------------------
def _F(t):
    return t.nn.functional


FUNCTIONAL = {
    "softmax_dim1": lambda t, d: _F(t).softmax(T(t, d, "a"), dim=1),
    "softmax_dim0": lambda t, d: _F(t).softmax(T(t, d, "a"), dim=0),
    "softmax_positional": lambda t, d: _F(t).softmax(T(t, d, "x3"), 1),
    "softmax_method": lambda t, d: T(t, d, "x3").softmax(-1),
    "log_softmax": lambda t, d: _F(t).log_softmax(T(t, d, "a"), dim=1),
    "log_softmax_method": lambda t, d: T(t, d, "x3").log_softmax(dim=0),
    "relu": lambda t, d: _F(t).relu(T(t, d, "a")),
    "relu_inplace": lambda t, d: (lambda x: (_F(t).relu(x, inplace=True), x)[1])(T(t, d, "a")),
    "leaky_relu": lambda t, d: _F(t).leaky_relu(T(t, d, "a"), 0.2),
    "gelu": lambda t, d: _F(t).gelu(T(t, d, "a")),
    "gelu_tanh": lambda t, d: _F(t).gelu(T(t, d, "a"), approximate="tanh"),
    "silu": lambda t, d: _F(t).silu(T(t, d, "a")),
    "softplus": lambda t, d: _F(t).softplus(T(t, d, "a")),
    "softplus_beta": lambda t, d: _F(t).softplus(T(t, d, "a"), beta=2.0),
    "elu": lambda t, d: _F(t).elu(T(t, d, "a")),
    "sigmoid": lambda t, d: _F(t).sigmoid(T(t, d, "a")),
    "tanh": lambda t, d: _F(t).tanh(T(t, d, "a")),
    "linear": lambda t, d: _F(t).linear(T(t, d, "a"), T(t, d, "c").T, T(t, d, "c")[0]),
    "conv2d": lambda t, d: _F(t).conv2d(T(t, d, "img"), T(t, d, "img")[:, :, :3, :3].repeat(2, 1, 1, 1), padding=1),
    "max_pool2d": lambda t, d: _F(t).max_pool2d(T(t, d, "img"), 2),
    "avg_pool2d": lambda t, d: _F(t).avg_pool2d(T(t, d, "img"), 3, stride=1, padding=1),
    "adaptive_avg_pool2d_1": lambda t, d: _F(t).adaptive_avg_pool2d(T(t, d, "img"), 1),
    "adaptive_avg_pool2d_3": lambda t, d: _F(t).adaptive_avg_pool2d(T(t, d, "img"), (3, 3)),
    "adaptive_avg_pool2d_uneven": lambda t, d: _F(t).adaptive_avg_pool2d(T(t, d, "img"), (4, 5)),
    "dropout_eval": lambda t, d: _F(t).dropout(T(t, d, "a"), 0.5, training=False),
    "dropout_zero": lambda t, d: _F(t).dropout(T(t, d, "a"), p=0.0),
    "embedding": lambda t, d: _F(t).embedding(T(t, d, "labels"), T(t, d, "c")),
    "cross_entropy": lambda t, d: _F(t).cross_entropy(T(t, d, "a"), T(t, d, "labels")),
    "cross_entropy_ignores_minus_100": lambda t, d: _F(t).cross_entropy(T(t, d, "a"), T(t, d, "ignored")),
    "cross_entropy_sum": lambda t, d: _F(t).cross_entropy(T(t, d, "a"), T(t, d, "labels"), reduction="sum"),
    "cross_entropy_none": lambda t, d: _F(t).cross_entropy(T(t, d, "a"), T(t, d, "ignored"), reduction="none"),
    "cross_entropy_smoothing": lambda t, d: _F(t).cross_entropy(T(t, d, "a"), T(t, d, "labels"), label_smoothing=0.1),
    "cross_entropy_ignore_index": lambda t, d: _F(t).cross_entropy(T(t, d, "a"), T(t, d, "labels"), ignore_index=2),
    "cross_entropy_weight": lambda t, d: _F(t).cross_entropy(T(t, d, "a"), T(t, d, "ignored"),
                                                             weight=t.tensor([1.0, 2.0, 0.5, 3.0])),
    "cross_entropy_weight_sum": lambda t, d: _F(t).cross_entropy(T(t, d, "a"), T(t, d, "labels"),
                                                                 weight=t.tensor([1.0, 2.0, 0.5, 3.0]), reduction="sum"),
    "cross_entropy_weight_grad": lambda t, d: _grad(t, d, lambda a: _F(t).cross_entropy(
        a, T(t, d, "labels"), weight=t.tensor([0.3, 2.0, 0.5, 1.0])), "a"),
    "nll_loss_weight_none": lambda t, d: _F(t).nll_loss(T(t, d, "a").log_softmax(1), T(t, d, "ignored"),
                                                        weight=t.tensor([1.0, 2.0, 0.5, 3.0]), reduction="none"),
    "cross_entropy_grad": lambda t, d: _grad(t, d, lambda a: _F(t).cross_entropy(a, T(t, d, "ignored")), "a"),
    "nll_loss": lambda t, d: _F(t).nll_loss(_F(t).log_softmax(T(t, d, "a"), dim=1), T(t, d, "labels")),
    "nll_loss_ignores_minus_100": lambda t, d: _F(t).nll_loss(T(t, d, "a").log_softmax(1), T(t, d, "ignored")),
    "mse_loss": lambda t, d: _F(t).mse_loss(T(t, d, "a"), T(t, d, "b")),
    "mse_loss_sum": lambda t, d: _F(t).mse_loss(T(t, d, "a"), T(t, d, "b"), reduction="sum"),
    "l1_loss": lambda t, d: _F(t).l1_loss(T(t, d, "a"), T(t, d, "b")),
    "l1_loss_grad": lambda t, d: _grad(t, d, lambda a: _F(t).l1_loss(a, T(t, d, "b")), "a"),
    "smooth_l1_loss": lambda t, d: _F(t).smooth_l1_loss(T(t, d, "a"), T(t, d, "b"), beta=0.5),
    "huber_loss": lambda t, d: _F(t).huber_loss(T(t, d, "a"), T(t, d, "b"), delta=2.0),
    "bce": lambda t, d: _F(t).binary_cross_entropy(T(t, d, "p"), T(t, d, "target01")),
    "bce_grad": lambda t, d: _grad(t, d, lambda p: _F(t).binary_cross_entropy(p, T(t, d, "target01")), "p"),
    "bce_with_logits": lambda t, d: _F(t).binary_cross_entropy_with_logits(T(t, d, "a"), T(t, d, "target01")),
    "bce_with_logits_pos_weight": lambda t, d: _F(t).binary_cross_entropy_with_logits(
        T(t, d, "a"), T(t, d, "target01"), pos_weight=t.tensor([1.0, 2.0, 3.0, 0.5])),
    "kl_div_batchmean": lambda t, d: _F(t).kl_div(T(t, d, "a").log_softmax(1), T(t, d, "b").softmax(1),
                                                  reduction="batchmean"),
    "kl_div_log_target": lambda t, d: _F(t).kl_div(T(t, d, "a").log_softmax(1), T(t, d, "b").log_softmax(1),
                                                   reduction="sum", log_target=True),
}


# --- nn modules -----------------------------------------------------------------------------
def _mlp(t):
    t.manual_seed(0)
    net = t.nn.Sequential(t.nn.Linear(4, 8), t.nn.ReLU(), t.nn.Linear(8, 3))
    state = _fixed_state(net)
    net.load_state_dict({k: t.tensor(v) for k, v in state.items()})
    return net


def _fixed_state(net):
    rng = np.random.default_rng(3)
    return {k: rng.standard_normal(tuple(v.shape)).astype(np.float32) for k, v in net.state_dict().items()}


def _module_subclass(t):
    class Net(t.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = t.nn.Linear(4, 6)
            self.fc2 = t.nn.Linear(6, 3)

        def forward(self, x):
            return self.fc2(t.relu(self.fc1(x)))

    net = Net()
    net.load_state_dict({k: t.tensor(v) for k, v in _fixed_state(net).items()})
    return net


def _training_loop(t, d, loss_name="CrossEntropyLoss", optimizer="SGD"):
    net = _module_subclass(t)
    opts = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=0.01), "AdamW": dict(lr=0.01, weight_decay=0.1),
            "RMSprop": dict(lr=0.01)}
    opt = getattr(t.optim, optimizer)(net.parameters(), **opts[optimizer])
    criterion = getattr(t.nn, loss_name)()
    x, y = T(t, d, "a"), T(t, d, "labels")
    losses = []
    for _ in range(5):
        opt.zero_grad()
        out = net(x)
        loss = criterion(out, y if loss_name == "CrossEntropyLoss" else t.nn.functional.one_hot(y, 3).float())
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, net.fc1.weight.detach(), [p.grad for p in net.parameters()]


def _zero_grad_none(t, d):
    net = _mlp(t)
    net(T(t, d, "a")).sum().backward()
    net.zero_grad()
    return [p.grad is None for p in net.parameters()]


def _zero_grad_zeros(t, d):
    net = _mlp(t)
    net(T(t, d, "a")).sum().backward()
    net.zero_grad(set_to_none=False)
    return [p.grad for p in net.parameters()]


def _optimizer_zero_grad(t, d):
    net = _mlp(t)
    opt = t.optim.SGD(net.parameters(), lr=0.1)
    net(T(t, d, "a")).sum().backward()
    opt.zero_grad()
    return [p.grad is None for p in net.parameters()]


def _state_dict_tensors(t, d):
    net = _mlp(t)
    state = net.state_dict()
    shares = state["0.weight"].data_ptr() == net[0].weight.data_ptr() if t is torch else \
        np.shares_memory(state["0.weight"].data, net[0].weight.data)
    return list(state), [t.is_tensor(v) for v in state.values()], [v.requires_grad for v in state.values()], shares


def _forward_hook(t, d):
    net = _mlp(t)
    seen = []
    handle = net[1].register_forward_hook(lambda m, inputs, output: seen.append(output.detach().sum().item()))
    net(T(t, d, "a"))
    handle.remove()
    net(T(t, d, "a"))
    return seen


def _forward_hook_replaces(t, d):
    net = _mlp(t)
    net[1].register_forward_hook(lambda m, inputs, output: output * 0)
    return net(T(t, d, "a"))


def _pre_hook(t, d):
    net = _mlp(t)
    net[0].register_forward_pre_hook(lambda m, inputs: (inputs[0] * 2,))
    return net(T(t, d, "a"))


def _module_dict(t):
    md = t.nn.ModuleDict({"a": t.nn.Linear(2, 3), "b": t.nn.ReLU()})
    md["c"] = t.nn.Linear(3, 1)
    return list(md.keys()), len(md), "b" in md, [n for n, _ in md.named_parameters()]


def _conv_same(t, d):
    t.manual_seed(0)
    conv = t.nn.Conv2d(3, 4, 3, padding="same")
    conv.load_state_dict({k: t.tensor(v) for k, v in _fixed_state(conv).items()})
    return conv(T(t, d, "img"))


def _conv_valid(t, d):
    conv = t.nn.Conv2d(3, 2, 5, padding="valid", dilation=1)
    conv.load_state_dict({k: t.tensor(v) for k, v in _fixed_state(conv).items()})
    return conv(T(t, d, "img"))


def _adaptive_pool_net(t, d):
    t.manual_seed(0)
    net = t.nn.Sequential(t.nn.Conv2d(3, 4, 3), t.nn.AdaptiveAvgPool2d((1, 1)), t.nn.Flatten(), t.nn.Linear(4, 2))
    net.load_state_dict({k: t.tensor(v) for k, v in _fixed_state(net).items()})
    return net(T(t, d, "img"))


def _loss_module(name, kwargs=None, inputs=("a", "labels"), transform=None):
    def snippet(t, d):
        a = T(t, d, inputs[0], requires_grad=True)
        b = T(t, d, inputs[1])
        if transform is not None:
            a2 = transform(t, a)
        else:
            a2 = a
        options = {k: t.tensor(v) if isinstance(v, np.ndarray) else v for k, v in (kwargs or {}).items()}
        loss = getattr(t.nn, name)(**options)(a2, b)
        loss.sum().backward()
        return loss, a.grad
    return snippet


def _bn_train_eval(t, d):
    bn = t.nn.BatchNorm1d(4)
    bn.train()
    y = bn(T(t, d, "a"))
    bn.eval()
    return y, bn(T(t, d, "b")), bn.running_mean, bn.running_var


def _parameters_count(t, d):
    net = _mlp(t)
    return sum(p.numel() for p in net.parameters()), sum(p.numel() for p in net.parameters() if p.requires_grad)


def _named_modules(t, d):
    net = _mlp(t)
    return [n for n, _ in net.named_modules()], [n for n, _ in net.named_parameters()]


def _train_eval_flags(t, d):
    net = t.nn.Sequential(t.nn.Dropout(0.5), t.nn.Linear(2, 2))
    net.eval()
    flags = [m.training for m in net.modules()]
    net.train()
    return flags, [m.training for m in net.modules()]


def _freeze(t, d):
    net = _mlp(t)
    for p in net[0].parameters():
        p.requires_grad = False
    net(T(t, d, "a")).sum().backward()
    return net[0].weight.grad is None, net[2].weight.grad


def _double(t, d):
    net = _mlp(t).double()
    return net[0].weight.dtype, net(T(t, d, "a").double())


def _schedule(name, **kwargs):
    def snippet(t, d):
        w = T(t, d, "v", requires_grad=True)
        opt = t.optim.SGD([w], lr=0.5, momentum=0.9)
        sched = getattr(t.optim.lr_scheduler, name)(opt, **kwargs)
        lrs = []
        for _ in range(6):
            (w * w).sum().backward()
            opt.step()
            opt.zero_grad()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        return lrs, w.detach()
    return snippet


def _optimizer_step(name, **kwargs):
    def snippet(t, d):
        w = T(t, d, "a", requires_grad=True)
        b = T(t, d, "v", requires_grad=True)
        opt = getattr(t.optim, name)([{"params": [w]}, {"params": [b], "lr": 0.05}], lr=0.1, **kwargs)
        for _ in range(4):
            opt.zero_grad()
            ((w @ T(t, d, "c")).sum() + (b ** 2).sum()).backward()
            opt.step()
        return w.detach(), b.detach(), [g["lr"] for g in opt.param_groups]
    return snippet


OPTIM = {
    "StepLR": _schedule("StepLR", step_size=2, gamma=0.5),
    "ExponentialLR": _schedule("ExponentialLR", gamma=0.9),
    "CosineAnnealingLR": _schedule("CosineAnnealingLR", T_max=4),
    "SGD_groups": _optimizer_step("SGD"),
    "SGD_nesterov_decay": _optimizer_step("SGD", momentum=0.9, nesterov=True, weight_decay=0.01),
    "Adam_groups": _optimizer_step("Adam"),
    "Adam_betas_decay": _optimizer_step("Adam", betas=(0.8, 0.99), weight_decay=0.1),
    "AdamW": _optimizer_step("AdamW", weight_decay=0.05),
    "RMSprop": _optimizer_step("RMSprop", alpha=0.9),
    "RMSprop_momentum": _optimizer_step("RMSprop", momentum=0.5),
    "Adagrad": _optimizer_step("Adagrad"),
}


def _clipped_gradients(t, d):
    """An RNN tutorial's step: backward, torch.nn.utils.clip_grad_norm_, the returned norm."""
    net = _mlp(t)
    (net(T(t, d, "a")) ** 2).sum().backward()
    norm = t.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
    t.nn.utils.clip_grad_value_(net.parameters(), 0.01)
    return norm, *(p.grad for p in net.parameters())


MODULES = {
    "sequential_forward": lambda t, d: _mlp(t)(T(t, d, "a")),
    "nn_utils_clip_grad_norm": _clipped_gradients,
    "module_subclass": lambda t, d: _module_subclass(t)(T(t, d, "a")),
    "train_sgd_cross_entropy": lambda t, d: _training_loop(t, d),
    "train_adam_cross_entropy": lambda t, d: _training_loop(t, d, optimizer="Adam"),
    "train_adamw_mse": lambda t, d: _training_loop(t, d, "MSELoss", "AdamW"),
    "train_rmsprop_bce_logits": lambda t, d: _training_loop(t, d, "BCEWithLogitsLoss", "RMSprop"),
    "train_sgd_l1": lambda t, d: _training_loop(t, d, "L1Loss"),
    "zero_grad_sets_none": _zero_grad_none,
    "zero_grad_set_to_none_false": _zero_grad_zeros,
    "optimizer_zero_grad": _optimizer_zero_grad,
    "state_dict_tensors": _state_dict_tensors,
    "forward_hook": _forward_hook,
    "forward_hook_replaces_output": _forward_hook_replaces,
    "forward_pre_hook": _pre_hook,
    "module_dict": lambda t, d: _module_dict(t),
    "conv_same": _conv_same,
    "conv_valid": _conv_valid,
    "adaptive_avg_pool_net": _adaptive_pool_net,
    "batchnorm_train_eval": _bn_train_eval,
    "parameter_count": _parameters_count,
    "named_modules": _named_modules,
    "train_eval_flags": _train_eval_flags,
    "freeze_first_layer": _freeze,
    "double": _double,
    "CrossEntropyLoss": _loss_module("CrossEntropyLoss"),
    "CrossEntropyLoss_ignored": _loss_module("CrossEntropyLoss", inputs=("a", "ignored")),
    "CrossEntropyLoss_smoothing": _loss_module("CrossEntropyLoss", {"label_smoothing": 0.2}),
    "CrossEntropyLoss_none": _loss_module("CrossEntropyLoss", {"reduction": "none"}),
    "CrossEntropyLoss_weight": _loss_module("CrossEntropyLoss", {"weight": np.array([1.0, 3.0, 0.5, 2.0], np.float32)}),
    "NLLLoss": _loss_module("NLLLoss", transform=lambda t, a: a.log_softmax(dim=1)),
    "MSELoss": _loss_module("MSELoss", inputs=("a", "b")),
    "MSELoss_sum": _loss_module("MSELoss", {"reduction": "sum"}, inputs=("a", "b")),
    "L1Loss": _loss_module("L1Loss", inputs=("a", "b")),
    "SmoothL1Loss": _loss_module("SmoothL1Loss", {"beta": 0.3}, inputs=("a", "b")),
    "HuberLoss": _loss_module("HuberLoss", {"delta": 0.5}, inputs=("a", "b")),
    "BCELoss": _loss_module("BCELoss", inputs=("p", "target01")),
    "BCEWithLogitsLoss": _loss_module("BCEWithLogitsLoss", inputs=("a", "target01")),
    "KLDivLoss": _loss_module("KLDivLoss", {"reduction": "batchmean"}, inputs=("a", "p"),
                              transform=lambda t, a: a.log_softmax(1)),
}


# --- data, save/load, devices, seeds ----------------------------------------------------------
def _loader_default(t, d):
    ds = t.utils.data.TensorDataset(T(t, d, "a"), T(t, d, "labels"))
    batches = list(t.utils.data.DataLoader(ds))
    return len(batches), batches[0], batches[-1]


def _loader_batches(t, d):
    ds = t.utils.data.TensorDataset(T(t, d, "x3").view(-1, 4), t.arange(6))
    return [tuple(b) for b in t.utils.data.DataLoader(ds, batch_size=4)]


def _loader_drop_last(t, d):
    ds = t.utils.data.TensorDataset(t.arange(10))
    loader = t.utils.data.DataLoader(ds, batch_size=3, drop_last=True)
    return len(loader), [b for (b,) in loader]


def _tensor_dataset_three(t, d):
    ds = t.utils.data.TensorDataset(T(t, d, "a"), T(t, d, "b"), T(t, d, "labels"))
    return len(ds), ds[1]


class _Squares:
    """A map-style dataset returning Python numbers (collated into tensors)."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return i, float(i * i)


def _custom_dataset(t, d):
    base = type("Squares", (_Squares, t.utils.data.Dataset), {})
    return list(t.utils.data.DataLoader(base(), batch_size=2))


def _shuffle_covers(t, d):
    ds = t.utils.data.TensorDataset(t.arange(8))
    seen = t.cat([b for (b,) in t.utils.data.DataLoader(ds, batch_size=3, shuffle=True)])
    return seen.sort().values


def _random_split(t, d):
    ds = t.utils.data.TensorDataset(t.arange(10))
    parts = t.utils.data.random_split(ds, [7, 3], generator=t.Generator().manual_seed(0))
    return [len(p) for p in parts], sorted(int(x) for p in parts for (x,) in p)


def _collate_fn(t, d):
    ds = t.utils.data.TensorDataset(T(t, d, "a"))
    loader = t.utils.data.DataLoader(ds, batch_size=2, collate_fn=lambda samples: len(samples))
    return list(loader)


def _save_load_state(t, d, tmp):
    net = _mlp(t)
    t.save(net.state_dict(), tmp / "net.pt")
    fresh = t.nn.Sequential(t.nn.Linear(4, 8), t.nn.ReLU(), t.nn.Linear(8, 3))
    result = fresh.load_state_dict(t.load(tmp / "net.pt"))
    return fresh(T(t, d, "a")), list(result.missing_keys), list(result.unexpected_keys)


def _save_load_tensor(t, d, tmp):
    t.save(T(t, d, "i"), tmp / "x.pt")
    return t.load(tmp / "x.pt")


def _save_load_checkpoint(t, d, tmp):
    net = _mlp(t)
    opt = t.optim.Adam(net.parameters(), lr=0.01)
    net(T(t, d, "a")).sum().backward()
    opt.step()
    t.save({"epoch": 3, "model": net.state_dict(), "loss": 0.25, "optimizer": opt.state_dict()}, tmp / "c.pt")
    ckpt = t.load(tmp / "c.pt")
    fresh = t.nn.Sequential(t.nn.Linear(4, 8), t.nn.ReLU(), t.nn.Linear(8, 3))
    fresh.load_state_dict(ckpt["model"])
    opt2 = t.optim.Adam(fresh.parameters(), lr=0.01)
    opt2.load_state_dict(ckpt["optimizer"])
    fresh(T(t, d, "a")).sum().backward()
    opt2.step()
    return ckpt["epoch"], ckpt["loss"], fresh[0].weight.detach()


def _seeded(t, d):
    t.manual_seed(123)
    a = t.randn(5)
    t.manual_seed(123)
    return bool((a == t.randn(5)).all())


def _generator(t, d):
    g1, g2 = t.Generator().manual_seed(7), t.Generator().manual_seed(7)
    return bool((t.rand(4, generator=g1) == t.rand(4, generator=g2)).all()), \
        bool((t.randperm(9, generator=g1) == t.randperm(9, generator=g2)).all())


def _device(t, d):
    device = t.device("cuda" if t.cuda.is_available() else "cpu")
    x = T(t, d, "a").to(device)
    return x.device.type, x.cpu(), T(t, d, "a").to(x).dtype


MISC = {
    "loader_default_batch_size_1": _loader_default,
    "loader_batches": _loader_batches,
    "loader_drop_last": _loader_drop_last,
    "tensor_dataset_three": _tensor_dataset_three,
    "custom_dataset_numbers": _custom_dataset,
    "shuffle_covers_all": _shuffle_covers,
    "random_split_generator": _random_split,
    "collate_fn": _collate_fn,
    "manual_seed_repeats": _seeded,
    "generator_streams": _generator,
    "device_cpu": _device,
    "cuda_available_is_bool": lambda t, d: type(t.cuda.is_available()),
}
FILES = {"save_load_state_dict": _save_load_state, "save_load_tensor": _save_load_tensor,
         "save_load_checkpoint": _save_load_checkpoint}

GROUPS = {"creation": CREATION, "arithmetic": ARITHMETIC, "reductions": REDUCTIONS, "shapes": SHAPES,
          "inplace": INPLACE, "autograd": AUTOGRAD, "functional": FUNCTIONAL, "modules": MODULES, "optim": OPTIM,
          "misc": MISC}


def _cases(group):
    return pytest.mark.parametrize("snippet", list(GROUPS[group].values()), ids=list(GROUPS[group]))


@_cases("creation")
def test_creation_and_dtypes(snippet):
    _run(snippet)


@_cases("arithmetic")
def test_arithmetic_and_promotion(snippet):
    _run(snippet)


@_cases("reductions")
def test_reductions(snippet):
    _run(snippet)


@_cases("shapes")
def test_shapes_joining_indexing(snippet):
    _run(snippet)


@_cases("inplace")
def test_inplace(snippet):
    _run(snippet)


@_cases("autograd")
def test_autograd(snippet):
    _run(snippet)


@_cases("functional")
def test_functional(snippet):
    _run(snippet)


@_cases("modules")
def test_modules_losses_optimizers(snippet):
    _run(snippet)


@_cases("optim")
def test_optimizers_and_schedules(snippet):
    _run(snippet)


@_cases("misc")
def test_data_seeds_devices(snippet):
    _run(snippet)


@pytest.mark.parametrize("snippet", list(FILES.values()), ids=list(FILES))
def test_save_and_load(snippet, tmp_path):
    (tmp_path / "torch").mkdir()
    (tmp_path / "profondo").mkdir()
    theirs = _plain(snippet(torch, {k: v.copy() for k, v in DATA.items()}, tmp_path / "torch"))
    ours = _plain(snippet(profondo, {k: v.copy() for k, v in DATA.items()}, tmp_path / "profondo"))
    _same(ours, theirs)


def test_module_paths():
    import profondo.nn.functional as F
    import profondo.utils.data as data

    assert F.cross_entropy is not None and data.DataLoader is profondo.data.DataLoader
    assert profondo.autograd.Function is profondo.Function and callable(profondo.cuda.is_available)


def test_load_reads_a_pytorch_file_without_running_code(tmp_path):
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    torch.save(theirs.state_dict(), tmp_path / "torch.pt")
    ours = profondo.nn.Sequential(profondo.nn.Linear(4, 8), profondo.nn.ReLU(), profondo.nn.Linear(8, 3))
    state = profondo.load(tmp_path / "torch.pt")
    assert all(isinstance(v, profondo.Tensor) for v in state.values())
    ours.load_state_dict(state)
    x = DATA["a"]
    np.testing.assert_allclose(ours(profondo.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_a_view_of_a_tensor_changed_in_place_refuses_backward():
    """PyTorch's views follow their base's in-place changes in values and gradients; profondo's
    view shares the values but not the graph, so backward through it raises rather than differ."""
    x = profondo.tensor(DATA["a"], requires_grad=True)
    y = x * 2
    view = y.reshape(-1)
    y.add_(1)
    with pytest.raises(RuntimeError, match="made a view of a tensor .* changed by an inplace operation"):
        view.sum().backward()


def test_a_module_is_not_saved_as_code(tmp_path):
    with pytest.raises(TypeError, match=r"save model.state_dict\(\)"):
        profondo.save(profondo.nn.Linear(2, 2), tmp_path / "m.pt")


def test_snippet_count():
    """A few hundred snippets, as the issue asks."""
    assert sum(len(g) for g in GROUPS.values()) + len(FILES) >= 300
