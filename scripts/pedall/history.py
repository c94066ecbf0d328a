"""Release history: the frozen record of each released version and the previous release's git ref.

`releases/<version>.sha256` lists the checksums of the package's inputs (descriptor, schemas,
data) as they were when that version was released. It is committed with the release, so a clone
knows which data each version holds: a build of a recorded version with other data is refused,
and the record's commit is the snapshot that the next version's changelog is compared with.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .checksums import parse_sums, sha256
from .metadata import ReleaseError
from .package import Package

RECORDS = "releases"


def input_files(pkg: Package) -> list[str]:
    files = {"datapackage.json"}
    for t in pkg.tables.values():
        files |= {t.path, t.schema_path}
    return sorted(files)


def record_text(pkg: Package) -> str:
    return "".join(f"{sha256(pkg.root / f)}  {f}\n" for f in input_files(pkg))


def record_path(root: Path, version: str) -> Path:
    return root / RECORDS / f"{version}.sha256"


def check_record(pkg: Package) -> None:
    """Refuse data that differ from what this version was released with."""
    path = record_path(pkg.root, pkg.version)
    if not path.exists():
        return
    recorded = {f: d for f, (_, d) in parse_sums(path.read_text(encoding="utf-8"), str(path)).items()}
    now = {f: sha256(pkg.root / f) for f in input_files(pkg)}
    changed = sorted(f for f in recorded.keys() | now.keys() if recorded.get(f) != now.get(f))
    if changed:
        raise ReleaseError(f"version {pkg.version} was released with other content ({', '.join(changed)} "
                           f"differ from {path.relative_to(pkg.root)}); bump the version in datapackage.json")


def freeze(pkg: Package) -> Path:
    """Write the record of the current version (once; an existing record must match)."""
    path = record_path(pkg.root, pkg.version)
    if path.exists():
        check_record(pkg)
        return path
    path.parent.mkdir(exist_ok=True)
    path.write_text(record_text(pkg))
    return path


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v))


class _NoGit(Exception):
    pass


def _git(root: Path, *args: str) -> str | None:
    try:
        res = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:  # no git on this machine
        raise _NoGit from exc
    return res.stdout.strip() if res.returncode == 0 else None


def _shallow_boundary(root: Path) -> set[str] | None:
    """The commits where a shallow clone's history is cut off; None for a complete history."""
    if _git(root, "rev-parse", "--is-shallow-repository") != "true":
        return None
    path = _git(root, "rev-parse", "--git-path", "shallow")
    shallow = Path(path) if path else None
    if shallow is not None and not shallow.is_absolute():
        shallow = root / shallow
    return set(shallow.read_text().split()) if shallow is not None and shallow.exists() else set()


def previous_release(pkg: Package) -> tuple[str, str] | None:
    """(version, git ref) of the release before the current version, if the history holds one.

    Preferred: the commit that added the newest earlier record in releases/. Otherwise the last
    commit whose datapackage.json carried another version (the state just before the bump).
    Raises ReleaseError when an earlier release is recorded but the history needed to compare with it
    cannot be read (no git, not a clone, or a shallow clone cut off before it): the changelog would
    otherwise silently claim that every row is new, and the release would not be the recorded bytes.
    """
    current = _version_key(pkg.version)
    records = sorted((p.stem for p in (pkg.root / RECORDS).glob("*.sha256")
                      if _version_key(p.stem) < current), key=_version_key)
    why = f"release {records[-1]} is recorded in {RECORDS}/, but " if records else ""
    try:
        if _git(pkg.root, "rev-parse", "--is-inside-work-tree") != "true":
            if records:
                raise ReleaseError(f"{why}{pkg.root} is not a git clone: the changelog compares with that "
                                   "release's commit; build from a git clone")
            return None
        boundary = _shallow_boundary(pkg.root)
        if records:
            added = _git(pkg.root, "log", "--diff-filter=A", "--format=%H", "--", f"{RECORDS}/{records[-1]}.sha256")
            first = added.splitlines()[-1] if added else None
            # In a shallow clone every file seems added by the oldest commit it has: that proves nothing.
            if first and (boundary is None or first not in boundary):
                return records[-1], first
            if boundary is not None:
                raise ReleaseError(f"{why}this clone is shallow (git clone --depth): the commit that recorded it "
                                   "is cut off; run `git fetch --unshallow` and build again")
        revs = _git(pkg.root, "rev-list", "HEAD")
        for rev in (revs or "").splitlines():
            text = _git(pkg.root, "show", f"{rev}:datapackage.json")
            m = re.search(r'"version":\s*"([^"]+)"', text or "")
            if m and m.group(1) != pkg.version:
                return m.group(1), rev
        if boundary is not None:
            raise ReleaseError("this clone is shallow (git clone --depth): whether an earlier version exists cannot "
                               "be told from the history it has; run `git fetch --unshallow` and build again")
    except _NoGit:
        if records:
            raise ReleaseError(f"{why}git is not installed: the changelog compares with that release's commit; "
                               "install git and build again") from None
    return None
