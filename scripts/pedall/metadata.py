"""Version agreement between datapackage.json (the one source of the version) and the citation files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .package import Package
from .problems import UserError


class ReleaseError(UserError):
    """A release cannot be built or published as asked."""


def citation_version(root: Path) -> str | None:
    m = re.search(r"^version:\s*[\"']?([^\"'\s]+)", (root / "CITATION.cff").read_text(encoding="utf-8"), re.M)
    return m.group(1) if m else None


def zenodo_version(root: Path) -> str | None:
    return json.loads((root / ".zenodo.json").read_text(encoding="utf-8")).get("version")


def changelog_has(root: Path, version: str) -> bool:
    text = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    return re.search(rf"^## \[{re.escape(version)}\]", text, re.M) is not None


def check_versions(pkg: Package) -> None:
    v = pkg.version
    found = {"CITATION.cff": citation_version(pkg.root), ".zenodo.json": zenodo_version(pkg.root)}
    wrong = [f"{name} says {got!r}" for name, got in found.items() if got != v]
    if not changelog_has(pkg.root, v):
        wrong.append(f"CHANGELOG.md has no '## [{v}]' entry")
    if wrong:
        raise ReleaseError(f"datapackage.json version is {v!r}, but " + "; ".join(wrong))
