"""A corpus of damaged CSV files: each ends in clean `file:row: column: message [rule]` lines and exit 1.

Every case corrupts a scratch copy of the real package the way a hand edit or a bad export
would, runs `pedall validate` in-process (an escaping exception fails the test, which is what a
traceback would be), and checks the exit code, the problem's file, row, column and rule.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from editing import line_of, read_rows, table_path, write_rows
from pedall.cli import main

# An exception swallowed inside a library callback still prints a traceback: it must fail the test too.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


def _bytes(table: str, edit: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        p = table_path(root, table)
        p.write_bytes(edit(p.read_bytes()))
    return apply


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _replace_line(n: int, new: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    # n is the 1-based physical line (the header is line 1)
    def edit(data: bytes) -> bytes:
        lines = _lines(data)
        lines[n - 1] = new(lines[n - 1])
        return b"\n".join(lines)
    return edit


def _insert_line(n: int, line: bytes) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        lines = _lines(data)
        lines.insert(n - 1, line)
        return b"\n".join(lines)
    return edit


def _drop_column(table: str, column: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        rows = [{k: v for k, v in r.items() if k != column} for r in read_rows(root, table)]
        p = table_path(root, table)
        header = [k for k in p.read_text(encoding="utf-8").split("\n", 1)[0].split(",") if k != column]
        import csv

        with p.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    return apply


def _cell(table: str, line: int, column: str, value: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        rows = read_rows(root, table)
        rows[line - 2][column] = value
        write_rows(root, table, rows, sort=False)
    return apply


OUT, S, P, A = "data/outcomes.csv", "data/studies.csv", "data/publications.csv", "data/adverse_events.csv"
BIG = b"X" * 10_000_000

# name -> (corruption, expected problem prefix "file:row: column:", rule)
CASES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "two-extra-cells": (_bytes("outcomes", _replace_line(3, lambda ln: ln + b",x,y")), f"{OUT}:3: -:", "extra-cell"),
    "one-extra-cell-header": (_bytes("arms", _replace_line(1, lambda ln: ln + b",extra")),
                              "data/arms.csv:1: extra:", "extra-label"),
    "short-row": (_bytes("outcomes", _replace_line(4, lambda ln: ln.rsplit(b",", 3)[0])),
                  f"{OUT}:4: source_location:", "missing-cell"),
    "row-of-one-cell": (_bytes("arms", _replace_line(2, lambda ln: ln.split(b",")[0])),
                        "data/arms.csv:2: study_id:", "missing-cell"),
    "empty-file": (_bytes("outcomes", lambda d: b""), f"{OUT}:1: -:", "empty-file"),
    "blank-lines-only": (_bytes("measures", lambda d: b"\n\n"), "data/measures.csv:1: -:", "empty-file"),
    "header-only-referenced-table": (_bytes("studies", lambda d: _lines(d)[0] + b"\n"),
                                     f"{P}:2: study_id:", "foreign-key"),
    "invalid-utf8": (_bytes("studies", _replace_line(3, lambda ln: ln.replace(b",", b"\xff,", 1))),
                     f"{S}:3: -:", "encoding-error"),
    "latin1-text": (_bytes("publications", _replace_line(2, lambda ln: ln + b"\xe9")), f"{P}:2: -:",
                    "encoding-error"),
    "byte-order-mark": (_bytes("studies", lambda d: b"\xef\xbb\xbf" + d), f"{S}:1: -:", "utf8-no-bom"),
    "crlf": (_bytes("outcomes", lambda d: d.replace(b"\n", b"\r\n")), f"{OUT}:0: -:", "lf-line-endings"),
    "no-final-newline": (_bytes("arms", lambda d: d.rstrip(b"\n")), "data/arms.csv:0: -:", "lf-line-endings"),
    "nul-byte": (_bytes("outcomes", _replace_line(5, lambda ln: ln.replace(b",", b",\x00", 1))), f"{OUT}:5: -:",
                 "no-nul-bytes"),
    "unbalanced-quote": (_bytes("outcomes", _replace_line(6, lambda ln: ln.replace(b",", b',"', 1))),
                         f"{OUT}:6: -:", "csv-syntax"),
    "ten-megabyte-line": (_bytes("outcomes", _insert_line(4, BIG)), f"{OUT}:4: publication_id:", "missing-cell"),
    "ten-megabyte-id": (_bytes("outcomes", _replace_line(2, lambda ln: BIG + ln)), f"{OUT}:2: outcome_id:",
                        "constraint-error"),
    "missing-column": (_drop_column("outcomes", "note"), f"{OUT}:1: note:", "missing-label"),
    "misspelled-header": (_bytes("outcomes", _replace_line(1, lambda ln: ln.replace(b"estimate,", b"estimat,"))),
                          f"{OUT}:1: estimate:", "missing-label"),
    "duplicated-header": (_bytes("arms", _replace_line(1, lambda ln: ln.replace(b"label", b"arm_id"))),
                          "data/arms.csv:1: arm_id:", "duplicate-label"),
    "blank-header-label": (_bytes("measures", _replace_line(1, lambda ln: ln.replace(b"label", b""))),
                           "data/measures.csv:1: (column", "blank-label"),
    "columns-swapped": (_bytes("measures", lambda d: b"\n".join(
        b",".join([c.split(b",")[1], c.split(b",")[0], *c.split(b",")[2:]]) if c else c for c in _lines(d))),
        "data/measures.csv:1: -:", "incorrect-label"),
    "blank-line-inside": (_bytes("outcomes", _insert_line(5, b"")), f"{OUT}:5: -:", "blank-row"),
    "row-of-commas": (_bytes("arms", lambda d: _insert_line(3, b"," * _lines(d)[0].count(b","))(d)),
                      "data/arms.csv:3: -:", "blank-row"),
    "integer-as-word": (_cell("outcomes", 2, "n_total", "seventy"), f"{OUT}:2: n_total:", "type-error"),
    "decimal-comma": (_cell("outcomes", 2, "estimate", "11,5"), f"{OUT}:2: estimate:", "type-error"),
    "boolean-yes": (_cell("outcomes", 2, "source_discrepancy", "yes"), f"{OUT}:2: source_discrepancy:",
                    "type-error"),
    "integer-with-decimals": (_cell("participant_flow", 2, "n", "12.0"), "data/participant_flow.csv:2: n:",
                              "type-error"),
    "enum-typo": (_cell("outcomes", 2, "analysis_population", "Randomised"), f"{OUT}:2: analysis_population:",
                  "constraint-error"),
    "pattern-uppercase-id": (_cell("studies", 2, "study_id", "AALL1331"), f"{S}:2: study_id:", "constraint-error"),
    "required-empty": (_cell("publications", 2, "title", ""), f"{P}:2: title:", "constraint-error"),
    "below-minimum": (_cell("outcomes", 2, "n_events", "-1"), f"{OUT}:2: n_events:", "constraint-error"),
    "above-maximum": (_cell("adverse_events", 2, "grade_max", "6"), f"{A}:2: grade_max:", "constraint-error"),
    "integer-keys-out-of-order": (_bytes("references", lambda d: b"\n".join(
        [*_lines(d)[:9], _lines(d)[10], _lines(d)[9], *_lines(d)[11:]])), "seeds/references.csv:11: ref_no:",
        "sorted-by-primary-key"),
    "key-empty": (_cell("outcomes", 2, "outcome_id", ""), f"{OUT}:2: outcome_id:", "key-not-empty"),
    "unknown-foreign-key": (_cell("outcomes", 2, "arm_id", "aall1331/nope"), f"{OUT}:2: arm_id:", "foreign-key"),
    "quoted-newline-in-id": (_cell("outcomes", 2, "outcome_id", "brown\n2021"), f"{OUT}:2: outcome_id:",
                             "constraint-error"),
    "file-deleted": (lambda r: table_path(r, "measures").unlink(), "data/measures.csv:0: -:", "missing-file"),
    "unknown-field-type": (lambda r: (r / "schemas/measures.schema.json").write_text(
        (r / "schemas/measures.schema.json").read_text().replace('"type": "string"', '"type": "strang"', 1)),
        "schemas/measures.schema.json:0: -:", "field-error"),
}


def _validate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["--root", str(root), "validate"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_file_is_reported_cleanly(repo: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    corrupt, prefix, rule = CASES[case]
    corrupt(repo)
    code, lines = _validate(repo, capsys)
    assert code == 1, lines
    assert any(ln.startswith(prefix) and ln.endswith(f"[{rule}]") for ln in lines), (prefix, rule, lines[:10])
    # every line but the summary is in the one grammar
    assert all(ln.endswith("]") and ": " in ln for ln in lines[:-1]), lines[:10]
    assert lines[-1].startswith("pedall: ")


def test_one_short_row_is_one_problem(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _bytes("outcomes", _replace_line(4, lambda ln: ln.rsplit(b",", 3)[0]))(repo)
    code, lines = _validate(repo, capsys)
    assert code == 1
    assert len(lines) == 2, lines  # the problem and the summary


def test_long_cell_in_free_text_is_valid(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A 10 MB note is odd but valid CSV and valid data: the careful reader must accept it.
    _cell("outcomes", 2, "note", "x" * 10_000_000)(repo)
    code, lines = _validate(repo, capsys)
    assert code == 0, lines[:5]


def test_order_problem_does_not_hide_row_rules(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Rows out of key order are a layer-1 problem, not a structural one: the rules still run.
    rows = read_rows(repo, "outcomes")
    rows[0], rows[1] = rows[1], rows[0]
    line = rows.index(next(r for r in rows if r["outcome_id"] == "maude-2018-nejm-cr_cri-3m")) + 2
    rows[line - 2]["n_events"] = "80"
    write_rows(repo, "outcomes", rows, sort=False)
    code, lines = _validate(repo, capsys)
    assert code == 1
    assert any(ln.endswith("[sorted-by-primary-key]") for ln in lines)
    assert f"{OUT}:{line}: n_events: 80 events exceed n_total 75 [events-le-total]" in lines
    assert line_of(repo, "outcomes", outcome_id="maude-2018-nejm-cr_cri-3m") == line
