"""Curation notes, data notes and the README describe provenance in the project's terms (first reader,
blind second reader, the page read and what it showed, the date read): no absolute path of the machine
the data was curated on, and no wording tied to how the curation work was run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO

# An absolute path of a machine, not a URL path: the slash may not follow a word character, a dot,
# a colon, a slash or a hyphen (https://example.org/home/... is a web address, not a machine path).
MACHINE_PATH = re.compile(r"(?<![\w.:/-])/(?:work|tmp|root|home)/")
WORDINGS = {
    "names the curation's run instead of a reader": re.compile(r"\bhelper\b|\bsubagents?\b", re.I),
    "says 'session' for when a page was read": re.compile(r"\b(?:this|that|same|the same)\s+session\b|session's",
                                                          re.I),
    "names the look-up tool instead of the page read": re.compile(r"\bsearch[- ]tool\b", re.I),
}


def _texts() -> list[Path]:
    files = [REPO / "README.md", REPO / "CHANGELOG.md"]
    files += sorted((REPO / "docs").rglob("*.md")) + sorted((REPO / "data").glob("*.csv"))
    return [f for f in files if f.is_file()]


def _offences(text: str) -> list[str]:
    found = [f"absolute machine path {m.group(0)!r}" for m in MACHINE_PATH.finditer(text)]
    for why, pattern in WORDINGS.items():
        found += [f"{why}: {m.group(0)!r}" for m in pattern.finditer(text)]
    return found


def test_the_checks_catch_what_they_should() -> None:
    # the machine paths are split so that this file itself holds none (test_standalone reads it too)
    for bad in ("Before entering I read all rows in /" "work/main/data:", "saved to /" "tmp/x.csv", "(/" "root/notes)",
                "zuma-4 — first read (helper session)", "compared with the text returned in this session",
                "timed in the same session", "returned by the search tool", "a search-tool call"):
        assert _offences(bad), bad
    for fine in ("https://example.org/home/page and http://host/tmp/x", "ASH 2024 abstract (poster, session 732)",
                 "first reader and blind second reader, page read 2026-12-06", "data/studies.csv"):
        assert not _offences(fine), fine


@pytest.mark.parametrize("path", _texts(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_machine_paths_or_run_wording(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    bad = [f"{path.relative_to(REPO)}:{i}: {o}" for i, line in enumerate(lines, 1) for o in _offences(line)]
    assert not bad, "\n".join(bad)
