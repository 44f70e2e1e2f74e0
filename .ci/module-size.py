"""Fail when a module of the project's own code is longer than 450 lines, naming each.

Issue 27, and STYLE.md: one concern per small module, and a module past ~400 lines
becomes a package. Counted: every Python module under ocr_project/, accounts/, tasks/,
audit/ and bench/. Not counted: migrations (generated, and never edited to be read),
and tests (test_*.py, conftest.py and anything in a tests/ directory), which may stay
longer: one file per module under test, each case written out, reads better than
shared helpers spread over several.

    python .ci/module-size.py [LIMIT]     (default 450; exit 1 naming the offenders)
"""

import sys
from pathlib import Path

ROOTS = ("ocr_project", "accounts", "tasks", "audit", "bench")
LIMIT = 450


def counted(path: Path) -> bool:
    """Say whether the size rule applies to this module."""
    parts = set(path.parts[:-1])
    if "migrations" in parts or "tests" in parts:
        return False
    return not (path.name.startswith("test_") or path.name == "conftest.py")


def offenders(base: Path, limit: int) -> list[tuple[int, Path]]:
    """Return (lines, path) of each counted module over ``limit`` lines, longest first."""
    found = []
    for root in ROOTS:
        for path in sorted((base / root).rglob("*.py")):
            relative = path.relative_to(base)
            if not counted(relative):
                continue
            with path.open("rb") as handle:
                lines = sum(1 for _ in handle)
            if lines > limit:
                found.append((lines, relative))
    return sorted(found, reverse=True)


def main() -> int:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else LIMIT
    base = Path(__file__).resolve().parent.parent
    over = offenders(base, limit)
    for lines, path in over:
        print(f"{path}: {lines} lines (at most {limit}; split it by concern)", file=sys.stderr)
    if over:
        print(f"{len(over)} module(s) over {limit} lines.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
