"""Shape operators: reshape, transpose/permute, broadcast_to, squeeze/unsqueeze, flatten, concat,
stack, split, pad, indexing and gather."""

import numpy as np
import pytest

import profondo
import profondo.functional as F
from tests.functional.harness import Case, operator_tests

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # parity tests skip without torch
    torch = TF = None

REPEATS = np.array([0, 2, 0, 0, 1])
GATHER_INDEX = np.array([[2, 0, 2], [1, 1, 0]])
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])


def _t(a):
    return torch.from_numpy(a)


def _torch_pad(x, widths):
    """NumPy (before, after) pairs per axis -> torch's flat list, last axis first."""
    return TF.pad(x, [w for pair in reversed(widths) for w in pair])


CASES = [
    Case("reshape", lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1), [(2, 3, 4)]),
    Case("reshape_tuple", lambda x: F.reshape(x, (3, 8)), lambda x: x.reshape(3, 8), [(2, 3, 4)]),
    Case("view_noncontiguous", lambda x: x.T.reshape(-1), lambda x: x.T.reshape(-1), [(3, 4)]),
    Case("reshape_empty", lambda x: x.reshape(3, 0), lambda x: x.reshape(3, 0), [(0, 3)]),
    Case("transpose_pair", lambda x: F.transpose(x, 0, 2), lambda x: x.transpose(0, 2), [(2, 3, 4)]),
    Case("transpose_reverse", lambda x: F.transpose(x), lambda x: x.permute(2, 1, 0), [(2, 3, 4)]),
    Case("T", lambda x: x.T * 2, lambda x: x.T * 2, [(3, 4)]),
    Case("permute", lambda x: x.permute(1, 2, 0), lambda x: x.permute(1, 2, 0), [(2, 3, 4)]),
    Case("permute_negative", lambda x: F.permute(x, (0, -1, 1)), lambda x: x.permute(0, -1, 1), [(2, 3, 4)]),
    Case("permute_same_tensor", lambda x: x + x.T, lambda x: x + x.T, [(3, 3)]),
    Case("broadcast_to", lambda x: F.broadcast_to(x, (2, 3, 4)), lambda x: x.broadcast_to(2, 3, 4), [(3, 1)]),
    Case("expand", lambda x: x.expand(2, 4) * x, lambda x: x.expand(2, 4) * x, [(1, 4)]),
    Case("squeeze_all", lambda x: x.squeeze(), lambda x: x.squeeze(), [(1, 3, 1, 2)]),
    Case("squeeze_axis", lambda x: F.squeeze(x, 2), lambda x: x.squeeze(2), [(1, 3, 1, 2)]),
    Case("unsqueeze", lambda x: x.unsqueeze(1) * F.unsqueeze(x, -1), lambda x: x.unsqueeze(1) * x.unsqueeze(-1), [(3,)]),
    Case("flatten", lambda x: x.flatten(), lambda x: x.flatten(), [(2, 3, 4)]),
    Case("flatten_range", lambda x: F.flatten(x, 1, 2), lambda x: x.flatten(1, 2), [(2, 3, 4, 2)]),
    Case("flatten_strided", lambda x: x[:, ::2].flatten(1), lambda x: x[:, ::2].flatten(1), [(2, 6, 2)]),
    Case("concat", lambda a, b: F.concat([a, b], axis=1), lambda a, b: torch.cat([a, b], dim=1), [(2, 3), (2, 2)]),
    Case("concat_negative_axis", lambda a, b, c: F.cat([a, b, c], axis=-1), lambda a, b, c: torch.cat([a, b, c], -1),
                                 [(2, 1), (2, 3), (2, 2)]),
    Case("concat_same_tensor", lambda a: F.concat([a, a * 2, a]), lambda a: torch.cat([a, a * 2, a]), [(2, 3)]),
    Case("concat_empty_piece", lambda a, b: F.concat([a, b]), lambda a, b: torch.cat([a, b]), [(0, 3), (2, 3)]),
    Case("stack", lambda a, b: F.stack([a, b]), lambda a, b: torch.stack([a, b]), [(2, 3), (2, 3)]),
    Case("stack_last_axis", lambda a, b: F.stack([a, b.T], axis=-1), lambda a, b: torch.stack([a, b.T], -1), [(2, 3), (3, 2)]),
    Case("chunk_equal", lambda x: F.chunk(x, 3, axis=1), lambda x: torch.chunk(x, 3, dim=1), [(2, 6)]),
    Case("split_size_uneven", lambda x: F.split(x, 2, axis=1), lambda x: torch.split(x, 2, dim=1), [(2, 5)]),
    Case("split_sizes", lambda x: F.split(x, [1, 3], axis=0), lambda x: torch.split(x, [1, 3], dim=0), [(4, 2)]),
    Case("split_some_outputs_used", lambda x: F.chunk(x, 3)[1] * 2, lambda x: torch.chunk(x, 3)[1] * 2, [(6, 2)]),
    Case("split_output_used_twice", lambda x: (lambda p: p[0] * p[0] + p[2])(F.chunk(x, 3, axis=-1)),
                                    lambda x: (lambda p: p[0] * p[0] + p[2])(torch.chunk(x, 3, -1)), [(2, 3)]),
    Case("pad", lambda x: F.pad(x, ((0, 0), (1, 2), (2, 0))), lambda x: _torch_pad(x, ((0, 0), (1, 2), (2, 0))), [(2, 3, 2)]),
    Case("pad_value", lambda x: F.pad(x, ((1, 1),), value=3.0), lambda x: TF.pad(x, [1, 1], value=3.0), [(4,)]),
    Case("pad_transposed", lambda x: F.pad(x.T, ((1, 0), (0, 1))), lambda x: _torch_pad(x.T, ((1, 0), (0, 1))), [(2, 3)]),
    Case("getitem_int", lambda x: x[1], lambda x: x[1], [(3, 4)]),
    Case("getitem_slices", lambda x: x[1:, ::2], lambda x: x[1:, ::2], [(3, 5)]),
    Case("getitem_negative_step", lambda x: x[::-1, ::-2], lambda x: x.flip(0, 1)[:, ::2], [(3, 5)]),
    Case("getitem_none_ellipsis", lambda x: x[None, ..., 1], lambda x: x[None, ..., 1], [(2, 3, 4)]),
    Case("getitem_int_array_repeats", lambda x: x[REPEATS], lambda x: x[_t(REPEATS)], [(3, 2)]),
    Case("getitem_mixed", lambda x: x[1:, REPEATS], lambda x: x[1:, _t(REPEATS)], [(3, 4)]),
    Case("getitem_two_arrays", lambda x: x[REPEATS[:3], [1, 1, 0]], lambda x: x[_t(REPEATS[:3]), [1, 1, 0]], [(3, 2)]),
    Case("getitem_bool_mask", lambda x: x[MASK], lambda x: x[_t(MASK)], [(3, 4)]),
    Case("getitem_tensor_mask", lambda x: x[x > 0] * 2, lambda x: x[x > 0] * 2, [(3, 4)]),
    Case("getitem_same_tensor", lambda x: x[0] * x[:, 1], lambda x: x[0] * x[:, 1], [(3, 3)]),
    Case("getitem_empty_slice", lambda x: x[2:2], lambda x: x[2:2], [(3, 2)]),
    Case("gather", lambda x: F.gather(x, 1, GATHER_INDEX), lambda x: torch.gather(x, 1, _t(GATHER_INDEX)), [(2, 3)]),
    Case("gather_axis0", lambda x: F.gather(x, 0, GATHER_INDEX[:, :2]), lambda x: torch.gather(x, 0, _t(GATHER_INDEX[:, :2])),
                         [(3, 2)]),
    Case("gather_transposed", lambda x: F.gather(x.T, 1, GATHER_INDEX), lambda x: torch.gather(x.T, 1, _t(GATHER_INDEX)),
                              [(3, 2)]),
    # Indices made on the input's device: a case that runs unchanged on every device.
    Case("getitem_gather_on_device", lambda x: x[[0, 0, 2]][:, ::-1] + F.gather(x[:3], 1, profondo.zeros(3, 5, dtype="int64", device=x.device)),
         lambda x: x[[0, 0, 2]].flip(1) + torch.gather(x[:3], 1, torch.zeros(3, 5, dtype=torch.int64)), [(4, 5)]),
]


# PyTorch's ordering and tiling operators: values (distinct random inputs, so no ties), through
# transposed (non-contiguous) inputs, and a tensor used twice.
CASES += [
    Case("topk", lambda x: F.topk(x, 2, dim=1).values, lambda x: torch.topk(x, 2, dim=1).values, [(3, 5)]),
    Case("topk_smallest_dim0", lambda x: F.topk(x, 2, 0, largest=False).values,
         lambda x: torch.topk(x, 2, 0, largest=False).values, [(4, 3)]),
    Case("topk_transposed", lambda x: F.topk(x.T, 3).values, lambda x: torch.topk(x.T, 3).values, [(5, 2)]),
    Case("sort", lambda x: F.sort(x, 1).values, lambda x: torch.sort(x, 1).values, [(3, 4)]),
    Case("sort_descending_twice", lambda x: F.sort(x, 0, descending=True).values * x,
         lambda x: torch.sort(x, 0, descending=True).values * x, [(4, 3)]),
    Case("repeat", lambda x: F.repeat(x, 2, 3), lambda x: x.repeat(2, 3), [(2, 3)]),
    Case("repeat_new_axes", lambda x: F.repeat(x, 2, 1, 2), lambda x: x.repeat(2, 1, 2), [(3, 2)]),
    Case("repeat_transposed", lambda x: F.repeat(x.T, 1, 2), lambda x: x.T.repeat(1, 2), [(2, 3)]),
    Case("flip", lambda x: F.flip(x, (0, 2)), lambda x: torch.flip(x, (0, 2)), [(2, 3, 4)]),
    Case("flip_times_input", lambda x: F.flip(x, 1) * x, lambda x: torch.flip(x, (1,)) * x, [(3, 4)]),
    Case("clone_twice", lambda x: F.clone(x) * x, lambda x: x.clone() * x, [(3, 4)]),
    Case("index_select", lambda x: F.index_select(x, 1, np.array([0, 2, 2])),
         lambda x: torch.index_select(x, 1, torch.tensor([0, 2, 2])), [(3, 4)]),
    Case("unbind", lambda x: F.unbind(x, 1), lambda x: torch.unbind(x, 1), [(2, 3)]),
    Case("pad_torch_form", lambda x: F.pad(x, (1, 2, 0, 1)), lambda x: TF.pad(x, (1, 2, 0, 1)), [(2, 3, 4)]),
    Case("chunk_dim", lambda x: F.chunk(x, 3, dim=1), lambda x: torch.chunk(x, 3, dim=1), [(2, 7)]),
    Case("cat_dim", lambda a, b: F.cat([a, b], dim=1), lambda a, b: torch.cat([a, b], dim=1), [(2, 3), (2, 2)]),
]

test_gradcheck, test_parity, test_float32 = operator_tests(CASES)


def test_split_unused_outputs_get_zero_gradient():
    x = profondo.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    _, middle, _ = F.chunk(x, 3)
    (middle * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [3, 3], [0, 0]])


def test_getitem_repeated_indices_add_up():
    x = profondo.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 0, 1])


@pytest.mark.parametrize("call, message", [
    (lambda: profondo.ones(2, 3).reshape(4, 2), r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"),
    (lambda: F.permute(profondo.ones(2, 3), (0, 0)), r"permute: expected a permutation of \[0, 1\], received \[0, 0\]"),
    (lambda: F.broadcast_to(profondo.ones(2, 3), (3, 3)), r"broadcast_to: a tensor of shape \(2, 3\) cannot be broadcast to \(3, 3\)"),
    (lambda: F.concat([profondo.ones(2, 3), profondo.ones(3, 3)], axis=1), r"concat: input 1 has shape \(3, 3\), expected \(2, 3\)"),
    (lambda: F.stack([profondo.ones(2), profondo.ones(3)]), r"stack: input 1 has shape \(3,\), expected \(2,\)"),
    (lambda: F.split(profondo.ones(5), 0), r"split: the piece size must be a positive integer, received 0"),
    (lambda: F.split(profondo.ones(5), [2, 2]), r"split: sizes \[2, 2\] add up to 4, axis 0 has 5"),
    (lambda: F.pad(profondo.ones(2, 3), ((1, 1),)), r"pad: expected 2 \(before, after\) pairs for a tensor of shape \(2, 3\), received 1"),
    (lambda: F.gather(profondo.ones(2, 3), 1, np.zeros(2, np.int64)), r"gather: index has 1 dimensions, the input 2"),
])
def test_errors_name_operator_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_index_out_of_range_names_the_shape():
    with pytest.raises(IndexError, match=r"indexing a tensor of shape \(2, 3\)"):
        profondo.ones(2, 3)[5]
