"""The synthetic package extended, in a scratch copy, with four single-arm studies (and their products,
remission counts, median ages and one published estimate), so that meta-regression and replication
have enough studies to fit; tests/fixture itself stays as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import copy_fixture
from editing import add_row
from pedall.release import DB_NAME, build

# study -> (product, class, events, total, median age or None); the products' costimulatory domains below
EXTRA = {
    "fake-eps": ("fake-cel-c", "cd19_car_t", 18, 30, 15.0),
    "fake-eta": ("fake-cel-d", "cd22_car_t", 10, 20, 17.0),
    "fake-theta": ("fake-cel-c", "cd19_cd22_car_t", 21, 24, None),
    "fake-zeta": ("fake-cel-a", "cd19_car_t", 25, 28, 9.0),
}
PRODUCTS = {"fake-cel-c": ("CD19", "CD28"), "fake-cel-d": ("CD22", "CD28")}
# what the moderators are for every study of the extended package (fixture values as tests/fixture gives them)
COSTIM = {"fake-alpha": "4-1BB", "fake-beta": "4-1BB", "fake-eps": "CD28", "fake-eta": "CD28",
          "fake-theta": "CD28", "fake-zeta": "4-1BB"}
AGE = {"fake-alpha": 11.5, "fake-beta": 6.0, "fake-eps": 15.0, "fake-eta": 17.0, "fake-zeta": 9.0}


# a review of CD19 CAR-T trials that lists FAKE-ALPHA, FAKE-ZETA and a study pedall does not hold
REVIEW = "fake-2026-metaanalysis"
ESTIMATES = {
    f"{REVIEW}/cd19-ft-reml": ("freeman_tukey", "REML", "random"),
    f"{REVIEW}/cd19-pr-dl": ("raw", "DL", "random"),
    f"{REVIEW}/cd19-as-fixed": ("arcsine", "unknown", "common"),
    f"{REVIEW}/cd19-logit-pm": ("logit", "PM", "random"),
}


def build_extended(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_fixture(tmp_path_factory.mktemp("extended") / "repo")
    for pid, (target, costim) in PRODUCTS.items():
        add_row(root, "products", product_id=pid, name=pid, modality="car_t", targets=target,
                costimulatory_domain=costim, note="made-up product")
    for sid, (pid, cls, x, n, age) in EXTRA.items():
        pub = f"{sid}-2023"
        add_row(root, "studies", study_id=sid, design="single_arm", setting="relapsed_refractory",
                intervention_class=cls, note="made-up data for tests",
                registry_note="made-up study: no registration")
        add_row(root, "publications", publication_id=pub, study_id=sid, first_author="Fake", year="2023",
                journal="J Fake Med", title=f"{sid} trial", report_type="primary", evidence_read="full_text")
        add_row(root, "arms", arm_id=f"{sid}/car", study_id=sid, label="CAR", role="single_arm", product_id=pid)
        add_row(root, "outcomes", outcome_id=f"{pub}-cr-cri", publication_id=pub, arm_id=f"{sid}/car",
                measure="cr_cri", analysis_population="infused", timepoint_months="3", timepoint_anchor="infusion",
                estimate_type="proportion", n_events=str(x), n_total=str(n), source_location="table_2",
                value_origin="reported")
        if age is not None:
            add_row(root, "characteristics", publication_id=pub, arm_id=f"{sid}/car", population="infused",
                    characteristic="age_median_years", value=str(age), unit="years", source_location="table_1",
                    value_origin="reported")
    # fake-beta's median age, and a third-party figure that must not count
    add_row(root, "characteristics", publication_id="fake-2021-beta", arm_id="fake-beta/car", population="infused",
            characteristic="age_median_years", value="6", unit="years", source_location="table_1",
            value_origin="reported")
    add_row(root, "characteristics", publication_id="fake-2024-review", arm_id="fake-alpha/car",
            population="infused", characteristic="prior_hsct", n="10", n_total="20", source_location="table_1",
            value_origin="reported")
    add_row(root, "publications", publication_id=REVIEW, first_author="Fake", year="2026", journal="Fake Syst Rev",
            title="Another made-up meta-analysis", report_type="systematic_review", evidence_read="full_text")
    for eid, (transform, method, model) in ESTIMATES.items():
        add_row(root, "published_estimates", estimate_id=eid, publication_id=REVIEW, question="CR/CRi, CD19 CAR-T",
                intervention_class="cd19_car_t", endpoint="cr_cri", design_set="interventional", model=model,
                tau2_method=method, transform=transform, effect_measure="proportion", k="3", estimate="75",
                ci_lower="60", ci_upper="85", ci_level="95", source_location="figure_2", value_origin="reported")
        for label, sid in (("Fake 2020", "fake-alpha"), ("Zeta 2023", "fake-zeta"), ("Other 2018", "")):
            add_row(root, "published_estimate_studies", estimate_id=eid, study_label=label, study_id=sid)
    return build(root, tmp_path_factory.mktemp("extended-dist")) / DB_NAME
