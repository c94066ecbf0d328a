"""`pedall query` prints results as a table, CSV or JSON."""

from __future__ import annotations

import json
from pathlib import Path

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
