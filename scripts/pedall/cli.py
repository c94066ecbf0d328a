"""The `pedall` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .metadata import ReleaseError
from .package import load_package
from .problems import DataInvalid


def _root() -> Path:
    # The repository root: the nearest folder upwards holding datapackage.json.
    here = Path.cwd()
    for p in (here, *here.parents):
        if (p / "datapackage.json").exists():
            return p
    return here


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pedall", description="Validate, build and query the pedall dataset.")
    ap.add_argument("--root", type=Path, default=None, help="repository root (default: found upwards from here)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("validate", help="check the data against schemas and rules; list every problem")
    b = sub.add_parser("build", help="validate and write dist/pedall-<version>/, its zip and DuckDB file")
    b.add_argument("--dist", type=Path, default=None, help="output folder (default: <root>/dist)")
    q = sub.add_parser("query", help="run SQL against the built database")
    q.add_argument("sql")
    q.add_argument("--db", type=Path, default=None, help="database file (default: this version's build)")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    args = ap.parse_args(argv)
    root = (args.root or _root()).resolve()
    try:
        if args.cmd == "validate":
            from .validate import validate

            pkg = load_package(root)
            frames = validate(pkg)
            print(f"pedall {pkg.version}: valid ({', '.join(f'{n} {len(f)}' for n, f in frames.items())})")
        elif args.cmd == "build":
            from .release import build

            out = build(root, (args.dist or root / "dist").resolve())
            print(f"built {out}")
        elif args.cmd == "query":
            from .query import run

            db = args.db or root / "dist" / f"pedall-{load_package(root).version}" / "pedall.duckdb"
            if not db.exists():
                print(f"pedall: no database at {db}: run `make release` first", file=sys.stderr)
                return 2
            print(run(db, args.sql, args.format))
    except DataInvalid as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(f"pedall: {len(exc.problems)} problem(s); nothing was written", file=sys.stderr)
        return 1
    except ReleaseError as exc:
        print(f"pedall: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
