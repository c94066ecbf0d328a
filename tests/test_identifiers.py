"""Identifier rules on the synthetic fixture: formats (Table Schema patterns), one identifier per work,
the screening log and the publications agreeing on DOI/PMID, and a registry id or a note for every study.

Each case corrupts one cell of a fresh copy of tests/fixture and expects exactly the named rule on the
named file, line and column; the valid forms are checked to pass, so a pattern that rejects everything
fails here too."""

from __future__ import annotations

from pathlib import Path

import pytest

from editing import add_row, problems, set_cell

PUB, STU = "data/publications.csv", "data/studies.csv"
BETA = {"publication_id": "fake-2021-beta"}  # line 3, cites review reference 2 (doi 10.99999/fake.2021.2)
ALPHA = {"publication_id": "fake-2020-alpha"}  # line 2, reference 1 (doi 10.99999/fake.2020.1, pmid 99000001)
UPDATE = {"publication_id": "fake-2023-alpha"}  # line 6, no review reference
STUDY_BETA = {"study_id": "fake-beta"}  # line 3, no registry id, has a registry_note

# (table, row, new values, expected "file:line: column:" prefix, rule)
BAD: dict[str, tuple[str, dict[str, str], dict[str, str], str, str]] = {
    "doi-with-resolver": ("publications", UPDATE, {"doi": "https://doi.org/10.99999/fake.2023.4"},
                          f"{PUB}:6: doi:", "constraint-error"),
    "doi-short-prefix": ("publications", UPDATE, {"doi": "10.123/x"}, f"{PUB}:6: doi:", "constraint-error"),
    "pmid-letters": ("publications", UPDATE, {"pmid": "PMID12345"}, f"{PUB}:6: pmid:", "constraint-error"),
    "pmid-leading-zero": ("publications", UPDATE, {"pmid": "0123"}, f"{PUB}:6: pmid:", "constraint-error"),
    "pmcid-without-prefix": ("publications", UPDATE, {"pmcid": "7926290"}, f"{PUB}:6: pmcid:",
                             "constraint-error"),
    "nct-too-short": ("studies", STUDY_BETA, {"registry_id": "NCT1234567"}, f"{STU}:3: registry_id:",
                      "constraint-error"),
    "eudract-wrong-groups": ("studies", STUDY_BETA, {"registry_id": "2016-04680-39"}, f"{STU}:3: registry_id:",
                             "constraint-error"),
    "chictr-no-digits": ("studies", STUDY_BETA, {"registry_id": "ChiCTR-IOR"}, f"{STU}:3: registry_id:",
                         "constraint-error"),
    "list-with-a-bad-member": ("studies", STUDY_BETA, {"registry_id": "NCT12345678;EudraCT 2016-004680-39"},
                               f"{STU}:3: registry_id:", "constraint-error"),
    "list-with-a-space": ("studies", STUDY_BETA, {"registry_id": "NCT12345678; 2016-004680-39"},
                          f"{STU}:3: registry_id:", "constraint-error"),
    "no-registry-id-no-note": ("studies", STUDY_BETA, {"registry_note": " "}, f"{STU}:3: registry_note:",
                               "registry-id-or-note"),
    "doi-of-another-work": ("publications", UPDATE, {"doi": "10.99999/FAKE.2020.1"}, f"{PUB}:6: doi:",
                            "identifier-names-one-work"),
    "pmid-of-another-work": ("publications", UPDATE, {"pmid": "99000001"}, f"{PUB}:6: pmid:",
                             "identifier-names-one-work"),
    "pmcid-of-another-work": ("publications", UPDATE, {"pmcid": "PMC9900001"}, f"{PUB}:6: pmcid:",
                              "identifier-names-one-work"),
    "doi-not-the-references": ("publications", BETA, {"doi": "10.99999/fake.2021.99"}, f"{PUB}:3: doi:",
                               "reference-identifiers-agree"),
    "pmid-not-the-references": ("publications", ALPHA, {"pmid": "99000002"}, f"{PUB}:2: pmid:",
                                "reference-identifiers-agree"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_identifier_rule_rejects(fixture_repo: Path, case: str) -> None:
    table, row, values, prefix, rule = BAD[case]
    assert problems(fixture_repo) == []
    set_cell(fixture_repo, table, row, **values)
    found = problems(fixture_repo)
    assert [p for p in found if p.startswith(prefix) and p.endswith(f"[{rule}]")], (prefix, rule, found)
    # one corruption, one rule: nothing else fires on a clean fixture
    assert {p.rsplit("[", 1)[1] for p in found} == {f"{rule}]"}, found


def test_messages_name_the_other_row_and_the_reference(fixture_repo: Path) -> None:
    set_cell(fixture_repo, "publications", UPDATE, doi="10.99999/fake.2020.1")
    set_cell(fixture_repo, "publications", BETA, pmid="123")
    set_cell(fixture_repo, "references", {"ref_no": "2"}, pmid="456")
    found = problems(fixture_repo)
    assert (f"{PUB}:6: doi: doi 10.99999/fake.2020.1 is also the doi of publication fake-2020-alpha (line 2),"
            " which differs in year, volume, pages, title [identifier-names-one-work]") in found, found
    assert (f"{PUB}:3: pmid: pmid 123 differs from 456 given for reference 2 in the screening log"
            " [reference-identifiers-agree]") in found, found
    set_cell(fixture_repo, "studies", STUDY_BETA, registry_note="")
    assert (f"{STU}:3: registry_note: study fake-beta has no registry_id and no registry_note saying why"
            " [registry-id-or-note]") in problems(fixture_repo)


@pytest.mark.parametrize("registry_id", ["NCT12345678", "2016-004680-39", "ChiCTR1800014457",
                                         "ChiCTR-IOR-17013181", "NCT12345678;2016-004680-39"])
def test_registry_formats_accepted(fixture_repo: Path, registry_id: str) -> None:
    set_cell(fixture_repo, "studies", STUDY_BETA, registry_id=registry_id, registry_note="")
    assert problems(fixture_repo) == []


def test_one_review_split_by_study_may_share_its_identifiers(fixture_repo: Path) -> None:
    # A review's table read once per trial: same citation, same DOI/PMCID, different studies.
    cite = dict(first_author="Fake", year="2024", journal="Fake Reviews", volume="5", pages="41-50",
                title="A review table citing FAKE-ALPHA", doi="10.99999/fake.review", pmcid="PMC9900077",
                report_type="third_party_summary", evidence_read="tables")
    set_cell(fixture_repo, "publications", {"publication_id": "fake-2024-review"},
             doi=cite["doi"], pmcid=cite["pmcid"])
    add_row(fixture_repo, "publications", publication_id="fake-2024-review-beta", study_id="fake-beta", **cite)
    assert problems(fixture_repo) == []
    # the same citation twice for the same study is a duplicate row, not a split
    add_row(fixture_repo, "publications", publication_id="fake-2024-review-again", study_id="fake-alpha", **cite)
    found = problems(fixture_repo)
    assert any("reports the same study (a duplicate row) [identifier-names-one-work]" in p for p in found), found


def test_identifiers_compare_case_insensitively_for_doi_only(fixture_repo: Path) -> None:
    # A DOI in another case is the same DOI: no disagreement with the screening log.
    set_cell(fixture_repo, "publications", BETA, doi="10.99999/FAKE.2021.2")
    assert problems(fixture_repo) == []


def test_overview_counts_identifiers_and_links_by_doi(release: Path) -> None:
    # tests/fixture/data/publications.csv, counted by hand: 7 publications, 4 with a DOI or PMID
    # (alpha 2020, beta, gamma, alpha 2023); 6 are not third-party summaries (the made-up systematic
    # review among them), 4 of them with one; fake-2022-delta has no identifier at all.
    page = (release / "index.html").read_text(encoding="utf-8")
    assert "Publications with a DOI or PMID: 4 of 7 (4 of the 6 that are not third-party summaries);" \
           " with a DOI, PMID or PMCID: 4 of 7." in page
    assert '<a href="https://doi.org/10.99999/fake.2021.2">doi:10.99999/fake.2021.2</a>' in page
    delta = page.split("<td>fake-2022-delta</td>", 1)[1].split("</tr>", 1)[0]
    assert delta.endswith("<td>no stable identifier</td>"), delta


def test_readme_states_the_identifier_counts_of_the_data() -> None:
    # a data check: the README's sentence, recounted here from the CSV files with the csv module
    import csv
    import re

    from conftest import REPO

    with (REPO / "data" / "publications.csv").open(newline="", encoding="utf-8") as fh:
        pubs = list(csv.DictReader(fh))
    with (REPO / "data" / "studies.csv").open(newline="", encoding="utf-8") as fh:
        studies = list(csv.DictReader(fh))
    own = [p for p in pubs if p["report_type"] != "third_party_summary"]

    def has(rows: list[dict[str, str]], cols: tuple[str, ...]) -> int:
        return sum(1 for r in rows if any(r[c] for c in cols))

    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = " ".join(text.split("<!-- identifiers:start -->", 1)[1].split("<!-- identifiers:end -->", 1)[0].split())
    expected = (f"{has(pubs, ('doi', 'pmid'))} of {len(pubs)} publications carry a DOI or PMID "
                f"({has(own, ('doi', 'pmid'))} of the {len(own)} that are not third-party summaries), "
                f"{has(pubs, ('doi', 'pmid', 'pmcid'))} a DOI, PMID or PMCID; "
                f"{sum(1 for s in studies if s['registry_id'])} of {len(studies)} studies have a trial-registry id.")
    assert block == expected, f"README says {block!r}; the data give {expected!r}"
    assert re.search(r"\d", block)
