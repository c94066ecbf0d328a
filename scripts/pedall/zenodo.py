"""`pedall zenodo DIR|ZIP`: deposit a built release on Zenodo (the sandbox unless --production).

The command line only; the work is done by three modules, each readable alone:
- zenodo_release: what is deposited, verified by check-release's own checks before any request,
  and the deposit metadata (the release's .zenodo.json);
- zenodo_deposit: the workflow (new deposition, new version or resumed draft; files; publish);
- zenodo_client: the HTTP client of Zenodo's deposit REST API (https://developers.zenodo.org).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from datetime import date
from pathlib import Path

from .metadata import ReleaseError
from .zenodo_client import PRODUCTION_URL, SANDBOX_URL, TokenRejected, ZenodoClient, ZenodoError, check_base_url
from .zenodo_deposit import Outcome, deposit
from .zenodo_release import Release, build_metadata, load_release

__all__ = ["PRODUCTION_URL", "SANDBOX_URL", "Outcome", "Release", "TokenRejected", "ZenodoClient", "ZenodoError",
           "add_arguments", "build_metadata", "check_base_url", "deposit", "load_release", "main", "run"]

PROG = "pedall zenodo"


def _positive_int(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _seconds(text: str) -> float:
    s = float(text)
    if s < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return s


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of `pedall zenodo`, for a standalone parser or a subparser of `pedall`."""
    ap.add_argument("release", type=Path, help="dist/pedall-<version> (the folder) or dist/pedall-<version>.zip")
    ap.add_argument("--publish", action="store_true", help="publish the deposit (default: leave a draft to review)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan; send nothing, need no token")
    ap.add_argument("--production", action="store_true", help=f"use {PRODUCTION_URL} (default: {SANDBOX_URL})")
    ap.add_argument("--base-url", default=None, help="API root to use instead (overrides --production)")
    ap.add_argument("--concept", default=None, metavar="ID",
                    help="make a new version of this deposition: the id of the concept's LATEST published "
                         "deposition (default: $ZENODO_CONCEPT_ID; unset: a new, first deposition)")
    ap.add_argument("--resume", default=None, metavar="DRAFT_ID",
                    help="continue an unpublished draft left by a failed run")
    ap.add_argument("--publication-date", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                    help="publication date in the metadata (default: today)")
    ap.add_argument("--max-attempts", type=_positive_int, default=5, metavar="N",
                    help="attempts per request on 429, 5xx or connection errors (default: 5)")
    ap.add_argument("--retry-delay", type=_seconds, default=2.0, metavar="SECONDS",
                    help="first backoff delay, doubled on each retry (default: 2)")


def _resume_command(args: argparse.Namespace, draft_id: int | str) -> str:
    cmd = ["pedall", "zenodo", str(args.release), "--resume", str(draft_id)]
    if args.publish:
        cmd.append("--publish")
    if args.base_url:
        cmd += ["--base-url", args.base_url]
    elif args.production:
        cmd.append("--production")
    if args.publication_date:
        cmd += ["--publication-date", args.publication_date.isoformat()]
    return shlex.join(cmd)


def _usage(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run `pedall zenodo` from parsed arguments; returns the exit code (0 done, 1 refused/failed, 2 usage)."""
    base_url = args.base_url or (PRODUCTION_URL if args.production else SANDBOX_URL)
    if args.concept and args.resume:
        return _usage("--concept and --resume exclude each other: a resumed draft already knows its concept")
    # The environment's concept is ignored on --resume, so the workflow's variable cannot get in the way.
    concept = None if args.resume else (args.concept or os.environ.get("ZENODO_CONCEPT_ID", "").strip() or None)
    for label, value in (("--concept/ZENODO_CONCEPT_ID", concept), ("--resume", args.resume)):
        if value is not None and not value.isdigit():
            return _usage(f"{label} must be a numeric deposition id, not {value!r}")
    try:
        check_base_url(base_url)
    except ValueError as exc:
        return _usage(str(exc))
    token = os.environ.get("ZENODO_TOKEN", "").strip() or None
    if not token and not args.dry_run:
        return _usage("set ZENODO_TOKEN to a Zenodo token with deposit:write and deposit:actions (or use --dry-run)")
    try:
        deposit(args.release, token=token, base_url=base_url, publish=args.publish, dry_run=args.dry_run,
                concept_id=concept, resume=args.resume, publication_date=args.publication_date,
                attempts=args.max_attempts, retry_delay=args.retry_delay)
    except ReleaseError as exc:
        print(f"{PROG}: refused: {exc}", file=sys.stderr)
        return 1
    except ZenodoError as exc:
        print(f"{PROG}: failed: {exc}", file=sys.stderr)
        if exc.publish_unknown:
            # Say only what is known: a resume would refuse a published deposition, and a new run would
            # create a second one, so the state must be looked at first.
            where = f" ({exc.draft_html})" if exc.draft_html else ""
            print(f"{PROG}: whether deposition {exc.draft_id} got published is unknown{where}: look at it before "
                  "any new run", file=sys.stderr)
            return 1
        if exc.draft_id is not None:
            where = f" ({exc.draft_html})" if exc.draft_html else ""
            print(f"{PROG}: draft {exc.draft_id} is left unpublished{where}", file=sys.stderr)
            print(f"{PROG}: resume with: {_resume_command(args, exc.draft_id)}", file=sys.stderr)
        print(f"{PROG}: nothing was published", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description="Deposit a built release on Zenodo (sandbox by default). "
                                 "The token is read from $ZENODO_TOKEN.")
    add_arguments(ap)
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:  # argparse exits on usage errors and --help; keep main's int contract
        return exc.code if isinstance(exc.code, int) else 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
