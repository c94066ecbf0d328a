"""Write the per-study coverage counts of a built release into README.md's limits section.

Usage: python scripts/readme_coverage.py [path/to/pedall.duckdb]. A test checks that the README
block equals what the release's coverage view gives, so the counts cannot go stale silently.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb

from pedall import coverage
from pedall.package import load_package

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"


def block(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return coverage.markdown_counts(coverage.load(con))
    finally:
        con.close()


def main() -> None:
    version = load_package(ROOT).version
    db = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist" / f"pedall-{version}" / "pedall.duckdb"
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = re.sub(re.escape(START) + r".*?" + re.escape(END), f"{START}\n{block(db)}\n{END}", text, flags=re.S)
    readme.write_text(new, encoding="utf-8")
    print(f"README.md coverage counts from {db}")


if __name__ == "__main__":
    main()
