"""The edges of the row and cross-table rules, on the synthetic fixture: the last value each rule accepts
and the first it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from editing import problems, set_cell

CR = {"outcome_id": "fake-2020-alpha-cr-cri-infused"}  # 40/50 = 80%
CRS = {"ae_id": "fake-2022-gamma-crs-g3-5"}  # 1/40 = 2.5%
EFS6 = {"outcome_id": "fake-2020-alpha-efs-6m"}  # 70 (56-87.5)
EFS12 = {"outcome_id": "fake-2020-alpha-efs-12m"}  # 50 (40-62.5)
CIR12 = {"outcome_id": "fake-2020-alpha-cir-12m"}  # 20 (11-31), after 10 at 6 months


def _rules(root: Path) -> list[str]:
    return [p.rsplit("[", 1)[1].rstrip("]") for p in problems(root)]


@pytest.mark.parametrize(("table", "match", "values", "rule"), [
    ("outcomes", CR, {"n_events": "50", "estimate": "100"}, None),  # events = total
    ("outcomes", CR, {"n_events": "51", "estimate": ""}, "events-le-total"),
    ("adverse_events", CRS, {"estimate": "2"}, None),  # printed without decimals: 2.5 rounds to 2 or 3
    ("adverse_events", CRS, {"estimate": "3"}, None),
    ("adverse_events", CRS, {"estimate": "2.4"}, "percent-agrees-with-counts"),
    ("outcomes", EFS6, {"ci_lower": "70"}, None),  # a CI may touch its estimate
    ("outcomes", EFS6, {"ci_lower": "70.1"}, "ci-brackets-estimate"),
    ("outcomes", EFS6, {"ci_upper": "100"}, None),
    ("outcomes", EFS6, {"ci_upper": "100.1"}, "proportion-in-0-100"),
    ("outcomes", EFS12, {"estimate": "62", "ci_upper": "70"}, None),  # still below 70 at 6 months
    ("outcomes", EFS12, {"estimate": "70", "ci_upper": "80"}, None),  # level is not rising
    ("outcomes", EFS12, {"estimate": "71", "ci_upper": "80"}, "survival-not-rising"),
    ("outcomes", CIR12, {"estimate": "10", "ci_lower": "5"}, None),  # incidence-type: flat is fine
    ("outcomes", CIR12, {"estimate": "9", "ci_lower": "5"}, "survival-not-rising"),
])
def test_rule_edge(fixture_repo: Path, table: str, match: dict, values: dict, rule: str | None) -> None:
    assert problems(fixture_repo) == []
    set_cell(fixture_repo, table, match, **values)
    assert _rules(fixture_repo) == ([rule] if rule else [])


def test_direction_over_time_comes_from_measures_csv(fixture_repo: Path) -> None:
    set_cell(fixture_repo, "outcomes", EFS12, estimate="74", ci_upper="80")
    assert _rules(fixture_repo) == ["survival-not-rising"]
    set_cell(fixture_repo, "measures", {"measure": "efs"}, over_time="rises")  # now EFS may only rise
    assert _rules(fixture_repo) == []
    set_cell(fixture_repo, "measures", {"measure": "efs"}, over_time="")  # no direction: not checked
    assert _rules(fixture_repo) == []
