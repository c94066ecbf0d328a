"""The release's summary_candidates.csv: the ranked candidate figures of every study, as the database's
views give them, for readers without DuckDB (the R loader's pedall_candidates reads it).

One rule: the file is the views' own output (summary_outcome_candidates and
summary_adverse_event_candidates), so R, study_summary, coverage and pedall pool choose the same figure.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from .rpackage import r_cell  # one way of writing a cell R reads back

NAME = "summary_candidates.csv"

# source_table, family or event group, lowest grade (adverse events), then the columns both views share
_SQL = """
SELECT c.*, CAST(d.design AS VARCHAR) AS design, d.design_group FROM (
SELECT 'outcomes' AS source_table, family, CAST(NULL AS BIGINT) AS grade_min, study_id, arm_id, whole_study,
       outcome_id AS row_id, publication_id, response_definition, member_rank, kind, analysis_population,
       timepoint_months, estimate_type, n_events, n_total, events_derived, estimate, ci_level, ci_lower, ci_upper,
       CAST(NULL AS VARCHAR) AS attribution, CAST(NULL AS VARCHAR) AS summed_from,
       CAST(NULL AS VARCHAR) AS grade_basis, third_party, poolable, unpoolable_reason, pick
FROM summary_outcome_candidates
UNION ALL
SELECT 'adverse_events', event_group, grade_min, study_id, arm_id, whole_study, ae_id, publication_id,
       response_definition,
       NULL, 'binary', analysis_population, NULL, 'proportion', n_events, n_total, events_derived, estimate,
       NULL, NULL, NULL, attribution, summed_from, grade_basis, third_party, poolable, unpoolable_reason, pick
FROM summary_adverse_event_candidates
) c JOIN study_designs d USING (study_id)
ORDER BY source_table DESC, family, grade_min, study_id, timepoint_months NULLS FIRST, estimate_type, pick
"""



def write(db: Path, path: Path) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute(_SQL)
        cols = [c[0] for c in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(cols)
        w.writerows([r_cell(v) for v in r] for r in rows)
