"""The `pedall` command line.

Each subcommand imports only the modules it needs (pandas, frictionless, matplotlib and requests
each take a noticeable fraction of a second to import), and every failure the user can cause
ends in one line on stderr and exit 1 (2 for usage), never a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .problems import DataInvalid, UsageError, UserError
from .vocab import GROUPINGS, METHODS, TESTS


def _root() -> Path:
    # The repository root: the nearest folder upwards holding datapackage.json.
    here = Path.cwd()
    for p in (here, *here.parents):
        if (p / "datapackage.json").exists():
            return p
    raise UsageError(f"not inside a pedall repository: no datapackage.json in {here} or any folder above it "
                     "(run pedall inside the repository, or give --root)")


def _release_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--release", type=Path, default=None, metavar="PATH",
                   help="a pedall release: unpacked folder, zip or .duckdb file (default: this clone's build)")
    g.add_argument("--db", type=Path, default=None, help="same as --release (its older name)")


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
    # Its options belong to zenodo.py, which imports requests: parsed there, and only when asked for.
    z = sub.add_parser("zenodo", help="deposit a built release on Zenodo (sandbox unless --production)",
                       add_help=False)
    z.add_argument("zenodo_args", nargs=argparse.REMAINDER)
    pl = sub.add_parser("pool", help="random-effects meta-analysis of one figure per study")
    pl.add_argument("measure", help="outcome measure (e.g. cr_cri, efs) or adverse event (e.g. crs, neurotoxicity)")
    pl.add_argument("--timepoint", type=float, help="months (required for survival measures)")
    pl.add_argument("--grade-min", type=int, help="adverse events: lowest grade counted (grade G to 5)")
    pl.add_argument("--by", choices=list(GROUPINGS), help="subgroups")
    pl.add_argument("--population", help="only figures in this analysis population (e.g. infused)")
    pl.add_argument("--method", choices=list(METHODS), default=METHODS[0], help="tau² estimator (default REML)")
    pl.add_argument("--test", choices=list(TESTS), default=TESTS[0],
                    help="CIs and prediction intervals: z (normal, default) or knha (Knapp-Hartung, t on k-1 df)")
    pl.add_argument("--design", default="interventional",
                    help="interventional (default), observational, all, or one studies.design value")
    pl.add_argument("--include-third-party", action="store_true",
                    help="also use figures that only a third-party summary gives (never over a trial's own report)")
    pl.add_argument("--keep", action="append", default=[], metavar="STUDY",
                    help="of two overlapping studies, use this one (repeatable)")
    pl.add_argument("--drop", action="append", default=[], metavar="STUDY", help="leave this study out (repeatable)")
    pl.add_argument("--format", choices=["table", "csv", "json"], default="table")
    pl.add_argument("--plot", type=Path, help="write a forest plot (.png or .svg)")
    _release_arguments(pl)
    q = sub.add_parser("query", help="run SQL against a release: its tables and views")
    q.add_argument("sql")
    _release_arguments(q)
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    args, unknown = ap.parse_known_args(argv)
    if unknown and args.cmd != "zenodo":
        ap.error(f"unrecognized arguments: {' '.join(unknown)}")
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `pedall diff ... | head` ends quietly
    if args.cmd == "zenodo":
        from . import zenodo

        zp = argparse.ArgumentParser(prog="pedall zenodo", description="deposit a built release on Zenodo")
        zenodo.add_arguments(zp)
        # zenodo reports its own errors (1 refused/failed, 2 usage)
        return zenodo.run(zp.parse_args([*unknown, *args.zenodo_args]))
    try:
        return _run(args)
    except UsageError as exc:
        print(f"pedall: {exc}", file=sys.stderr)
        return 2
    except DataInvalid as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(f"pedall: {len(exc.problems)} problem(s); nothing was written", file=sys.stderr)
        return 1
    except UserError as exc:
        print(f"pedall: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # unwritable output folder, a file vanished, a disk full: one line, not a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"pedall: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception as exc:  # the last guard: a bug must still end in one line and a failure code
        print(f"pedall: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    def root() -> Path:  # only the subcommands that read the repository need one
        if args.root is None:
            return _root().resolve()
        if not (args.root / "datapackage.json").is_file():
            raise UsageError(f"--root {args.root}: not a pedall repository (no datapackage.json)")
        return args.root.resolve()

    from .package import load_package

    if args.cmd == "validate":
        from .validate import validate

        pkg = load_package(root())
        frames = validate(pkg)
        print(f"pedall {pkg.version}: valid ({', '.join(f'{n} {len(f)}' for n, f in frames.items())})")
    elif args.cmd == "build":
        from .release import build

        r = root()
        out = build(r, (args.dist or r / "dist").resolve())
        print(f"built {out}")
    elif args.cmd == "diff":
        from . import snapshot
        from .diff import compare, to_json, to_markdown

        repo = args.root or Path.cwd()  # git refs are looked up here; folders and zips need no repository
        result = compare(snapshot.load(args.old, repo), snapshot.load(args.new, repo))
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

        r = root()
        pkg = load_package(r)
        if args.write:
            for path in citation.write(pkg):
                print(f"wrote {path.relative_to(r)}")
        else:
            citation.check(pkg)
            print("CITATION.cff, .zenodo.json and README.md agree with datapackage.json")
    elif args.cmd == "freeze":
        from .history import freeze

        r = root()
        print(f"recorded {freeze(load_package(r)).relative_to(r)}")
    elif args.cmd in ("query", "pool"):
        db = args.release or args.db
        stale: Callable[[Any], None] | None = None  # the clone's own build must match the data
        if db is None:
            from .loadsql import NAME as LOAD_SQL

            here = Path.cwd()
            inside = next((p for p in (here, *here.parents) if (p / LOAD_SQL).is_file()), None)
            if args.root is None and inside is not None:
                db = inside  # inside an unpacked release: use it
        if db is None:
            from .database import DB_NAME, stale_inputs_in
            from .zipper import release_name

            try:
                r = root()
            except UsageError:
                raise UsageError("not inside a pedall repository or release: give --release PATH (a release "
                                 "folder, its zip or a .duckdb file)") from None
            pkg = load_package(r)
            db = r / "dist" / release_name(pkg.version) / DB_NAME
            if not db.is_file():
                print(f"pedall: no database at {db}: run `make release` first, or give --release PATH",
                      file=sys.stderr)
                return 2

            def stale_check(con: Any, pkg: Any = pkg, db: Path = db) -> None:
                changed = stale_inputs_in(con, pkg)
                if changed:
                    # A database built before the latest edits would answer for data that no longer exist.
                    raise UsageError(f"{db} was built from older inputs ({', '.join(changed)} changed since): "
                                     "run `make release` to rebuild it (or pass --release to use it anyway)")
            stale = stale_check
        elif not db.exists():
            print(f"pedall: {db} does not exist (give a release folder, its zip or a .duckdb file)",
                  file=sys.stderr)
            return 1
        if args.cmd == "query":
            from .query import run

            print(run(db, args.sql, args.format, check=stale))
        else:
            from .pool import pool, render

            if args.plot and not args.plot.resolve().parent.is_dir():
                raise UsageError(f"--plot {args.plot}: folder {args.plot.parent} does not exist")
            res = pool(db, args.measure, timepoint=args.timepoint, grade_min=args.grade_min, by=args.by,
                       population=args.population, method=args.method, design=args.design,
                       include_third_party=args.include_third_party, keep=tuple(args.keep), drop=tuple(args.drop),
                       check=stale, test=args.test)
            print(render(res, args.format))
            if args.plot:
                from .forest import draw

                draw(res, args.plot)
                print(f"forest plot written to {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
