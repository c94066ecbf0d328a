"""One source for the descriptive metadata: CITATION.cff, .zenodo.json, the README's citation block and
the overview page say what datapackage.json says, field by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import REPO, copy_fixture
from pedall import citation
from pedall.metadata import ReleaseError
from pedall.package import load_package

PKG = load_package(REPO)
D = PKG.descriptor


def _authors() -> list[str]:
    return [c["title"] for c in D["contributors"] if c.get("role") == "author"]


def test_citation_cff_field_by_field() -> None:
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["title"] == D["title"] and cff["version"] == D["version"]
    assert cff["abstract"] == D["description"]
    assert cff["keywords"] == D["keywords"]
    assert cff["license"] == D["licenses"][0]["name"]
    assert [a["name"] for a in cff["authors"]] == _authors()
    assert str(cff["date-released"]) == D["created"][:10]
    assert [f"https://doi.org/{r['doi']}" for r in cff["references"]] == [s["path"] for s in D["sources"]]


def test_zenodo_json_field_by_field() -> None:
    z = json.loads((REPO / ".zenodo.json").read_text())
    assert z["title"] == D["title"] and z["version"] == D["version"]
    assert z["description"].startswith(D["description"])
    assert z["keywords"] == D["keywords"]
    assert z["license"] == D["licenses"][0]["name"].lower()
    assert [c["name"] for c in z["creators"]] == _authors()
    assert [f"https://doi.org/{r['identifier']}" for r in z["related_identifiers"]] == [s["path"] for s in D["sources"]]


def test_readme_citation_block_and_generated_files_are_current() -> None:
    assert citation.stale(PKG) == []
    text = (REPO / "README.md").read_text()
    block = text[text.index(citation.README_START):text.index(citation.README_END)]
    for fact in (D["title"], D["version"], *D["keywords"], *_authors(), D["licenses"][0]["name"]):
        assert fact in block, fact


def test_a_hand_edit_is_refused_and_write_restores(tmp_path: Path) -> None:
    root = copy_fixture(tmp_path / "repo")
    z = root / ".zenodo.json"
    data = json.loads(z.read_text())
    data["keywords"] = data["keywords"][:5]
    z.write_text(json.dumps(data))
    pkg = load_package(root)
    with pytest.raises(ReleaseError, match=r"\.zenodo\.json differ from what datapackage\.json gives"):
        citation.check(pkg)
    assert citation.write(pkg) == [z]
    citation.check(pkg)
    # a keyword added in the one source reaches every file
    d = json.loads((root / "datapackage.json").read_text())
    d["keywords"].append("synthetic keyword")
    (root / "datapackage.json").write_text(json.dumps(d, indent=2))
    pkg = load_package(root)
    assert sorted(p.name for p in citation.write(pkg)) == [".zenodo.json", "CITATION.cff", "README.md"]
    for name in (".zenodo.json", "CITATION.cff", "README.md"):
        assert "synthetic keyword" in (root / name).read_text()


def test_overview_page_cites_from_the_descriptor(release: Path) -> None:
    html = (release / "index.html").read_text()
    cite = html[html.index('id="cite"'):]
    for fact in (*_authors(), *D["keywords"], D["sources"][0]["path"]):
        assert fact in cite, fact
