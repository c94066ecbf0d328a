"""Every validation rule rejects a corrupted copy of the synthetic fixture with the right file:row: column message."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import REPO
from editing import add_row, line_of, problems, read_rows, set_cell, table_path, write_rows

OUT = "data/outcomes.csv"
CR = {"outcome_id": "fake-2020-alpha-cr-cri-infused"}
EFS6 = {"outcome_id": "fake-2020-alpha-efs-6m"}
EFS12 = {"outcome_id": "fake-2020-alpha-efs-12m"}
AE = {"ae_id": "fake-2020-alpha-crs-g3-5"}
PUB = "fake-2020-alpha"
ARM = "fake-alpha/car"


def add_other_study(root: Path, with_publication: bool = True, with_arm: bool = True) -> None:
    add_row(root, "studies", study_id="other", design="single_arm", setting="relapsed_refractory",
            intervention_class="cd19_car_t", registry_note="made-up study for tests: no registry id")
    if with_publication:
        add_row(root, "publications", publication_id="doe-2020-x", study_id="other", first_author="Doe J",
                year="2020", journal="X", title="T", report_type="primary", evidence_read="abstract")
    if with_arm:
        add_row(root, "arms", arm_id="other/a", study_id="other", label="A", role="single_arm")


def _type_error(r: Path) -> tuple[str, str]:
    return f"{OUT}:{set_cell(r, 'outcomes', CR, n_total='seventy')}: n_total:", "type-error"


def _enum(r: Path) -> tuple[str, str]:
    return f"{OUT}:{set_cell(r, 'outcomes', CR, analysis_population='everyone')}: analysis_population:", \
        "constraint-error"


def _pattern(r: Path) -> tuple[str, str]:
    line = set_cell(r, "publications", {"publication_id": PUB}, doi="doi:10.1056/x")
    return f"data/publications.csv:{line}: doi:", "constraint-error"


def _required(r: Path) -> tuple[str, str]:
    line = set_cell(r, "publications", {"publication_id": PUB}, title="")
    return f"data/publications.csv:{line}: title:", "constraint-error"


def _primary_key(r: Path) -> tuple[str, str]:
    rows = read_rows(r, "outcomes")
    rows.append(dict(rows[0]))
    write_rows(r, "outcomes", rows)
    return f"{OUT}:3: outcome_id:", "primary-key"


def _foreign_key(r: Path) -> tuple[str, str]:
    return f"{OUT}:{set_cell(r, 'outcomes', CR, measure='cr_crx')}: measure:", "foreign-key"


def _key_not_empty(r: Path) -> tuple[str, str]:
    line = set_cell(r, "participant_flow", {"publication_id": PUB, "stage": "infused"}, stage="")
    return f"data/participant_flow.csv:{line}: stage:", "key-not-empty"


def _unsorted(r: Path) -> tuple[str, str]:
    rows = read_rows(r, "outcomes")
    rows[0], rows[1] = rows[1], rows[0]
    write_rows(r, "outcomes", rows, sort=False)
    return f"{OUT}:3: outcome_id:", "sorted-by-primary-key"


def _crlf(r: Path) -> tuple[str, str]:
    p = table_path(r, "arms")
    p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))
    return "data/arms.csv:0: -:", "lf-line-endings"


def _events_gt_total(r: Path) -> tuple[str, str]:
    return f"{OUT}:{set_cell(r, 'outcomes', CR, n_events='80')}: n_events:", "events-le-total"


def _percent(r: Path) -> tuple[str, str]:
    return f"{OUT}:{set_cell(r, 'outcomes', CR, estimate='85')}: estimate:", "percent-agrees-with-counts"


def _ci_brackets(r: Path) -> tuple[str, str]:
    return f"{OUT}:{set_cell(r, 'outcomes', EFS6, ci_lower='75')}: estimate:", "ci-brackets-estimate"


def _ci_level(r: Path) -> tuple[str, str]:
    return f"{OUT}:{set_cell(r, 'outcomes', EFS6, ci_level='')}: ci_level:", "ci-needs-level"


def _percent_range(r: Path) -> tuple[str, str]:
    return f"{OUT}:{set_cell(r, 'outcomes', EFS6, ci_upper='120')}: ci_upper:", "proportion-in-0-100"


def _unit(r: Path) -> tuple[str, str]:
    return f"{OUT}:{set_cell(r, 'outcomes', EFS6, unit='')}: unit:", "unit-required"


def _comparator_on_non_effect(r: Path) -> tuple[str, str]:
    line = set_cell(r, "outcomes", EFS6, comparator_arm_id=ARM)
    return f"{OUT}:{line}: comparator_arm_id:", "comparator-for-effects"


def _survival_rises(r: Path) -> tuple[str, str]:
    line = set_cell(r, "outcomes", EFS12, estimate="74", ci_upper="80")
    return f"{OUT}:{line}: estimate:", "survival-not-rising"


def _grades(r: Path) -> tuple[str, str]:
    line = set_cell(r, "adverse_events", AE, grade_min="5", grade_max="4")
    return f"data/adverse_events.csv:{line}: grade_min:", "grade-min-le-max"


def _count_or_value(r: Path) -> tuple[str, str]:
    add_row(r, "characteristics", publication_id=PUB, arm_id=ARM,
            population="infused", characteristic="male", source_location="table_1", value_origin="reported")
    line = line_of(r, "characteristics", publication_id=PUB, characteristic="male")
    return f"data/characteristics.csv:{line}: value:", "count-or-value"


def _arm_of_other_study(r: Path) -> tuple[str, str]:
    add_other_study(r)
    return f"{OUT}:{set_cell(r, 'outcomes', EFS6, arm_id='other/a')}: arm_id:", "publication-reports-arm-study"


def _comparator_other_study(r: Path) -> tuple[str, str]:
    add_other_study(r)
    add_row(r, "outcomes", outcome_id="fake-2020-alpha-hr", publication_id=PUB,
            arm_id=ARM, comparator_arm_id="other/a", measure="efs",
            analysis_population="infused", estimate_type="hazard_ratio", estimate="0.5", unit="ratio",
            source_location="abstract", value_origin="reported")
    return f"{OUT}:{line_of(r, 'outcomes', outcome_id='fake-2020-alpha-hr')}: comparator_arm_id:", \
        "comparator-same-study"


def _study_without_publication(r: Path) -> tuple[str, str]:
    add_other_study(r, with_publication=False)
    return f"data/studies.csv:{line_of(r, 'studies', study_id='other')}: study_id:", "study-has-publication"


def _study_without_arm(r: Path) -> tuple[str, str]:
    add_other_study(r, with_arm=False)
    return f"data/studies.csv:{line_of(r, 'studies', study_id='other')}: study_id:", "study-has-arm"


def _review_ref_of_other_study(r: Path) -> tuple[str, str]:
    line = set_cell(r, "publications", {"publication_id": PUB}, review_ref="2")  # fake-beta's reference
    return f"data/publications.csv:{line}: review_ref:", "review-ref-matches-study"


def _included_but_uncurated(r: Path) -> tuple[str, str]:
    line = set_cell(r, "references", {"ref_no": "4"}, included="true", study_id="fake-alpha", exclusion_reason="")
    return f"seeds/references.csv:{line}: included:", "included-reference-is-curated"


CASES: dict[str, Callable[[Path], tuple[str, str]]] = {
    f.__name__.lstrip("_"): f for f in (
        _type_error, _enum, _pattern, _required, _primary_key, _foreign_key, _key_not_empty, _unsorted,
        _crlf, _events_gt_total, _percent, _ci_brackets, _ci_level, _percent_range, _unit,
        _comparator_on_non_effect, _survival_rises, _grades, _count_or_value, _arm_of_other_study,
        _comparator_other_study, _study_without_publication, _study_without_arm,
        _review_ref_of_other_study, _included_but_uncurated,
    )
}


def test_real_data_is_valid() -> None:
    assert problems(REPO) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_corruption_is_reported(fixture_repo: Path, case: str) -> None:
    repo = fixture_repo
    assert problems(repo) == []
    prefix, rule = CASES[case](repo)
    found = problems(repo)
    assert any(p.startswith(prefix) and p.endswith(f"[{rule}]") for p in found), (prefix, rule, found)


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pedall.cli", "--root", str(root), *args],
                          capture_output=True, text=True, check=False)


def test_cli_lists_every_problem_and_fails_without_traceback(fixture_repo: Path) -> None:
    repo = fixture_repo
    _events_gt_total(repo)
    _grades(repo)
    res = _cli(repo, "validate")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.endswith("]")]
    assert any("[events-le-total]" in ln for ln in lines)
    assert any("[grade-min-le-max]" in ln for ln in lines)


def test_build_of_invalid_data_writes_nothing(fixture_repo: Path, tmp_path: Path) -> None:
    repo = fixture_repo
    _percent(repo)
    dist = tmp_path / "dist"
    res = _cli(repo, "build", "--dist", str(dist))
    assert res.returncode == 1
    assert "[percent-agrees-with-counts]" in res.stderr
    assert not dist.exists() or not any(dist.iterdir())


def test_source_discrepancy_flag_exempts_only_the_flagged_row(fixture_repo: Path) -> None:
    repo = fixture_repo
    # The flag records that the source itself prints a percent its counts do not give; the
    # percent rule then leaves that row alone, and only that row.
    line = set_cell(repo, "outcomes", CR, estimate="85", source_discrepancy="true")
    assert problems(repo) == []
    set_cell(repo, "outcomes", CR, source_discrepancy="")
    assert f"{OUT}:{line}: estimate: 85.0 does not round from 40/50 = 80.000% [percent-agrees-with-counts]" \
        in problems(repo)


def test_survival_rule_compares_within_one_analysis_variant_only(fixture_repo: Path) -> None:
    # EFS at 36 months censored at transplant is 52%; at 24 months not censored, 50%: two analyses.
    repo = fixture_repo
    add_row(repo, "outcomes", outcome_id="fake-2023-alpha-efs-36m-censored", publication_id="fake-2023-alpha",
            arm_id=ARM, measure="efs", analysis_population="infused", analysis_variant="censored_at_hsct",
            timepoint_months="36", estimate_type="kaplan_meier", estimate="52", unit="percent",
            source_location="abstract", value_origin="reported")
    add_row(repo, "outcomes", outcome_id="fake-2023-alpha-efs-24m-test", publication_id="fake-2023-alpha",
            arm_id=ARM, measure="efs", analysis_population="infused", analysis_variant="not_censored_at_hsct",
            timepoint_months="24", estimate_type="kaplan_meier", estimate="50", unit="percent",
            source_location="abstract", value_origin="reported")
    assert problems(repo) == []  # the censored 52% at 36 months is not compared with the uncensored 50% at 24
    set_cell(repo, "outcomes", {"outcome_id": "fake-2023-alpha-efs-24m-test"},
             analysis_variant="censored_at_hsct", estimate="51")
    line = line_of(repo, "outcomes", outcome_id="fake-2023-alpha-efs-36m-censored")
    assert problems(repo) == [
        f"{OUT}:{line}: estimate: efs 52.0 at 36.0 months goes the wrong way against an earlier time point of "
        "the same arm, publication and population [survival-not-rising]"]
