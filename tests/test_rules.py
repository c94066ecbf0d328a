"""Every layer-2 and layer-3 rule, on every table it applies to, rejects a corrupted copy with the right line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from editing import add_row, line_of, problems, set_cell
from pedall.checks import row_rules
from pedall.checks.row_rules import Rule

OUT, AE, CH, PF = "data/outcomes.csv", "data/adverse_events.csv", "data/characteristics.csv", \
    "data/participant_flow.csv"
EFS6 = {"outcome_id": "maude-2018-nejm-efs-6m"}
CR = {"outcome_id": "maude-2018-nejm-cr_cri-3m"}
AE_ROW = {"ae_id": "laetsch-2023-jco-any_ae-g3-4"}


def _other_study(r: Path) -> None:
    add_row(r, "studies", study_id="other", design="single_arm", setting="relapsed_refractory",
            intervention_class="cd19_car_t", registry_note="made-up study for tests: no registry id")
    add_row(r, "publications", publication_id="doe-2020-x", study_id="other", first_author="Doe J",
            year="2020", journal="X", title="T", report_type="primary", evidence_read="abstract")
    add_row(r, "arms", arm_id="other/a", study_id="other", label="A", role="single_arm")


def _first(r: Path, table: str) -> dict[str, str]:
    from editing import read_rows

    return read_rows(r, table)[0]


def _key(table: str, row: dict[str, str], r: Path) -> dict[str, str]:
    from pedall.package import load_package

    return {k: row[k] for k in load_package(r).tables[table].primary_key}


def _events_ae(r: Path) -> str:
    from editing import read_rows

    row = next(x for x in read_rows(r, "adverse_events") if x["n_total"])  # the rule needs a total
    return f"{AE}:{set_cell(r, 'adverse_events', _key('adverse_events', row, r), n_events='999')}: n_events:"


def _events_characteristics(r: Path) -> str:
    from editing import read_rows

    row = next(x for x in read_rows(r, "characteristics") if x["n_total"] and x["n"])
    line = set_cell(r, "characteristics", _key("characteristics", row, r), n=str(int(row["n_total"]) + 1))
    return f"{CH}:{line}: n:"


def _percent_ae(r: Path) -> str:
    from editing import read_rows

    row = next(x for x in read_rows(r, "adverse_events") if x["estimate"] and x["n_events"] and x["n_total"])
    est = float(row["estimate"]) + 7
    return f"{AE}:{set_cell(r, 'adverse_events', {'ae_id': row['ae_id']}, estimate=f'{est:g}')}: estimate:"


def _ci_lower_above_upper(r: Path) -> str:
    # estimate 69 outside [75, 60] as well; the point is the reversed interval
    return f"{OUT}:{set_cell(r, 'outcomes', EFS6, ci_lower='80', ci_upper='60')}: estimate:"


def _percent_estimate(r: Path) -> str:
    line = set_cell(r, "outcomes", EFS6, estimate="101", ci_lower="", ci_upper="", ci_level="")
    return f"{OUT}:{line}: estimate:"


def _percent_ci_lower(r: Path) -> str:
    return f"{OUT}:{set_cell(r, 'outcomes', EFS6, ci_lower='-5')}: ci_lower:"


def _hazard_ratio(r: Path, **extra: str) -> None:
    add_row(r, "outcomes", outcome_id="maude-2018-nejm-hr", publication_id="maude-2018-nejm",
            arm_id="eliana/tisagenlecleucel", measure="efs", analysis_population="infused",
            estimate_type="hazard_ratio", estimate="0.5", unit="ratio", source_location="abstract",
            value_origin="reported", **extra)


def _hr_without_comparator(r: Path) -> str:
    _hazard_ratio(r)
    return f"{OUT}:{line_of(r, 'outcomes', outcome_id='maude-2018-nejm-hr')}: comparator_arm_id:"


def _hr_against_itself(r: Path) -> str:
    _hazard_ratio(r, comparator_arm_id="eliana/tisagenlecleucel")
    return f"{OUT}:{line_of(r, 'outcomes', outcome_id='maude-2018-nejm-hr')}: comparator_arm_id:"


def _cumulative_incidence_falls(r: Path) -> str:
    for months, value in (("6", "20"), ("12", "15")):
        add_row(r, "outcomes", outcome_id=f"maude-2018-nejm-cir-{months}m-test", publication_id="maude-2018-nejm",
                arm_id="eliana/tisagenlecleucel", measure="cir", analysis_population="infused",
                timepoint_months=months, estimate_type="cumulative_incidence", estimate=value, unit="percent",
                source_location="abstract", value_origin="reported")
    return f"{OUT}:{line_of(r, 'outcomes', outcome_id='maude-2018-nejm-cir-12m-test')}: estimate:"


def _arm_of_other_study(table: str, path: str) -> Callable[[Path], str]:
    def corrupt(r: Path) -> str:
        _other_study(r)
        row = _first(r, table)
        return f"{path}:{set_cell(r, table, _key(table, row, r), arm_id='other/a')}: arm_id:"
    return corrupt


PE = "data/published_estimates.csv"


def _estimate_line(r: Path) -> int:
    return line_of(r, "published_estimates", estimate_id="doe-2024-sr/cr")


def _review(r: Path) -> None:
    add_row(r, "publications", publication_id="doe-2024-sr", first_author="Doe J", year="2024", journal="X",
            title="A meta-analysis", report_type="systematic_review", evidence_read="abstract")


def _estimate(r: Path, **extra: str) -> None:
    add_row(r, "published_estimates", **{
        "estimate_id": "doe-2024-sr/cr", "publication_id": "doe-2024-sr", "question": "CR/CRi",
        "intervention_class": "cd19_car_t", "endpoint": "cr_cri", "design_set": "all", "model": "random",
        "tau2_method": "DL", "transform": "logit", "effect_measure": "proportion", "estimate": "80",
        "ci_lower": "70", "ci_upper": "88", "ci_level": "95", "source_location": "abstract",
        "value_origin": "reported", **extra})


def _review_with_study(r: Path) -> str:
    _review(r)
    line = set_cell(r, "publications", {"publication_id": "doe-2024-sr"}, study_id="eliana")
    return f"data/publications.csv:{line}: study_id:"


def _report_without_study(r: Path) -> str:
    line = set_cell(r, "publications", {"publication_id": "maude-2018-nejm"}, study_id="")
    return f"data/publications.csv:{line}: study_id:"


def _outcome_from_review(r: Path) -> str:
    _review(r)
    return f"{OUT}:{set_cell(r, 'outcomes', CR, publication_id='doe-2024-sr')}: publication_id:"


def _estimate_from_trial_report(r: Path) -> str:
    _estimate(r, publication_id="maude-2018-nejm")
    return f"{PE}:{_estimate_line(r)}: publication_id:"


def _estimate_outside_ci(r: Path) -> str:
    _review(r)
    _estimate(r, estimate="95")
    return f"{PE}:{_estimate_line(r)}: estimate:"


def _estimate_class_outside_studies_enum(r: Path) -> str:
    # the enumeration is the studies', taken over by enumFrom: a value studies cannot hold is refused here too
    _review(r)
    _estimate(r, intervention_class="cd19_cart")
    return f"{PE}:{_estimate_line(r)}: intervention_class:"


CASES: dict[str, tuple[Callable[[Path], str], str]] = {
    "study-unless-review/review-with-study": (_review_with_study, "study-unless-review"),
    "study-unless-review/report-without-study": (_report_without_study, "study-unless-review"),
    "value-not-from-review/outcomes": (_outcome_from_review, "value-not-from-review"),
    "estimate-from-review/trial-report": (_estimate_from_trial_report, "estimate-from-review"),
    "ci-brackets-estimate/published-estimate": (_estimate_outside_ci, "ci-brackets-estimate"),
    "enum/published-estimate-class": (_estimate_class_outside_studies_enum, "constraint-error"),
    "events-le-total/adverse_events": (_events_ae, "events-le-total"),
    "events-le-total/characteristics": (_events_characteristics, "events-le-total"),
    "percent-agrees-with-counts/adverse_events": (_percent_ae, "percent-agrees-with-counts"),
    "ci-brackets-estimate/lower-above-upper": (_ci_lower_above_upper, "ci-brackets-estimate"),
    "proportion-in-0-100/estimate": (_percent_estimate, "proportion-in-0-100"),
    "proportion-in-0-100/ci_lower": (_percent_ci_lower, "proportion-in-0-100"),
    "comparator-for-effects/hazard-ratio-without-comparator": (_hr_without_comparator, "comparator-for-effects"),
    "comparator-for-effects/compared-with-own-arm": (_hr_against_itself, "comparator-for-effects"),
    "survival-not-rising/cumulative-incidence-falls": (_cumulative_incidence_falls, "survival-not-rising"),
    **{f"publication-reports-arm-study/{t}": (_arm_of_other_study(t, p), "publication-reports-arm-study")
       for t, p in (("participant_flow", PF), ("characteristics", CH), ("adverse_events", AE))},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_rejects_corruption(repo: Path, case: str) -> None:
    corrupt, rule = CASES[case]
    prefix = corrupt(repo)
    found = problems(repo)
    assert any(p.startswith(prefix) and p.endswith(f"[{rule}]") for p in found), (prefix, rule, found)


def test_every_rule_has_a_test_on_every_table() -> None:
    # The rule tests here and in test_validation.py together cover each (rule, table) pair.
    from test_validation import CASES as BASIC

    covered = {c.split("/")[0] for c in CASES} | {
        "events-le-total", "percent-agrees-with-counts", "ci-brackets-estimate", "ci-needs-level",
        "proportion-in-0-100", "unit-required", "comparator-for-effects", "survival-not-rising",
        "grade-min-le-max", "count-or-value",
        "registry-id-or-note"}  # tested in test_identifiers.py
    assert {r.name for r in row_rules.RULES} <= covered
    assert len(BASIC) >= 25


def test_a_rule_that_raises_fails_validation(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(df, raw):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(row_rules, "RULES", (*row_rules.RULES, Rule("broken", ("outcomes",), "estimate", broken,
                                                                      lambda row: "never")))
    found = problems(repo)
    assert any(p.startswith(f"{OUT}:0: estimate: rule broken failed to run: ZeroDivisionError")
               and p.endswith("[rule-error]") for p in found), found


def test_a_rule_that_returns_nonsense_fails_validation(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(row_rules, "RULES", (Rule("silent", ("outcomes",), "estimate", lambda d, r: None,
                                                  lambda row: "never"),))
    assert any(p.endswith("[rule-error]") for p in problems(repo))


def test_a_rule_whose_message_fails_is_reported(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(row_rules, "RULES", (Rule("bad-message", ("outcomes",), "estimate",
                                                  lambda d, r: d["estimate"].isna(), lambda row: row["nope"]),))
    set_cell(repo, "outcomes", CR, estimate="")  # so that one row fails and its message is built
    assert any(p.endswith("[rule-error]") for p in problems(repo))


def test_a_broken_cross_table_check_fails_validation(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pedall.checks import cross_table

    def broken(*args):  # type: ignore[no-untyped-def]
        raise KeyError("study_id")

    monkeypatch.setattr(cross_table, "_study_has", broken)
    found = problems(repo)
    assert any(p.startswith("datapackage.json:0: -: cross-table checks failed to run: KeyError")
               and p.endswith("[rule-error]") for p in found), found


def test_a_broken_table_schema_check_fails_validation(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pedall.checks import table_schema

    def broken(*args):  # type: ignore[no-untyped-def]
        raise KeyError("outcome_id")

    monkeypatch.setattr(table_schema, "_keys", broken)
    found = problems(repo)
    assert f"{OUT}:0: -: Table Schema checks failed to run: KeyError: 'outcome_id' [rule-error]" in found, found
