"""Print how long validation and the release build take and how much memory they use.

Run with `make benchmark`. Besides the real data, it times a scratch copy whose outcomes table is
inflated with synthetic rows (clearly fake ids, never written to data/), to show how the checks
scale. Targets are read from this output, not asserted in tests.
"""

from __future__ import annotations

import csv
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from pedall.package import load_package  # noqa: E402
from pedall.problems import DataInvalid  # noqa: E402
from pedall.release import build  # noqa: E402
from pedall.validate import validate  # noqa: E402

COPY = ("datapackage.json", "data", "schemas", "seeds", "CHANGELOG.md", "CITATION.cff", ".zenodo.json", "LICENSE",
        "README.md")


def _copy(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dest / name)
    return dest


def _inflate(root: Path, factor: int) -> int:
    path = root / "data" / "outcomes.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames or [], list(reader)
    extra = [{**r, "outcome_id": f"zz-synthetic-{i:06d}-{r['outcome_id']}"} for i in range(factor) for r in rows]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(sorted(rows + extra, key=lambda r: r["outcome_id"]))
    return len(rows) + len(extra)


def _timed(label: str, fn) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    print(f"{label:<42} {time.perf_counter() - t0:8.2f} s")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _timed("validate (repository data)", lambda: validate(load_package(ROOT)))
        _timed("build (repository data)", lambda: build(ROOT, Path(tmp) / "dist"))
        big = _copy(Path(tmp) / "big")
        n = _inflate(big, 200)
        try:
            _timed(f"validate ({n} outcome rows, synthetic)", lambda: validate(load_package(big)))
        except DataInvalid as exc:
            print(exc.problems[:3])
            raise
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak resident memory':<42} {peak:8.0f} MiB")


if __name__ == "__main__":
    main()
