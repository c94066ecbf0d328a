"""Print how validation scales, against DuckDB doing the same basic checks on the same file.

Run with `make benchmark`. For each size, a scratch copy of the package gets an outcomes table
inflated with synthetic rows (the real rows repeated under clearly fake ids, never written to
data/). Each measurement runs in its own process, so that its peak resident memory is its own:

- validate: `validate(load_package(root))`, all three layers, timed inside the process;
- DuckDB baseline: DuckDB reads the same CSV as text and runs the basic row checks of its Table
  Schema in SQL (types, required, enum, pattern, minimum/maximum, primary key unique), timed the
  same way.

It also times a full build of the real data and an up-to-date `pedall build`. Targets are read
from this output, not asserted in tests.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

COPY = ("datapackage.json", "data", "schemas", "seeds", "CHANGELOG.md", "CITATION.cff", ".zenodo.json", "LICENSE",
        "README.md")
SIZES = (10_000, 100_000, 1_000_000)

VALIDATE = """
import resource, sys, time
from pedall.package import load_package
from pedall.validate import validate
pkg = load_package(sys.argv[1])
t0 = time.perf_counter()
validate(pkg)
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

BASELINE = """
import resource, sys, time
import duckdb
sql = sys.stdin.read()
t0 = time.perf_counter()
duckdb.connect().execute(sql).fetchall()
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _copy(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dest / name)
    return dest


def _inflate(root: Path, n: int) -> int:
    """Rewrite outcomes.csv with n rows: the real ones plus synthetic copies, sorted by key."""
    path = root / "data" / "outcomes.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    out = list(body)
    i = 0
    while len(out) < n:
        r = body[i % len(body)]
        out.append([f"zz-synthetic-{i // len(body):07d}-{r[0]}", *r[1:]])
        i += 1
    out.sort(key=lambda r: r[0])
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(out)
    return len(out)


def _sql_checks(root: Path) -> str:
    """One SQL pass over the CSV with the Table Schema's basic row checks, as DuckDB would run them."""
    schema = json.loads((root / "schemas" / "outcomes.schema.json").read_text(encoding="utf-8"))
    path = str(root / "data" / "outcomes.csv").replace("'", "''")
    casts = {"integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE"}
    checks = []
    for f in schema["fields"]:
        col, c = f'"{f["name"]}"', f.get("constraints", {})
        if f.get("type", "string") in casts:
            checks.append(f"count_if({col} <> '' AND TRY_CAST({col} AS {casts[f['type']]}) IS NULL)")
        if c.get("required"):
            checks.append(f"count_if({col} = '')")
        if c.get("enum"):
            values = ", ".join("'" + v.replace("'", "''") + "'" for v in c["enum"])
            checks.append(f"count_if({col} <> '' AND {col} NOT IN ({values}))")
        if c.get("pattern"):
            pat = c["pattern"].replace("'", "''")
            checks.append(f"count_if({col} <> '' AND NOT regexp_full_match({col}, '{pat}'))")
        for key, op in (("minimum", "<"), ("maximum", ">")):
            if key in c:
                checks.append(f"count_if(TRY_CAST({col} AS DOUBLE) {op} {c[key]})")
    pk = ", ".join(f'"{k}"' for k in ([schema["primaryKey"]] if isinstance(schema["primaryKey"], str)
                                      else schema["primaryKey"]))
    return (f"WITH t AS (SELECT * FROM read_csv('{path}', all_varchar = true, header = true)) "
            f"SELECT count(*) - count(DISTINCT ({pk})), {', '.join(checks)} FROM t")


def _measure(code: str, *args: str, stdin: str = "") -> tuple[float, float]:
    """(seconds, peak resident MiB), both reported by the child process itself."""
    res = subprocess.run([sys.executable, "-c", code, *args], input=stdin, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")}, check=False)
    if res.returncode:
        raise SystemExit(f"benchmark step failed:\n{res.stderr[-2000:]}")
    seconds, peak = res.stdout.split()[-2:]
    return float(seconds), float(peak)


def _wall(*args: str) -> float:
    """Wall time of one `pedall` command, run from this checkout's scripts/."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pedall.cli", *args], check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")})
    return time.perf_counter() - t0


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or list(SIZES)
    print(f"{'outcome rows':>12} {'validate s':>11} {'DuckDB s':>9} {'ratio':>6} {'validate peak MiB':>18} "
          f"{'DuckDB peak MiB':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            root = _copy(Path(tmp) / f"n{n}")
            rows = _inflate(root, n)
            duck_s, duck_mem = _measure(BASELINE, stdin=_sql_checks(root))
            val_s, val_mem = _measure(VALIDATE, str(root))
            print(f"{rows:>12} {val_s:>11.2f} {duck_s:>9.2f} {val_s / duck_s:>6.1f} {val_mem:>18.0f} "
                  f"{duck_mem:>16.0f}", flush=True)
            shutil.rmtree(root)
        real = _copy(Path(tmp) / "real")
        dist = str(Path(tmp) / "dist")
        build = ("--root", str(real), "build", "--dist", dist)
        print(f"build of the real data: {_wall(*build):.2f} s (again, up to date: {_wall(*build):.2f} s)")
        print(f"pedall validate of the real data, whole command: {_wall('--root', str(real), 'validate'):.2f} s")


if __name__ == "__main__":
    main()
