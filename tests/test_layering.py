"""The layering of DESIGN.md's layout: a module imports only what is listed before it.

Every import of every module under src/profondo (function-level imports included) is resolved
to the package or top-level module it names, and compared with the order below. An import
that points up the order fails, with the file, the line and the two layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "profondo"

# From the ground floor up; names on one line share a floor and may import each other.
ORDER: list[tuple[str, ...]] = [
    ("backend",),
    ("random", "kernels", "cuda"),  # random: seeds for NumPy/CuPy generators; cuda: torch.cuda's questions
    ("autograd",),
    ("tensor",),
    ("functional",),
    ("gradcheck",),
    ("nn",),
    ("optim",),
    ("data",),
    ("utils",),  # PyTorch's module paths (profondo.utils.data is profondo.data)
    ("analysis",),
    ("architecture", "spec"),  # spec: the deprecated name of architecture, an alias of it
    ("io",),
    ("train",),
    ("distributed",),
    ("transfer",),
    ("nlp", "rl", "unsupervised"),
    ("edge",),
    ("ui",),
    ("cli",),
]
FLOOR = {name: level for level, names in enumerate(ORDER) for name in names}

# The loops DESIGN.md accepts, each with its reason: (importing room, imported room).
ACCEPTED = {
    ("tensor", "functional"): "Tensor methods (x.sum(), x.relu(), ...) call the operators, as in PyTorch",
    ("autograd", "tensor"): "Function.apply wraps its results in Tensors; the engine is these two files",
    ("autograd", "functional"): "create_graph records backward passes with the operators, and autograd.functional "
                                "(jacobian, hessian, vjp, jvp, hvp) is written with them, as torch.autograd.functional is",
    ("nn", "analysis"): "Module.summary hands over to analysis",
}
# Names the package face (profondo/__init__.py) re-exports from the engine: `from profondo import Tensor`.
FACE = "tensor"


def room_of(path: Path) -> str:
    first = path.relative_to(SRC).parts[0]
    return first.removesuffix(".py")


def _package_of(path: Path) -> list[str]:
    parts = ["profondo", *path.relative_to(SRC).with_suffix("").parts]
    return parts[:-1] if parts[-1] != "__init__" else parts[:-1]


def imported_rooms(path: Path) -> list[tuple[int, str, str]]:
    """(line, import as written, room) for each profondo room a module imports."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "profondo" and len(parts) > 1:
                    found.append((node.lineno, f"import {alias.name}", parts[1]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(path)
                if path.name == "__init__.py":
                    base = ["profondo", *path.relative_to(SRC).parent.parts]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = node.module.split(".")
            if parts[0] != "profondo":
                continue
            written = f"from {'.' * node.level}{node.module or ''} import {', '.join(a.name for a in node.names)}"
            if len(parts) > 1:
                found.append((node.lineno, written, parts[1]))
            else:  # from profondo import nn, Tensor
                for alias in node.names:
                    found.append((node.lineno, written, alias.name if alias.name in FLOOR else FACE))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] != "__init__.py")


def test_every_room_has_a_floor():
    rooms = {room_of(p) for p in _modules()}
    unknown = sorted(rooms - FLOOR.keys())
    assert not unknown, f"rooms missing from the layering order in this test and DESIGN.md: {unknown}"


def test_no_import_points_up_the_order():
    violations = []
    for path in _modules():
        room = room_of(path)
        for line, written, target in imported_rooms(path):
            if target not in FLOOR or target == room:
                continue
            if FLOOR[target] > FLOOR[room] and (room, target) not in ACCEPTED:
                violations.append(f"{path.relative_to(SRC.parent)}:{line}: `{written}`: {room} (floor "
                                  f"{FLOOR[room]}) imports {target} (floor {FLOOR[target]}), which sits above it")
    assert not violations, "imports that point up DESIGN.md's layering:\n" + "\n".join(violations)


@pytest.mark.parametrize("source, expected", [
    ("from ..train import Trainer\n", "train"),
    ("def f():\n    from profondo.cli import main\n", "cli"),
    ("import profondo.edge.runtime\n", "edge"),
    ("from .. import io\n", "io"),
])
def test_the_check_sees_upward_imports(tmp_path, monkeypatch, source, expected):
    # A module of the nn room, written where the real ones live, that imports upwards.
    room = SRC / "nn"
    probe = room / "_layering_probe.py"
    probe.write_text(source)
    try:
        rooms = [target for _, _, target in imported_rooms(probe)]
    finally:
        probe.unlink()
    assert rooms == [expected]
    assert FLOOR[expected] > FLOOR["nn"]
