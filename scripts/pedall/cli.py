"""The `pedall` command line.

Each subcommand imports only the modules it needs (pandas, frictionless, matplotlib and requests
each take a noticeable fraction of a second to import), and every failure the user can cause
ends in one line on stderr and exit 1 (2 for usage), never a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

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


def _emit(text: str) -> None:
    # CSV already ends in its line terminator: one more newline would be an empty record to some readers.
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


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
    pl.add_argument("measure", help="endpoint family (e.g. complete_remission, event_free_survival), outcome measure "
                    "(e.g. cr_cri, efs) or adverse event (e.g. crs, neurotoxicity)")
    pl.add_argument("--timepoint", type=float, help="months (required for survival measures)")
    pl.add_argument("--timepoint-window", type=float, metavar="M",
                    help="survival: use a study's nearest time point within M months of --timepoint (default: exact)")
    pl.add_argument("--no-derived", action="store_true",
                    help="leave out counts derived from a printed percent and a known denominator")
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
    pl.add_argument("--plot", type=Path, help="write a forest plot (.png or .svg); with --moderator, a bubble plot")
    pl.add_argument("--moderator", action="append", default=[], metavar="NAME",
                    help="meta-regression on this column of the view study_moderators (repeatable)")
    _release_arguments(pl)
    rp = sub.add_parser("replicate", help="each published pooled estimate beside pedall's answer to the same question")
    rp.add_argument("--include-third-party", action="store_true",
                    help="also use figures that only a third-party summary gives (never over a trial's own report)")
    rp.add_argument("--format", choices=["table", "json"], default="table")
    _release_arguments(rp)
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
    elif args.cmd == "query":
        from .api import locate
        from .query import run

        # the release given, the one the working directory is in, or this clone's build (checked
        # against the data: `stale` runs on the open connection)
        db, stale = locate(args.release or args.db, args.root)
        _emit(run(db, args.sql, args.format, check=stale))
    elif args.cmd == "replicate":
        from . import replicate
        from .api import locate

        db, stale = locate(args.release or args.db, args.root)
        _emit(replicate.render(replicate.replicate(db, args.include_third_party, check=stale), args.format))
    elif args.cmd == "pool" and args.moderator:
        from . import metareg
        from .api import locate

        if args.plot and not args.plot.resolve().parent.is_dir():
            raise UsageError(f"--plot {args.plot}: folder {args.plot.parent} does not exist")
        db, stale = locate(args.release or args.db, args.root)
        # --test knha (Knapp-Hartung) applies to the regression too
        mr = metareg.metareg(db, args.measure, args.moderator, test=args.test,
                             timepoint=args.timepoint, grade_min=args.grade_min, by=args.by,
                             population=args.population, method=args.method, design=args.design,
                             include_third_party=args.include_third_party, keep=tuple(args.keep),
                             drop=tuple(args.drop), check=stale, derived=not args.no_derived,
                             timepoint_window=args.timepoint_window)
        if args.plot:  # refused before any output when the plot cannot be drawn
            metareg.draw_bubbles(mr, args.plot)
        _emit(metareg.render(mr, args.format))
        if args.plot:
            print(f"bubble plot written to {args.plot}", file=sys.stderr)
    elif args.cmd == "pool":
        from .api import pool  # the function Python users call, finding the release the same way

        if args.plot and not args.plot.resolve().parent.is_dir():
            raise UsageError(f"--plot {args.plot}: folder {args.plot.parent} does not exist")
        res = pool(args.measure, path=args.release or args.db, root=args.root, timepoint=args.timepoint,
                   grade_min=args.grade_min, by=args.by, population=args.population, method=args.method,
                   design=args.design, include_third_party=args.include_third_party, keep=args.keep,
                   drop=args.drop, derived=not args.no_derived, timepoint_window=args.timepoint_window,
                   test=args.test)
        _emit(res.render(args.format))
        if args.plot:
            from .forest import draw

            draw(res.result, args.plot)
            print(f"forest plot written to {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
