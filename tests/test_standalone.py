"""The repository stands alone: nothing it tracks points outside it, and the review's bibliography is in seeds/."""

from __future__ import annotations

import csv
import posixpath
import re
import subprocess

from conftest import REPO

BIBLIOGRAPHY = REPO / "seeds" / "review-references.txt"

# Folders that exist only on the machine a file was written on. Spelled in pieces so that this file,
# which is tracked too, does not hold them.
_MACHINE = "|".join(("wo" + "rk", "ro" + "ot", "ho" + "me", "Us" + "ers"))
_TEMP = "|".join(("tm" + "p", "va" + "r", "mn" + "t", "sr" + "v", "op" + "t", "priv" + "ate"))
# An absolute path starts a token: not part of a URL (host/path) or of a longer relative path.
_ABSOLUTE = r"(?<![\w.~:/\\-])/(?:{})/"
MACHINE_PATH = re.compile(_ABSOLUTE.format(_MACHINE))
ANY_ABSOLUTE = re.compile(_ABSOLUTE.format(f"{_MACHINE}|{_TEMP}"))
PARENT = re.compile(r"(?<![\w./])((?:\.\./)+[\w.\-/]*)")
# Text that documents or configures the package (not code): here even a temporary folder or a `..`
# leading out of the repository is a reference to something a fresh clone does not have. Code builds
# paths as data (a test's hostile zip holds `../` names; .ci/run names /usr/bin tools), so there only
# this machine's own folders and a `shared` folder beside the clone are refused.
DOC_SUFFIXES = {".md", ".csv", ".json", ".cff", ".txt", ".toml", ".yml", ".yaml", ".sql", ".cfg", ".ini",
                ".lock", ".sha256", ".html"}
DOC_NAMES = {"Makefile", "LICENSE", ".gitignore"}


def _tracked() -> list[str]:
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p and (REPO / p).is_file()]


def _text(rel: str) -> str | None:
    try:
        return (REPO / rel).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None  # a binary file names no path


def outside_references(rel: str, text: str) -> list[str]:
    """The paths in tracked file `rel` (text `text`) that lead outside the repository."""
    name = posixpath.basename(rel)
    doc = name in DOC_NAMES or posixpath.splitext(name)[1] in DOC_SUFFIXES
    found = [m.group(0) for m in (ANY_ABSOLUTE if doc else MACHINE_PATH).finditer(text)]
    found += [m.group(0) for m in re.finditer(r"\.\./shared\b", text)]
    if doc:
        here = posixpath.dirname(rel)
        found += [m.group(1) for m in PARENT.finditer(text)
                  if posixpath.normpath(posixpath.join(here, m.group(1))).startswith("..")]
    return found


def test_the_rule_catches_what_it_should_and_nothing_else() -> None:
    # The rule itself, on hand-made lines, before it is trusted with the repository.
    assert outside_references("README.md", "see `../" + "shared/seeds/review-references.txt`") != []
    assert outside_references("README.md", "built in " + "/wo" + "rk/main/dist") != []
    assert outside_references("docs/curation/x.md", "unpacked to " + "/tm" + "p/x") != []
    assert outside_references("docs/curation/x.md", "as in ../../seeds/references.csv") == []  # inside
    assert outside_references("docs/curation/x.md", "as in ../../../elsewhere.csv") != []
    assert outside_references("README.md", "https://example.org/home/x and http://h/tmp/y") == []
    assert outside_references("README.md", "URL form .../table/tbl1, /path/to/pedall-0.4.0") == []
    assert outside_references("tests/test_x.py", 'zf.writestr("top/../../evil", "")') == []
    assert outside_references(".ci/run", "/usr/bin/chromium; cd /tmp") == []
    assert outside_references("tests/test_x.py", "open('" + "/ro" + "ot/.netrc')") != []


def test_no_tracked_file_refers_to_a_path_outside_the_repository() -> None:
    bad = []
    for rel in _tracked():
        text = _text(rel)
        if text is not None:
            bad += [f"{rel}: {ref}" for ref in outside_references(rel, text)]
    assert bad == []


def test_the_bibliography_is_in_seeds_and_every_reference_is_in_references_csv() -> None:
    # The journal page as supplied: its reference list runs from the line "References" to "Downloads".
    lines = BIBLIOGRAPHY.read_text(encoding="utf-8").splitlines()
    refs = [line for line in lines[lines.index("References") + 1:lines.index("Downloads")] if line.strip()]
    with (REPO / "seeds" / "references.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(refs) == len(rows) == 72
    for n, (line, row) in enumerate(zip(refs, rows, strict=True), start=1):
        assert row["ref_no"] == str(n)
        first_author = re.match(r"[^,.]+", line).group(0).strip()  # "Hunger SP, Mullighan CG. ..."
        assert (first_author, row["year"] in line) == (row["first_author"], True), (n, line[:60])
    assert "`seeds/review-references.txt`" in (REPO / "README.md").read_text(encoding="utf-8")
