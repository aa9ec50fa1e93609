"""One operator test harness: each operator's cases are declared once, in a table of ``Case``s,
and the harness derives every check from the table, on every available device.

A test file declares its table and asks for the generated tests::

    CASES = [
        Case("relu", F.relu, lambda x: TF.relu(x), lambda r: [away_from_zero(r, 3, 4)]),
        Case("add_broadcast", lambda a, b: a + b, lambda a, b: a + b, [(2, 3, 4), (3, 1)]),
    ]
    test_gradcheck, test_parity, test_float32 = operator_tests(CASES)

For every case and every device in ``DEVICES`` ("cpu" always, "cuda" when
``profondo.cuda_available()``) the harness runs:

- ``test_gradcheck``: ``profondo.gradcheck`` by central differences in float64 (on a device
  other than the CPU: its float64 outputs and gradients against the CPU's);
- ``test_parity``: PyTorch (float32, on the CPU) against profondo (float32, on the device):
  every output and the gradient of every differentiable input, for the same random
  projection of the outputs. Skips when torch is missing; not generated without a PyTorch
  counterpart;
- ``test_float32``: float32 inputs give float32 outputs and gradients (no silent float64).

``test_gradcheck`` and ``test_parity`` run at second order too (ids ending ``-order2``): the
gradients taken with ``create_graph=True`` are differentiated again, checked by
``profondo.gradgradcheck`` in float64 (fast_mode: one random direction per input) and against ``torch.autograd.grad(..., create_graph=True)``
in float32 (first and second derivatives, with respect to the inputs and to the vector of the
vector-Jacobian product). A case that cannot be checked at second order says why in
``double_backward`` (a string); there is no silent skip.

Inputs are arrays: float arrays are the operator's differentiable inputs unless the case
names a subset in ``differentiable``; integer arrays (labels, indices) are constants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

import profondo
from tests.conftest import ATOL, RTOL, randn

# Every device this machine has: on a GPU machine each operator case also runs on "cuda".
DEVICES: list[str] = ["cpu"] + (["cuda"] if profondo.cuda_available() else [])

InputMaker = Callable[[np.random.Generator], Sequence[np.ndarray]]


@dataclass(frozen=True)
class Case:
    """One operator case: what to run, on which inputs, against what.

    ``inputs`` is either a function of a NumPy generator returning the input arrays, or a list
    of shapes (standard normal float32 arrays drawn in order). ``torch_fn`` is the PyTorch
    counterpart taking torch tensors (None: no parity test for this case).
    """

    name: str
    fn: Callable
    torch_fn: Callable | None
    inputs: InputMaker | Sequence[tuple[int, ...]]
    atol: float = ATOL
    rtol: float = RTOL
    # Indices of the float inputs that are differentiable (None: every float input).
    differentiable: tuple[int, ...] | None = None
    # False where central differences do not apply (ties, kinks, a frozen row): say why next to it.
    gradcheck: bool = True
    gradcheck_options: dict = field(default_factory=dict)
    # Second order (gradients of gradients): True, or the reason (a string) why this case is not
    # checked at second order.
    double_backward: bool | str = True
    seed: int = 0

    def arrays(self) -> list[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        if callable(self.inputs):
            return list(self.inputs(rng))
        if not all(isinstance(shape, tuple) for shape in self.inputs):
            raise TypeError(f"Case {self.name!r}: inputs must be a function of a generator or a list of shape "
                            f"tuples, received {self.inputs!r}")
        return [randn(rng, *shape) for shape in self.inputs]

    def wants_grad(self, index: int, array: np.ndarray) -> bool:
        if array.dtype.kind != "f":
            return False
        return self.differentiable is None or index in self.differentiable


def _outputs(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _projections(outs: Sequence[np.ndarray], seed: int) -> list[np.ndarray]:
    """Fixed random weights that turn the outputs into one scalar to back-propagate."""
    rng = np.random.default_rng(seed + 1000)
    return [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]


def _leaf(array: np.ndarray, device: str, requires_grad: bool) -> profondo.Tensor:
    if device == "cpu":  # shares memory with a fresh copy, as a user's from_numpy would
        return profondo.from_numpy(array.copy(), requires_grad=requires_grad)
    return profondo.tensor(array, requires_grad=requires_grad, device=device)


def run_on_device(case: Case, arrays: Sequence[np.ndarray], device: str):
    """Run the case on ``device``, back-propagate the fixed projection of its outputs, and check
    that float32 stays float32 in every output and gradient and that results stay on the device.

    Returns (output arrays, gradient arrays; None for inputs that are not differentiable).
    """
    inputs = [_leaf(a, device, case.wants_grad(i, a)) for i, a in enumerate(arrays)]
    outs = _outputs(case.fn(*inputs))
    float32 = all(a.dtype == np.float32 for a in arrays if a.dtype.kind == "f")
    where = f"{case.name} on {device}"
    for i, o in enumerate(outs):
        assert o.device == profondo.device(device), f"{where}: output {i} is on {o.device}, expected {device}"
        assert not float32 or o.dtype == np.float32, f"{where}: float32 inputs gave output {i} of dtype {o.dtype}"
    values = [o.numpy() for o in outs]
    terms = [(o * _leaf(r, device, False)).sum() for o, r in zip(outs, _projections(values, case.seed)) if o.requires_grad]
    if terms:
        sum(terms[1:], terms[0]).backward()
    grads = []
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            grads.append(None)
            continue
        if t.grad is None:
            grads.append(np.zeros(t.shape, t.dtype))
            continue
        assert t.grad.device == t.device, f"{where}: the gradient of input {i} is on {t.grad.device}, expected {device}"
        assert not float32 or t.grad.dtype == np.float32, f"{where}: float32 input {i} got a {t.grad.dtype} gradient"
        grads.append(t.grad.numpy())
    return values, grads


# float64 on a device against float64 on the CPU: only the summation order differs.
DEVICE_FLOAT64_RTOL, DEVICE_FLOAT64_ATOL = 1e-7, 1e-9


def check_gradcheck(case: Case, device: str) -> None:
    """Central differences in float64. ``profondo.gradcheck`` evaluates on a CPU copy of its
    inputs, so on any other device the float64 outputs and gradients computed there are
    compared with the CPU's, which central differences check."""
    arrays = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in case.arrays()]
    if device == "cpu":
        inputs = [_leaf(a, device, case.wants_grad(i, a)) for i, a in enumerate(arrays)]
        assert profondo.gradcheck(case.fn, inputs, **case.gradcheck_options)
        return
    (outs, grads), (cpu_outs, cpu_grads) = run_on_device(case, arrays, device), run_on_device(case, arrays, "cpu")
    pairs = [(f"output {i}", o, c) for i, (o, c) in enumerate(zip(outs, cpu_outs))]
    pairs += [(f"gradient of input {i}", g, c) for i, (g, c) in enumerate(zip(grads, cpu_grads)) if g is not None]
    for what, ours, reference in pairs:
        np.testing.assert_allclose(ours, reference, rtol=DEVICE_FLOAT64_RTOL, atol=DEVICE_FLOAT64_ATOL,
                                   err_msg=f"{case.name}: float64 {what} on {device} against the CPU")


def check_parity(case: Case, device: str) -> None:
    torch = pytest.importorskip("torch")
    arrays = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in case.arrays()]
    ours, our_grads = run_on_device(case, arrays, device)
    t_inputs = [torch.tensor(a, requires_grad=case.wants_grad(i, a)) for i, a in enumerate(arrays)]
    t_raw = _outputs(case.torch_fn(*t_inputs))
    theirs = [o.detach().numpy() for o in t_raw]
    assert len(ours) == len(theirs), f"{case.name}: {len(ours)} outputs, torch gives {len(theirs)}"
    for i, (p, t) in enumerate(zip(ours, theirs)):
        assert p.shape == t.shape, f"{case.name} on {device}: output {i} has shape {p.shape}, torch {t.shape}"
        np.testing.assert_allclose(p, t, rtol=case.rtol, atol=case.atol, err_msg=f"{case.name} on {device}: output {i}")
    terms = [(o * torch.from_numpy(r)).sum() for o, r in zip(t_raw, _projections(theirs, case.seed)) if o.requires_grad]
    if terms:
        sum(terms[1:], terms[0]).backward()
    for i, (t, g) in enumerate(zip(t_inputs, our_grads)):
        if g is not None:
            expected = np.zeros(g.shape, np.float32) if t.grad is None else t.grad.numpy()
            np.testing.assert_allclose(g, expected, rtol=case.rtol, atol=case.atol,
                                       err_msg=f"{case.name} on {device}: gradient of input {i}")


def check_gradgradcheck(case: Case, device: str) -> None:
    """Second derivatives by central differences in float64 (on the CPU; on another device the
    float64 second-order results against the CPU's, as check_gradcheck does at first order)."""
    arrays = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in case.arrays()]
    if device == "cpu":
        inputs = [_leaf(a, device, case.wants_grad(i, a)) for i, a in enumerate(arrays)]
        # One random direction per input and per grad_output: the element-by-element comparison at
        # second order is the float32 parity with PyTorch; this one checks float64 against calculus.
        assert profondo.gradgradcheck(case.fn, inputs, **{"fast_mode": True, **case.gradcheck_options})
        return
    ours, reference = run_double_backward(case, arrays, device), run_double_backward(case, arrays, "cpu")
    for i, (g, c) in enumerate(zip(ours, reference)):
        np.testing.assert_allclose(g, c, rtol=DEVICE_FLOAT64_RTOL, atol=DEVICE_FLOAT64_ATOL,
                                   err_msg=f"{case.name}: float64 second-order result {i} on {device} against the CPU")


def run_double_backward(case: Case, arrays: Sequence[np.ndarray], device: str) -> list[np.ndarray]:
    """Gradients taken with create_graph=True for a fixed projection of the outputs, then the
    gradient of a fixed projection of those gradients with respect to the inputs and to the
    projection vectors. Returns [first-order gradients..., second-order gradients...]."""
    from profondo.autograd import grad

    inputs = [_leaf(a, device, case.wants_grad(i, a)) for i, a in enumerate(arrays)]
    outs = [o for o in _outputs(case.fn(*inputs))]
    vectors = [_leaf(r, device, True) for r in _projections([o.numpy() for o in outs], case.seed)]
    pairs = [(o, v) for o, v in zip(outs, vectors) if o.requires_grad]
    wrt = [t for t in inputs if t.requires_grad]
    firsts = grad([o for o, _ in pairs], wrt, [v for _, v in pairs], create_graph=True, allow_unused=True)
    firsts = [g if g is not None else profondo.zeros(*t.shape, dtype=t.dtype, device=device) for g, t in zip(firsts, wrt)]
    second_wrt = wrt + [v for _, v in pairs]
    terms = [(g * _leaf(r, device, False)).sum() for g, r in zip(firsts, _projections([g.numpy() for g in firsts], case.seed + 1))
             if g.requires_grad]
    if terms:
        seconds = grad(sum(terms[1:], terms[0]), second_wrt, allow_unused=True)
    else:
        seconds = [None] * len(second_wrt)
    seconds = [s if s is not None else profondo.zeros(*t.shape, dtype=t.dtype, device=device) for s, t in zip(seconds, second_wrt)]
    return [g.numpy() for g in firsts] + [s.numpy() for s in seconds]


def check_double_backward_parity(case: Case, device: str) -> None:
    torch = pytest.importorskip("torch")
    arrays = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in case.arrays()]
    ours = run_double_backward(case, arrays, device)
    t_inputs = [torch.tensor(a, requires_grad=case.wants_grad(i, a)) for i, a in enumerate(arrays)]
    outs = _outputs(case.torch_fn(*t_inputs))
    vectors = [torch.tensor(r, requires_grad=True) for r in _projections([o.detach().numpy() for o in outs], case.seed)]
    pairs = [(o, v) for o, v in zip(outs, vectors) if o.requires_grad]
    wrt = [t for t in t_inputs if t.requires_grad]
    firsts = torch.autograd.grad([o for o, _ in pairs], wrt, [v for _, v in pairs], create_graph=True, allow_unused=True)
    firsts = [g if g is not None else torch.zeros_like(t) for g, t in zip(firsts, wrt)]
    second_wrt = wrt + [v for _, v in pairs]
    terms = [(g * torch.from_numpy(r)).sum() for g, r in zip(firsts, _projections([g.detach().numpy() for g in firsts], case.seed + 1))
             if g.requires_grad]
    seconds = torch.autograd.grad(sum(terms[1:], terms[0]), second_wrt, allow_unused=True) if terms else [None] * len(second_wrt)
    seconds = [s if s is not None else torch.zeros_like(t) for s, t in zip(seconds, second_wrt)]
    theirs = [g.detach().numpy(force=True) for g in firsts] + [s.detach().numpy(force=True) for s in seconds]
    n = len(firsts)
    for i, (p, t) in enumerate(zip(ours, theirs)):
        what = f"first-order gradient {i} (create_graph)" if i < n else f"second-order gradient {i - n}"
        np.testing.assert_allclose(p, t, rtol=case.rtol, atol=case.atol, err_msg=f"{case.name} on {device}: {what}")


def check_float32(case: Case, device: str) -> None:
    run_on_device(case, [a.astype(np.float32) if a.dtype.kind == "f" else a for a in case.arrays()], device)


def _parametrize(cases: Sequence[Case], second_order: Sequence[Case] = ()):
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"operator_tests: case names must be unique, received duplicates {duplicates}")
    params = [pytest.param(d, c, 1, id=f"{d}-{c.name}") for d in DEVICES for c in cases]
    params += [pytest.param(d, c, 2, id=f"{d}-{c.name}-order2") for d in DEVICES for c in second_order]
    return pytest.mark.parametrize("device, case, order", params)


def _second_order(cases: Sequence[Case]) -> list[Case]:
    for c in cases:
        if c.double_backward is not True and not (isinstance(c.double_backward, str) and c.double_backward):
            raise ValueError(f"Case {c.name!r}: double_backward must be True or the reason why second order is not "
                             f"checked, received {c.double_backward!r}")
    return [c for c in cases if c.double_backward is True]


def operator_tests(cases: Sequence[Case]):
    """The generated tests for a table of cases: (test_gradcheck, test_parity, test_float32).

    Assign them to module-level names so that pytest collects them. A test that no case of the
    table calls for (no PyTorch counterpart in any case, say) is None.
    """
    second = _second_order(cases)

    @_parametrize([c for c in cases if c.gradcheck], [c for c in second if c.gradcheck])
    def test_gradcheck(device: str, case: Case, order: int) -> None:
        (check_gradcheck if order == 1 else check_gradgradcheck)(case, device)

    @_parametrize([c for c in cases if c.torch_fn is not None], [c for c in second if c.torch_fn is not None])
    def test_parity(device: str, case: Case, order: int) -> None:
        (check_parity if order == 1 else check_double_backward_parity)(case, device)

    @_parametrize(cases)
    def test_float32(device: str, case: Case, order: int) -> None:
        check_float32(case, device)

    # A table with no case for a check gets None in its place (pytest collects nothing there).
    return tuple(test if any(selected) else None for test, selected in (
        (test_gradcheck, [c.gradcheck for c in cases]),
        (test_parity, [c.torch_fn is not None for c in cases]),
        (test_float32, [True for _ in cases])))
