"""Code lines per package of src/profondo (non-blank, non-comment, docstrings included), and the total."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "profondo"


def code_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#"))


def main() -> int:
    per_room: Counter[str] = Counter()
    for path in SRC.rglob("*.py"):
        per_room[path.relative_to(SRC).parts[0].removesuffix(".py")] += code_lines(path)
    width = max(map(len, per_room))
    print("code lines per package (src/profondo):")
    for room, lines in sorted(per_room.items(), key=lambda kv: -kv[1]):
        print(f"  {room:<{width}} {lines:>6}")
    print(f"  {'total':<{width}} {sum(per_room.values()):>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
