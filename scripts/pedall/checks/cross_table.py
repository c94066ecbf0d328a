"""Layer 3: rules that join tables (foreign keys themselves are checked by the Table Schema layer)."""

from __future__ import annotations

import pandas as pd

from ..package import Package
from ..problems import Problem, csv_line

VALUE_TABLES = ("participant_flow", "characteristics", "outcomes", "adverse_events")


def check(pkg: Package, frames: dict[str, pd.DataFrame]) -> list[Problem]:
    """Run every rule whose tables all loaded cleanly (frames holds only those)."""
    problems: list[Problem] = []
    have = set(frames)
    if {"publications", "arms"} <= have:
        pub_study = frames["publications"].set_index("publication_id")["study_id"]
        arm_study = frames["arms"].set_index("arm_id")["study_id"]
        for name in VALUE_TABLES:
            if name in have:
                problems += _publication_reports_arm_study(pkg, name, frames[name], pub_study, arm_study)
        if "outcomes" in have:
            problems += _comparator_same_study(pkg, frames["outcomes"], arm_study)
    if {"studies", "publications", "arms"} <= have:
        problems += _study_has(pkg, frames, "publications", "study-has-publication")
        problems += _study_has(pkg, frames, "arms", "study-has-arm")
    if {"publications", "references"} <= have:
        problems += _review_refs(pkg, frames["publications"], frames["references"])
    if {"outcomes", "measures"} <= have:
        problems += _over_time(pkg, frames["outcomes"], frames["measures"])
    return problems


def _publication_reports_arm_study(pkg: Package, name: str, df: pd.DataFrame, pub_study: pd.Series,
                                   arm_study: pd.Series) -> list[Problem]:
    out = []
    for idx, row in df.iterrows():
        ps, as_ = pub_study.get(row["publication_id"]), arm_study.get(row["arm_id"])
        if ps is not None and as_ is not None and ps != as_:
            out.append(Problem(pkg.tables[name].path, csv_line(idx), "arm_id",
                               f"arm {row['arm_id']} belongs to study {as_}, but publication "
                               f"{row['publication_id']} reports study {ps}", "publication-reports-arm-study"))
    return out


def _comparator_same_study(pkg: Package, df: pd.DataFrame, arm_study: pd.Series) -> list[Problem]:
    out = []
    for idx, row in df[df["comparator_arm_id"].notna()].iterrows():
        a, c = arm_study.get(row["arm_id"]), arm_study.get(row["comparator_arm_id"])
        if a is not None and c is not None and a != c:
            out.append(Problem(pkg.tables["outcomes"].path, csv_line(idx), "comparator_arm_id",
                               f"comparator {row['comparator_arm_id']} is in study {c}, not {a}",
                               "comparator-same-study"))
    return out


def _study_has(pkg: Package, frames: dict[str, pd.DataFrame], child: str, rule: str) -> list[Problem]:
    studies = frames["studies"]
    present = set(frames[child]["study_id"].dropna())
    return [Problem(pkg.tables["studies"].path, csv_line(idx), "study_id",
                    f"study {sid} has no row in {child}", rule)
            for idx, sid in studies["study_id"].items() if sid not in present]


def _review_refs(pkg: Package, pubs: pd.DataFrame, refs: pd.DataFrame) -> list[Problem]:
    # The screening log and the publications must tell the same story: a publication citing a
    # review reference names the reference's study, and every included reference is curated.
    out = []
    by_no = refs.set_index("ref_no")
    for idx, row in pubs[pubs["review_ref"].notna()].iterrows():
        ref_no = int(row["review_ref"])
        if ref_no not in by_no.index:
            continue  # reported by the foreign key
        ref = by_no.loc[ref_no]
        if not bool(ref["included"]) or ref["study_id"] != row["study_id"]:
            out.append(Problem(pkg.tables["publications"].path, csv_line(idx), "review_ref",
                               f"reference {ref_no} is not marked included with study_id {row['study_id']}"
                               " in the screening log", "review-ref-matches-study"))
    cited = set(pubs["review_ref"].dropna().astype(int))
    for idx, ref in refs.iterrows():
        if bool(ref["included"]) and int(ref["ref_no"]) not in cited:
            out.append(Problem(pkg.tables["references"].path, csv_line(idx), "included",
                               f"reference {ref['ref_no']} is marked included but no publication cites it",
                               "included-reference-is-curated"))
    return out


def _over_time(pkg: Package, df: pd.DataFrame, measures: pd.DataFrame) -> list[Problem]:
    # Within one publication, arm, measure, population, subgroup, variant and anchor, a survival-type
    # estimate at a later time point may not exceed one at an earlier time point, and an incidence-type
    # one may not fall. Which measure is which is data/measures.csv's over_time column, nothing else.
    # Rows at the same time point are not compared with each other.
    direction = measures.set_index("measure")["over_time"].dropna().to_dict()
    sign = df["measure"].map({m: 1.0 if d == "falls" else -1.0 for m, d in direction.items()})
    timed = df["estimate_type"].isin(["kaplan_meier", "cumulative_incidence"]).fillna(False).astype(bool)
    sel = df[timed & sign.notna() & df["timepoint_months"].notna() & df["estimate"].notna()]
    keys = ["publication_id", "arm_id", "measure", "analysis_population", "subgroup", "analysis_variant",
            "timepoint_anchor", "estimate_type"]
    blanks = {k: "" for k in ("subgroup", "analysis_variant", "timepoint_anchor")}
    out = []
    for _, grp in sel.fillna(blanks).groupby(keys, dropna=False):
        values = sign[grp.index] * grp["estimate"].astype(float)
        times = grp["timepoint_months"].astype(float)
        for idx in grp.index:
            earlier = values[times < times[idx]]
            if len(earlier) and values[idx] > earlier.min():
                row = df.loc[idx]
                out.append(Problem(pkg.tables["outcomes"].path, csv_line(idx), "estimate",
                                   f"{row['measure']} {row['estimate']} at {row['timepoint_months']} months goes the "
                                   "wrong way against an earlier time point of the same arm, publication and "
                                   "population", "survival-not-rising"))
    return out
