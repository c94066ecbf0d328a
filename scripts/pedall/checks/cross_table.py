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
        pub_study = _lookup(frames["publications"], "publication_id", "study_id")
        arm_study = _lookup(frames["arms"], "arm_id", "study_id")
        for name in VALUE_TABLES:
            if name in have:
                problems += _publication_reports_arm_study(pkg, name, frames[name], pub_study, arm_study)
        if "outcomes" in have:
            problems += _comparator_same_study(pkg, frames["outcomes"], arm_study)
    if "publications" in have:
        review = _lookup(frames["publications"], "publication_id", "report_type").eq("systematic_review")
        for name in VALUE_TABLES:
            if name in have:
                problems += _cites_review(pkg, name, frames[name], review, want=False)
        if "published_estimates" in have:
            problems += _cites_review(pkg, "published_estimates", frames["published_estimates"], review, want=True)
    if {"studies", "publications", "arms"} <= have:
        problems += _study_has(pkg, frames, "publications", "study-has-publication")
        problems += _study_has(pkg, frames, "arms", "study-has-arm")
    if {"publications", "references"} <= have:
        problems += _review_refs(pkg, frames["publications"], frames["references"])
        problems += _reference_identifiers_agree(pkg, frames["publications"], frames["references"])
    if "publications" in have:
        problems += _identifier_names_one_work(pkg, frames["publications"])
    if {"outcomes", "measures"} <= have:
        problems += _over_time(pkg, frames["outcomes"], frames["measures"])
    return problems


def _lookup(df: pd.DataFrame, key: str, value: str) -> pd.Series:
    # A repeated or empty key is layer 1's to report; here the first row of each key stands.
    return df.dropna(subset=[key]).drop_duplicates(key).set_index(key)[value]


def _publication_reports_arm_study(pkg: Package, name: str, df: pd.DataFrame, pub_study: pd.Series,
                                   arm_study: pd.Series) -> list[Problem]:
    ps = df["publication_id"].map(pub_study)
    as_ = df["arm_id"].map(arm_study)
    bad = (ps.notna() & as_.notna() & (ps != as_)).fillna(False).to_numpy(bool)
    return [Problem(pkg.tables[name].path, csv_line(int(idx)), "arm_id",
                    f"arm {df.at[idx, 'arm_id']} belongs to study {as_[idx]}, but publication "
                    f"{df.at[idx, 'publication_id']} reports study {ps[idx]}", "publication-reports-arm-study")
            for idx in df.index[bad]]


def _cites_review(pkg: Package, name: str, df: pd.DataFrame, review: pd.Series, want: bool) -> list[Problem]:
    # A pooled estimate comes from a systematic review; a study's own values never do (a review's
    # table of a trial's figures is a third_party_summary publication of that trial instead).
    is_review = df["publication_id"].map(review)
    bad = (is_review.notna() & (is_review != want)).fillna(False).to_numpy(bool)
    rule = "estimate-from-review" if want else "value-not-from-review"
    what = ("is not a systematic_review publication" if want else
            "is a systematic_review (pooled estimates go to published_estimates; a trial's figures printed "
            "by a review are a third_party_summary publication of the trial)")
    return [Problem(pkg.tables[name].path, csv_line(int(idx)), "publication_id",
                    f"publication {df.at[idx, 'publication_id']} {what}", rule)
            for idx in df.index[bad]]


def _comparator_same_study(pkg: Package, df: pd.DataFrame, arm_study: pd.Series) -> list[Problem]:
    a = df["arm_id"].map(arm_study)
    c = df["comparator_arm_id"].map(arm_study)
    bad = (df["comparator_arm_id"].notna() & a.notna() & c.notna() & (a != c)).fillna(False).to_numpy(bool)
    return [Problem(pkg.tables["outcomes"].path, csv_line(int(idx)), "comparator_arm_id",
                    f"comparator {df.at[idx, 'comparator_arm_id']} is in study {c[idx]}, not {a[idx]}",
                    "comparator-same-study")
            for idx in df.index[bad]]


def _study_has(pkg: Package, frames: dict[str, pd.DataFrame], child: str, rule: str) -> list[Problem]:
    studies = frames["studies"]["study_id"]
    bad = (studies.notna() & ~studies.isin(frames[child]["study_id"].dropna())).to_numpy(bool)
    return [Problem(pkg.tables["studies"].path, csv_line(int(idx)), "study_id",
                    f"study {studies[idx]} has no row in {child}", rule)
            for idx in studies.index[bad]]


def _review_refs(pkg: Package, pubs: pd.DataFrame, refs: pd.DataFrame) -> list[Problem]:
    # The screening log and the publications must tell the same story: a publication citing a
    # review reference names the reference's study, and every included reference is curated.
    out = []
    included = _lookup(refs, "ref_no", "included").fillna(False).astype(bool)
    ref_study = _lookup(refs, "ref_no", "study_id")
    cites = pubs["review_ref"]
    known = cites.notna() & cites.isin(refs["ref_no"])  # an unknown ref_no is reported by the foreign key
    inc = cites.map(included).fillna(False).astype(bool)
    same = (cites.map(ref_study) == pubs["study_id"]).fillna(False).astype(bool)
    bad = (known & ~(inc & same)).to_numpy(bool)
    out += [Problem(pkg.tables["publications"].path, csv_line(int(idx)), "review_ref",
                    f"reference {int(cites[idx])} is not marked included with study_id {pubs.at[idx, 'study_id']}"
                    " in the screening log", "review-ref-matches-study")
            for idx in pubs.index[bad]]
    cited = cites.dropna()
    all_refs = refs  # rows in file order, for line numbers
    uncurated = (all_refs["included"].fillna(False).astype(bool) & ~all_refs["ref_no"].isin(cited)).to_numpy(bool)
    out += [Problem(pkg.tables["references"].path, csv_line(int(idx)), "included",
                    f"reference {all_refs.at[idx, 'ref_no']} is marked included but no publication cites it",
                    "included-reference-is-curated")
            for idx in all_refs.index[uncurated]]
    return out


IDENTIFIERS = ("doi", "pmid", "pmcid")
# Columns that must match between rows sharing an identifier: one work split by study (a review's
# table read once per trial) repeats the same citation; anything else is two works with one identifier.
SAME_WORK = ("first_author", "year", "journal", "volume", "pages", "title")


def _id_key(col: str, values: pd.Series) -> pd.Series:
    # DOIs are case-insensitive (10.1056/NEJMoa... and 10.1056/nejmoa... are one DOI)
    text = values.astype("string").str.strip()
    return text.str.lower() if col == "doi" else text


def _identifier_names_one_work(pkg: Package, pubs: pd.DataFrame) -> list[Problem]:
    out = []
    for col in IDENTIFIERS:
        key = _id_key(col, pubs[col])
        seen: dict[str, int] = {}
        for idx in pubs.index[key.notna().to_numpy(bool)]:
            first = seen.setdefault(key[idx], idx)
            if first == idx:
                continue
            a, b = pubs.loc[first], pubs.loc[idx]
            differs = [c for c in SAME_WORK if str(a[c]) != str(b[c])]
            if differs:
                why = f"differs in {', '.join(differs)}"
            elif a["study_id"] == b["study_id"]:
                why = "reports the same study (a duplicate row)"
            else:
                continue
            out.append(Problem(pkg.tables["publications"].path, csv_line(int(idx)), col,
                               f"{col} {pubs.at[idx, col]} is also the {col} of publication "
                               f"{a['publication_id']} (line {csv_line(int(first))}), which {why}",
                               "identifier-names-one-work"))
    return out


def _reference_identifiers_agree(pkg: Package, pubs: pd.DataFrame, refs: pd.DataFrame) -> list[Problem]:
    # A publication citing a review reference is that reference: where both give a DOI or PMID,
    # they must be the same one.
    out = []
    for col in ("doi", "pmid"):
        ref_value = _id_key(col, _lookup(refs, "ref_no", col))
        mine = _id_key(col, pubs[col])
        theirs = pubs["review_ref"].map(ref_value)
        bad = (mine.notna() & theirs.notna() & (mine != theirs)).fillna(False).to_numpy(bool)
        out += [Problem(pkg.tables["publications"].path, csv_line(int(idx)), col,
                        f"{col} {pubs.at[idx, col]} differs from {theirs[idx]} given for reference "
                        f"{int(pubs.at[idx, 'review_ref'])} in the screening log", "reference-identifiers-agree")
                for idx in pubs.index[bad]]
    return out


def _over_time(pkg: Package, df: pd.DataFrame, measures: pd.DataFrame) -> list[Problem]:
    # Within one publication, arm, measure, population, subgroup, variant and anchor, a survival-type
    # estimate at a later time point may not exceed one at an earlier time point, and an incidence-type
    # one may not fall. Which measure is which is data/measures.csv's over_time column, nothing else.
    # Rows at the same time point are not compared with each other. Vectorized: estimates are signed
    # so that both directions become "may not rise", then each row is compared with the lowest value
    # at any strictly earlier time point of its group.
    direction = measures.set_index("measure")["over_time"].dropna().to_dict()
    sign = df["measure"].map({m: 1.0 if d == "falls" else -1.0 for m, d in direction.items()})
    timed = df["estimate_type"].isin(["kaplan_meier", "cumulative_incidence"]).fillna(False).astype(bool)
    sel = df[timed & sign.notna() & df["timepoint_months"].notna() & df["estimate"].notna()]
    if sel.empty:
        return []
    keys = ["publication_id", "arm_id", "measure", "analysis_population", "subgroup", "analysis_variant",
            "timepoint_anchor", "estimate_type"]
    blanks = {k: "" for k in ("subgroup", "analysis_variant", "timepoint_anchor")}
    f = pd.DataFrame({"g": sel.astype(object).fillna(blanks).groupby(keys, dropna=False, sort=False).ngroup(),
                      "t": sel["timepoint_months"].astype(float),
                      "v": sign[sel.index] * sel["estimate"].astype(float)})
    lowest = f.groupby(["g", "t"])["v"].min()
    earlier = lowest.groupby(level="g").cummin().groupby(level="g").shift(1).rename("earlier")
    merged = f.join(earlier, on=["g", "t"])
    bad = merged.index[(merged["v"] > merged["earlier"]).fillna(False).to_numpy(bool)]
    return [Problem(pkg.tables["outcomes"].path, csv_line(idx), "estimate",
                    f"{df.at[idx, 'measure']} {df.at[idx, 'estimate']} at {df.at[idx, 'timepoint_months']} months "
                    "goes the wrong way against an earlier time point of the same arm, publication and population",
                    "survival-not-rising") for idx in bad]
