"""The `pedall` command line."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from .metadata import ReleaseError
from .package import load_package
from .problems import DataInvalid, PoolError
from .snapshot import SnapshotError
from .zipper import release_name


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
    d = sub.add_parser("diff", help="rows added, removed and changed between two releases")
    d.add_argument("old", help="release folder, release zip or git ref")
    d.add_argument("new", help="release folder, release zip or git ref")
    d.add_argument("--format", choices=["markdown", "json"], default="markdown")
    c = sub.add_parser("check-release", help="verify a built release folder or zip before publishing")
    c.add_argument("target", type=Path)
    m = sub.add_parser("metadata", help="check CITATION.cff, .zenodo.json and the README's citation against "
                       "datapackage.json")
    m.add_argument("--write", action="store_true", help="rewrite them from datapackage.json")
    sub.add_parser("freeze", help="record this version's inputs in releases/ (commit it with the release)")
    from . import zenodo

    z = sub.add_parser("zenodo", help="deposit a built release on Zenodo (sandbox unless --production)")
    zenodo.add_arguments(z)
    from .meta import METHODS
    from .pool import GROUPINGS

    pl = sub.add_parser("pool", help="random-effects meta-analysis of one figure per study")
    pl.add_argument("measure", help="outcome measure (e.g. cr_cri, efs) or adverse event (e.g. crs, neurotoxicity)")
    pl.add_argument("--timepoint", type=float, help="months (required for survival measures)")
    pl.add_argument("--grade-min", type=int, help="adverse events: lowest grade counted (grade G to 5)")
    pl.add_argument("--by", choices=list(GROUPINGS), help="subgroups")
    pl.add_argument("--population", help="only figures in this analysis population (e.g. infused)")
    pl.add_argument("--method", choices=list(METHODS), default=METHODS[0], help="tau² estimator (default REML)")
    pl.add_argument("--format", choices=["table", "csv", "json"], default="table")
    pl.add_argument("--plot", type=Path, help="write a forest plot (.png or .svg)")
    pl.add_argument("--db", type=Path, default=None, help="database file (default: this version's build)")
    q = sub.add_parser("query", help="run SQL against the built database")
    q.add_argument("sql")
    q.add_argument("--db", type=Path, default=None, help="database file (default: this version's build)")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    args = ap.parse_args(argv)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `pedall diff ... | head` ends quietly
    root = (args.root or _root()).resolve()
    if args.cmd == "zenodo":
        return zenodo.run(args)  # reports its own errors and exit codes (1 refused/failed, 2 usage)
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
        elif args.cmd == "diff":
            from . import snapshot
            from .diff import compare, to_json, to_markdown

            result = compare(snapshot.load(args.old, root), snapshot.load(args.new, root))
            print(to_json(result) if args.format == "json" else to_markdown(result))
        elif args.cmd == "check-release":
            from .check_release import check

            problems = check(args.target)
            for p in problems:
                print(f"{args.target}: {p}", file=sys.stderr)
            if problems:
                print(f"pedall: {len(problems)} problem(s) with {args.target}", file=sys.stderr)
                return 1
            print(f"{args.target}: release checks passed")
        elif args.cmd == "metadata":
            from . import citation

            pkg = load_package(root)
            if args.write:
                for path in citation.write(pkg):
                    print(f"wrote {path.relative_to(root)}")
            else:
                citation.check(pkg)
                print("CITATION.cff, .zenodo.json and README.md agree with datapackage.json")
        elif args.cmd == "freeze":
            from .history import freeze

            print(f"recorded {freeze(load_package(root)).relative_to(root)}")
        elif args.cmd in ("query", "pool"):
            from .database import DB_NAME, stale_inputs

            pkg = load_package(root)
            db = args.db or root / "dist" / release_name(pkg.version) / DB_NAME
            if not db.exists():
                print(f"pedall: no database at {db}: run `make release` first", file=sys.stderr)
                return 2
            changed = stale_inputs(db, pkg) if args.db is None else []
            if changed:
                # A database built before the latest edits would answer for data that no longer exist.
                print(f"pedall: {db} was built from older inputs ({', '.join(changed)} changed since): run "
                      "`make release` to rebuild it (or pass --db to use it anyway)", file=sys.stderr)
                return 2
            if args.cmd == "query":
                from .query import run

                print(run(db, args.sql, args.format))
            else:
                from .forest import draw
                from .pool import pool, render

                res = pool(db, args.measure, timepoint=args.timepoint, grade_min=args.grade_min, by=args.by,
                           population=args.population, method=args.method)
                print(render(res, args.format))
                if args.plot:
                    draw(res, args.plot)
                    print(f"forest plot written to {args.plot}", file=sys.stderr)
    except DataInvalid as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(f"pedall: {len(exc.problems)} problem(s); nothing was written", file=sys.stderr)
        return 1
    except (ReleaseError, SnapshotError, PoolError) as exc:
        print(f"pedall: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
