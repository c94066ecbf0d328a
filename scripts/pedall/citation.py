"""Citation metadata generated from datapackage.json, the one place it is written.

CITATION.cff, .zenodo.json and the README's "Citing" block are rendered from the package descriptor
(title, description, version, release date, keywords, licence, authors, source review). `pedall
metadata --write` rewrites them; `pedall build` refuses when they differ from what the descriptor gives,
so a keyword or an author can no longer differ between them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .metadata import ReleaseError
from .package import Package

# What a release holds, said once for the Zenodo record (a fact of the tooling, not of the data).
RELEASE_CONTENTS = "Tables as CSV and Parquet, a DuckDB database with views, a data dictionary and checksums."
README_START = "<!-- citation: generated from datapackage.json by `pedall metadata --write` -->"
README_END = "<!-- end of citation -->"


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a YAML double-quoted scalar is a JSON string


def _authors(d: dict[str, Any]) -> list[str]:
    return [c["title"] for c in d.get("contributors", []) if c.get("role", "author") == "author"]


def _doi(path: str) -> str | None:
    m = re.match(r"https?://doi\.org/(10\..+)$", path or "")
    return m.group(1) if m else None


def _license(d: dict[str, Any]) -> str:
    names = [lic["name"] for lic in d.get("licenses", [])]
    if len(names) != 1:
        raise ReleaseError(f"datapackage.json must name exactly one licence, not {names}")
    return names[0]


def cff(d: dict[str, Any]) -> str:
    lines = ["cff-version: 1.2.0", 'message: "If you use this dataset, please cite the version you used."',
             "type: dataset", f"title: {_q(d['title'])}", f"version: {_q(d['version'])}",
             f"date-released: {_q(d['created'][:10])}", f"license: {_license(d)}", "authors:"]
    lines += [f"  - name: {_q(a)}" for a in _authors(d)]
    lines += [f"abstract: {_q(d['description'])}", "keywords:"]
    lines += [f"  - {_q(k)}" for k in d.get("keywords", [])]
    if d.get("homepage"):
        lines.append(f"repository-code: {_q(d['homepage'])}")
    refs = [s for s in d.get("sources", []) if _doi(s.get("path", ""))]
    if refs:
        lines.append("references:")
    for s in refs:
        lines += ["  - type: article", f"    title: {_q(s['title'])}", f"    doi: {_q(_doi(s['path']) or '')}"]
        if s.get("journal"):
            lines.append(f"    journal: {_q(s['journal'])}")
        if s.get("year"):
            lines.append(f"    year: {int(s['year'])}")
        lines += ["    authors:", f"      - name: {_q(s.get('authors') or 'Unknown')}"]
    return "\n".join(lines) + "\n"


def zenodo(d: dict[str, Any]) -> str:
    meta = {
        "upload_type": "dataset",
        "title": d["title"],
        "version": d["version"],
        "creators": [{"name": a} for a in _authors(d)],
        "description": f"{d['description']} {RELEASE_CONTENTS}",
        "license": _license(d).lower(),
        "access_right": "open",
        "keywords": list(d.get("keywords", [])),
        "related_identifiers": [
            {"identifier": doi, "relation": "isDerivedFrom", "scheme": "doi", "resource_type": "publication-article"}
            for doi in (_doi(s.get("path", "")) for s in d.get("sources", [])) if doi],
    }
    return json.dumps(meta, indent=2, ensure_ascii=False) + "\n"


def readme_block(d: dict[str, Any]) -> str:
    lic = _license(d)
    src = "; ".join(f"{s['title']}, {s.get('journal', '')} {s.get('year', '')}, doi:{_doi(s['path'])}"
                    for s in d.get("sources", []) if _doi(s.get("path", "")))
    return "\n".join([
        README_START,
        f"{', '.join(_authors(d))}. *{d['title']}*, version {d['version']} ({d['created'][:10]}). Dataset.",
        f"Data licence: {lic}. Keywords: {', '.join(d.get('keywords', []))}.",
        *([f"Derived from: {src}."] if src else []),
        README_END,
    ])


def _readme(text: str, d: dict[str, Any]) -> str:
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ReleaseError(f"README.md has no citation block ({README_START} ... {README_END})")
    return text[:start] + readme_block(d) + text[end + len(README_END):]


def expected(pkg: Package) -> dict[str, str]:
    """The generated text of each file, keyed by its path in the repository."""
    d = pkg.descriptor
    return {"CITATION.cff": cff(d), ".zenodo.json": zenodo(d),
            "README.md": _readme((pkg.root / "README.md").read_text(encoding="utf-8"), d)}


def stale(pkg: Package) -> list[str]:
    """The files whose text differs from what datapackage.json gives."""
    return [name for name, text in expected(pkg).items()
            if not (pkg.root / name).exists() or (pkg.root / name).read_text(encoding="utf-8") != text]


def write(pkg: Package) -> list[Path]:
    out = []
    for name, text in expected(pkg).items():
        path = pkg.root / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            out.append(path)
    return out


def check(pkg: Package) -> None:
    bad = stale(pkg)
    if bad:
        raise ReleaseError(f"{', '.join(bad)} differ from what datapackage.json gives: run `pedall metadata "
                           "--write` (datapackage.json is the one source of the citation metadata)")
