"""`pedall query` prints results as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pedall.query import run
from pedall.release import DB_NAME


def test_query_formats(release: Path) -> None:
    db = release / DB_NAME
    sql = "SELECT study_id, n_publications FROM study_summary WHERE study_id = 'fake-alpha'"
    assert json.loads(run(db, sql, "json")) == [{"study_id": "fake-alpha", "n_publications": 2}]
    assert run(db, sql, "csv") == "study_id,n_publications\nfake-alpha,2\n"
    table = run(db, sql, "table").splitlines()
    assert table[0].split() == ["study_id", "n_publications"]
    assert table[2].split() == ["fake-alpha", "2"]
    assert table[-1] == "(1 row)"


# One value of every DuckDB type a query can return. Expected text is DuckDB's own spelling of each value,
# written out by hand; the one time zone dependent value (TIMESTAMP WITH TIME ZONE) is compared as an instant.
EVERY_TYPE = """SELECT TIMESTAMPTZ '2024-01-02 03:04:05.5+00' AS tstz, TIMESTAMP '2024-01-02 03:04:05' AS ts,
  DATE '2024-01-02' AS d, TIME '13:14:15' AS t, INTERVAL 1 DAY AS i,
  '12345678-1234-5678-1234-567812345678'::UUID AS u, 170141183460469231731687303715884105727::HUGEINT AS h,
  12.345::DECIMAL(10,3) AS dec, 'nan'::DOUBLE AS nan, 'inf'::DOUBLE AS inf, '-inf'::DOUBLE AS ninf,
  [1, 2, NULL] AS l, {'a': 1, 'b': 'x'} AS s, MAP {'k': 1} AS m, '\\x00\\xff'::BLOB AS b,
  'b'::ENUM('a', 'b') AS e, NULL AS n, 'say "hi", then go' AS txt, true AS yes;"""
TEXT = {"ts": "2024-01-02 03:04:05", "d": "2024-01-02", "t": "13:14:15", "i": "1 day",
        "u": "12345678-1234-5678-1234-567812345678", "h": "170141183460469231731687303715884105727",
        "dec": "12.345", "nan": "nan", "inf": "inf", "ninf": "-inf", "l": "[1, 2, NULL]", "s": "{'a': 1, 'b': x}",
        "m": "{k=1}", "b": "\\x00\\xFF", "e": "b", "n": "", "txt": 'say "hi", then go', "yes": "true"}
INSTANT = datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)


def _cli(release: Path, sql: str, fmt: str) -> str:
    res = subprocess.run([sys.executable, "-m", "pedall.cli", "query", sql, "--release", str(release),
                          "--format", fmt], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_every_type_prints_in_csv(release: Path) -> None:
    out = _cli(release, EVERY_TYPE, "csv")
    assert out.endswith("\n") and not out.endswith("\n\n")  # no empty record at the end
    header, row = list(csv.reader(io.StringIO(out)))
    got = dict(zip(header, row, strict=True))
    assert datetime.fromisoformat(got.pop("tstz")) == INSTANT
    assert got == TEXT


def test_every_type_prints_in_a_table(release: Path) -> None:
    lines = _cli(release, EVERY_TYPE, "table").splitlines()
    assert lines[-1] == "(1 row)"
    header, rule, row = lines[0], lines[1], lines[2]
    # Cut the row at the rule's column boundaries (cells may hold spaces).
    bounds = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]
    cells = {header[a:b].strip(): row[a:b].strip() for a, b in bounds}
    assert datetime.fromisoformat(cells.pop("tstz")) == INSTANT
    assert cells == TEXT


def test_every_type_prints_in_strict_json(release: Path) -> None:
    [got] = json.loads(_cli(release, EVERY_TYPE, "json"), parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    assert datetime.fromisoformat(got.pop("tstz")) == INSTANT
    assert got == {"ts": "2024-01-02 03:04:05", "d": "2024-01-02", "t": "13:14:15", "i": "1 day",
                   "u": "12345678-1234-5678-1234-567812345678", "h": 170141183460469231731687303715884105727,
                   "dec": 12.345, "nan": None, "inf": None, "ninf": None, "l": [1, 2, None], "s": {"a": 1, "b": "x"},
                   "m": {"k": 1}, "b": "\\x00\\xFF", "e": "b", "n": None, "txt": 'say "hi", then go', "yes": True}


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_now_interval_and_uuid_print(release: Path, fmt: str) -> None:
    # The 0.3.0 failure: TIMESTAMP WITH TIME ZONE went through a conversion that needs pytz.
    out = _cli(release, "select now(), interval 1 day, uuid()", fmt)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out) and "1 day" in out
    assert re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out)


def test_several_statements_print_the_last_and_pragma_prints(release: Path) -> None:
    assert run(release, "select 1 as a; select 2 as b; -- done", "csv") == "b\n2\n"
    assert json.loads(run(release, "pragma version", "json"))[0]["library_version"].startswith("v")
