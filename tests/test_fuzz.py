"""Bounded fuzzing: seeded random damage to each real CSV never ends in an exception.

Only "clean problems or success" is asserted: whatever the bytes, validation either returns the
typed tables or raises DataInvalid whose every problem is one line in the one grammar. The
seed is fixed, so a failure is reproducible (the case number and mutation are in the message).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from conftest import REPO, copy_repo
from pedall.checks import table_schema
from pedall.package import load_package
from pedall.validate import check_loaded

# An exception swallowed inside a library callback still prints a traceback: it must fail the test too.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
CASES_PER_TABLE = 20
LINE = re.compile(r"^[^\n]+:\d+: [^\n]+: [^\n]* \[[a-z0-9-]+\]$")
SPECIAL = [b",", b'"', b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\xef\xbb\xbf", b"", b" ", b"-1", b"1e999",
           b"NaN", b"true", b"\xc3", b"\\", b",,,", b'""', b"99999999999999999999"]


def _mutate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    kind = rng.choice(["insert", "delete", "replace", "cell", "drop-cell", "add-cell", "swap-lines", "truncate",
                       "duplicate-line"])
    lines = data.split(b"\n")
    if kind in ("insert", "delete", "replace", "truncate"):
        at = rng.randrange(len(data) + 1)
        if kind == "insert":
            return data[:at] + rng.choice(SPECIAL) + data[at:], f"{kind}@{at}"
        if kind == "delete":
            return data[:at] + data[at + rng.randint(1, 20):], f"{kind}@{at}"
        if kind == "replace":
            return data[:at] + bytes([rng.randrange(256)]) + data[at + 1:], f"{kind}@{at}"
        return data[:at], f"{kind}@{at}"
    n = rng.randrange(len(lines))
    if kind == "swap-lines":
        m = rng.randrange(len(lines))
        lines[n], lines[m] = lines[m], lines[n]
    elif kind == "duplicate-line":
        lines.insert(n, lines[n])
    else:
        cells = lines[n].split(b",")
        c = rng.randrange(len(cells))
        if kind == "cell":
            cells[c] = rng.choice([*SPECIAL, str(rng.uniform(-1e3, 1e3)).encode(), b"x" * rng.randint(1, 300)])
        elif kind == "drop-cell":
            del cells[c]
        else:
            cells.insert(c, rng.choice(SPECIAL))
        lines[n] = b",".join(cells)
    return b"\n".join(lines), f"{kind}@line{n + 1}"


@pytest.mark.parametrize("table", sorted(load_package(REPO).tables))
def test_random_damage_never_raises(table: str, tmp_path: Path) -> None:
    rng = random.Random(f"pedall-fuzz-{table}")
    root = copy_repo(tmp_path / "repo")
    pkg = load_package(root)
    path = root / pkg.tables[table].path
    original = path.read_bytes()
    # The other tables are read once; each case re-reads the damaged one and runs every check
    # (layer 1 of that table, foreign keys, layers 2 and 3) as `pedall validate` would.
    loaded = {name: table_schema.load(pkg, t) for name, t in pkg.tables.items()}
    for case in range(CASES_PER_TABLE):
        data = original
        steps = []
        for _ in range(rng.randint(1, 3)):
            data, what = _mutate(rng, data)
            steps.append(what)
        path.write_bytes(data)
        try:
            loaded[table] = table_schema.load(pkg, pkg.tables[table])
            found = check_loaded(pkg, loaded)
        except Exception as exc:  # the point of the test: no exception may escape the checks
            pytest.fail(f"{table} case {case} ({', '.join(steps)}): {type(exc).__name__}: {exc}")
        bad = [str(p) for p in found if not LINE.match(str(p))]
        assert not bad, (table, case, steps, bad[:3])
