"""The per-study statistics of estimates.py against hand-computed values and another library, and the
views that compute the same quantities in SQL against those functions, row by row on the curated release."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportion_confint

from conftest import query_db
from pedall.estimates import (
    clopper_pearson,
    counts_matching,
    decimals_of,
    derived_count,
    plo,
    se_from_ci,
    wilson,
    zero_cell,
)
from pedall.release import DB_NAME


def test_derived_counts_by_hand() -> None:
    # ZUMA-4: 21% of 24 treated. 4/24 = 16.7, 5/24 = 20.8, 6/24 = 25.0: only 5 rounds to 21
    assert counts_matching(21, 24) == [5] and derived_count(21, 24) == 5
    # 93% of 110: 102/110 = 92.73 rounds to 93; 101/110 = 91.8 and 103/110 = 93.6 do not
    assert derived_count(93, 110) == 102
    # 86% of 578: 495/578 = 85.64 ... 499/578 = 86.33 all round to 86, so no count is derived
    assert counts_matching(86, 578) == [495, 496, 497, 498, 499] and derived_count(86, 578) is None
    # one decimal printed: 20.8% of 24 is 5 (20.83); 20.9% of 24 matches nothing
    assert derived_count(20.8, 24) == 5 and counts_matching(20.9, 24) == []
    # an exact half either way: 12.5% of 8 is 1; 0% and 100% are 0 and n
    assert derived_count(12.5, 8) == 1 and derived_count(0, 15) == 0 and derived_count(100, 15) == 15
    assert decimals_of(21.0) == 0 and decimals_of(20.8) == 1 and decimals_of(8.333) == 3
    assert decimals_of(1 / 3) is None and derived_count(1 / 3, 10) is None


def test_proportion_intervals_against_statsmodels() -> None:
    for x, n in ((0, 12), (7, 12), (12, 12), (10, 55), (65, 79)):
        for level in (90.0, 95.0, 99.0):
            alpha = 1 - level / 100
            assert clopper_pearson(x, n, level) == pytest.approx(proportion_confint(x, n, alpha, "beta"), abs=1e-12)
            assert wilson(x, n, level) == pytest.approx(proportion_confint(x, n, alpha, "wilson"), abs=1e-12)
    # by hand: an exact 95% CI of 0/12 has upper bound 1 - 0.025^(1/12)
    assert clopper_pearson(0, 12)[1] == pytest.approx(1 - 0.025 ** (1 / 12), abs=1e-12)


def test_zero_cell_and_logit_by_hand() -> None:
    assert zero_cell(0, 12) == (0.5, 13.0) and zero_cell(12, 12) == (12.5, 13.0) and zero_cell(3, 12) == (3, 12)
    yi, vi = plo(0, 12)
    assert yi == pytest.approx(math.log(0.5 / 12.5)) and vi == pytest.approx(1 / 0.5 + 1 / 12.5)
    yi, vi = plo(10, 55)
    assert yi == pytest.approx(math.log(10 / 45)) and vi == pytest.approx(1 / 10 + 1 / 45)


def test_standard_error_from_a_ci_by_hand() -> None:
    assert se_from_ci(40, 64, 95) == pytest.approx(24 / (2 * 1.959963984540054))
    assert se_from_ci(20, 80, 90) == pytest.approx(60 / (2 * 1.6448536269514722))
    # on a decreasing scale the width is still positive
    assert se_from_ci(0.4, 0.6, 95, lambda p: math.log(-math.log(p))) == pytest.approx(
        (math.log(-math.log(0.4)) - math.log(-math.log(0.6))) / (2 * 1.959963984540054))


def test_the_views_compute_what_the_functions_compute(real_release: Path) -> None:
    db = real_release / DB_NAME
    rows = query_db(db, "SELECT xi, ni, wilson_lower_percent, wilson_upper_percent, yi, vi FROM binary_outcomes")
    assert len(rows) > 50
    for x, n, lo, hi, yi, vi in rows:
        w = wilson(x, n)
        assert (lo, hi) == pytest.approx((100 * w[0], 100 * w[1]), abs=1e-9), (x, n)
        assert (yi, vi) == pytest.approx(plo(x, n), abs=1e-9), (x, n)
    surv = query_db(db, "SELECT ci_lower, ci_upper, ci_level, se_percent FROM survival_outcomes "
                     "WHERE se_percent IS NOT NULL")
    assert surv
    for lo, hi, level, se in surv:
        assert se == pytest.approx(se_from_ci(lo, hi, level), abs=1e-9)
    # every count the views derive, and every count they do not, is what derived_count says
    derived = query_db(db, """
        SELECT c.row_id, c.n_events, c.n_total, c.events_derived, c.n_counts_matching, r.estimate, r.n
        FROM proportion_counts c JOIN (
          SELECT outcome_id AS row_id, estimate, n_total AS n FROM outcomes WHERE estimate_type = 'proportion'
          UNION ALL SELECT ae_id, estimate, n_total FROM adverse_events) r USING (row_id)
        WHERE c.n_counts_matching IS NOT NULL""")
    made = [r for r in derived if r[3]]
    assert len(made) >= 3, derived  # ZUMA-4's neurologic events, Zhang 2020's remission, CIBMTR's CR at least
    for row_id, x, n, is_derived, matching, estimate, own_n in derived:
        if own_n is not None:
            assert matching == len(counts_matching(estimate, own_n)), row_id
        if is_derived:
            assert x == derived_count(estimate, n) and matching == 1, row_id
        else:
            assert x is None, row_id
    assert ("wayne-2023-haematologica-neurologic_event-g3-5-all", 5, 24) in {(r[0], r[1], r[2]) for r in made}
