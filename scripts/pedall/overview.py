"""The release's index.html: a self-contained overview page (no scripts, no network requests)."""

from __future__ import annotations

import html
from pathlib import Path

import duckdb

from . import coverage
from .candidates import NAME as CANDIDATES
from .database import DB_NAME
from .figures import COVERAGE_NAME, REPLICATION_NAME
from .loadsql import NAME as LOAD_SQL
from .package import Package
from .readme import R_LOADER

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}th,td{border:1px solid #ccc;padding:.25rem .45rem;
text-align:left;vertical-align:top}th{background:#f0f3f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.85rem;color:#444}
code{background:#f4f4f4;padding:0 .2rem}details{margin:.4rem 0}summary{cursor:pointer;font-weight:600}
.meta{color:#555}
"""


def _e(v: object) -> str:
    return "" if v is None else html.escape(str(v))


def _num(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def _table(cols: list[str], rows: list[tuple], numeric: set[str]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f'<td class="num">{_num(v)}</td>' if c in numeric else f"<td>{_e(v)}</td>"
                                    for c, v in zip(cols, r, strict=True)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _link(doi: str | None, pmid: str | None, pmcid: str | None) -> str:
    # the DOI is the stable link; PubMed or PMC only where a publication has no DOI
    if doi:
        return f'<a href="https://doi.org/{_e(doi)}">doi:{_e(doi)}</a>'
    if pmid:
        return f'<a href="https://pubmed.ncbi.nlm.nih.gov/{_e(pmid)}/">PMID {_e(pmid)}</a>'
    if pmcid:
        return f'<a href="https://pmc.ncbi.nlm.nih.gov/articles/{_e(pmcid)}/">{_e(pmcid)}</a>'
    return "no stable identifier"


def _publications_section(con: duckdb.DuckDBPyConnection) -> str:
    """How many publications carry a stable identifier (DOI, PMID or PMCID), and each one's link."""
    rows = con.execute("""SELECT publication_id, study_id, first_author, year, journal,
                                 CAST(report_type AS VARCHAR) AS report_type, doi, pmid, pmcid
                          FROM publications ORDER BY publication_id""").fetchall()
    own = [r for r in rows if r[5] != "third_party_summary"]

    def count(sel: list[tuple], cols: slice, of: str = "") -> str:
        return f"{sum(1 for r in sel if any(r[cols]))} of {of}{len(sel)}"

    doi_or_pmid, any_id = slice(6, 8), slice(6, 9)
    body = [(r[0], r[1], r[2], r[3], r[4], r[5], _link(r[6], r[7], r[8])) for r in rows]
    cols = ["publication", "study", "first author", "year", "journal", "report type", "stable link"]
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    trs = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r[:-1]) + f"<td>{r[-1]}</td></tr>" for r in body)
    return ("<h2 id=\"publications\">Publications and their identifiers</h2>"
            f"<p>Publications with a DOI or PMID: {count(rows, doi_or_pmid)} "
            f"({count(own, doi_or_pmid, 'the ')} that are not third-party summaries); with a DOI, PMID or "
            f"PMCID: {count(rows, any_id)}. Since version 0.4.0 an identifier is added only when two readers, "
            "the second blind to the first, found the same value on a stored page; the curation notes name the "
            "pages tried for each one missing. <code>source_url</code> keeps the copy actually read.</p>"
            f"<details><summary>All publications, linked by DOI where they have one</summary>"
            f'<div style="overflow-x:auto"><table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table></div>'
            "</details>")


def render(pkg: Package, folder: Path) -> str:
    d = pkg.descriptor
    con = duckdb.connect(str(folder / DB_NAME), read_only=True)
    try:
        cur = con.execute("""SELECT study_id, acronym, product_name, intervention_class, design, phase, n_publications,
                                    n_treated, complete_remission_percent, response_definition, efs_12m_percent,
                                    os_12m_percent, crs_grade3plus_percent, neurotox_grade3plus_percent, derived_counts
                             FROM study_summary""")
        summary_cols = [c[0] for c in cur.description]
        summary = cur.fetchall()
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in pkg.tables}
        cov = coverage.load(con)
        evidence = con.execute("SELECT CAST(evidence_read AS VARCHAR), count(*) FROM publications GROUP BY 1 "
                               "ORDER BY 1").fetchall()
        publications = _publications_section(con)
    finally:
        con.close()
    numeric = {c for c in summary_cols if c.endswith("_percent") or c.startswith("n_")}
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(d['title'])} "
             f"{_e(pkg.version)}</title><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{_e(d['title'])}</h1><p class=\"meta\">Version {_e(pkg.version)} · data licence "
             f"{_e(', '.join(lic['name'] for lic in d.get('licenses', [])))}</p>",
             f"<p>{_e(d['description'])}</p>",
             "<h2 id=\"coverage\">What the dataset covers</h2><ul>"
             + "".join(f"<li><code>{_e(t)}</code>: {n} rows</li>" for t, n in counts.items()) + "</ul>",
             "<p>Publications by the part the curators could read: "
             + ", ".join(f"{_e(k)} {n}" for k, n in evidence) + ". Values missing from a publication's readable "
             "part are left empty, never guessed; see <a href=\"CHANGELOG.md\">CHANGELOG.md</a> and the "
             "repository's curation notes.</p>",
             "<h3 id=\"coverage-map\">Core figures per study</h3><p>Each cell is the best available figure of a "
             "study for one core measure (hover for its value), or why there is none. Also as "
             f"<a href=\"figures/{COVERAGE_NAME}.png\">PNG</a> and <a href=\"figures/{COVERAGE_NAME}.svg\">SVG</a>"
             "; the view <code>coverage</code> holds the same data.</p>" + coverage.html_table(cov),
             publications,
             "<h2 id=\"studies\">Studies</h2>",
             '<div style="overflow-x:auto">' + _table(summary_cols, summary, numeric) + "</div>",
             "<p class=\"meta\">Figures of each study's summary arm (pooled dose cohorts, else the single arm, else "
             "the first experimental arm): the same figures <code>pedall pool</code> uses and the coverage map shows "
             "(the ranked candidates of the database), percents computed from counts where there are counts; "
             "<code>response_definition</code> is the remission definition used (CR/CRi, else CR/CRh, else CR); "
             "<code>derived_counts</code> names figures whose count was derived from a printed percent.</p>",
             "<h2 id=\"figures\">Figures</h2>"]
    figs = sorted(f for f in (folder / "figures").glob("*.svg") if f.stem not in (COVERAGE_NAME, REPLICATION_NAME))
    if not figs:
        parts.append("<p>No analysis has at least two studies yet.</p>")
    for f in figs:
        parts.append(f"<figure><img src=\"figures/{_e(f.name)}\" alt=\"forest plot {_e(f.stem)}\">"
                     f"<figcaption>{_e(f.stem.replace('_', ' '))} — <a href=\"figures/{_e(f.stem)}.png\">PNG</a>, "
                     f"<a href=\"figures/{_e(f.name)}\">SVG</a>; commands in "
                     f"<a href=\"figures/README.md\">figures/README.md</a></figcaption></figure>")
    parts.append(_published(folder))
    parts.append("<h2 id=\"dictionary\">Data dictionary</h2>")
    for t in pkg.tables.values():
        rows = [(f.name, f.type, "yes" if f.required else "", ", ".join(f.enum) if f.enum else "", f.description)
                for f in t.fields]
        parts.append(f"<details><summary>{_e(t.name)} — {_e(t.title)}</summary><p>{_e(t.description)} "
                     f"Primary key: <code>{_e(', '.join(t.primary_key))}</code>.</p>"
                     + _table(["column", "type", "required", "values", "description"], rows, set()) + "</details>")
    authors = ", ".join(c["title"] for c in d.get("contributors", []) if c.get("role", "author") == "author")
    sources = "; ".join(f"<a href=\"{_e(s['path'])}\">{_e(s['title'])}</a>" if s.get("path") else _e(s["title"])
                        for s in d.get("sources", []))
    parts.append("<h2 id=\"cite\">How to cite</h2>"
                 f"<p>{_e(authors)}. <em>{_e(d['title'])}</em>, version {_e(pkg.version)}. Dataset, Zenodo. "
                 "Cite the version you used; the DOI of each version is on its Zenodo record. Machine-readable: "
                 f"<a href=\"CITATION.cff\">CITATION.cff</a>. Keywords: {_e(', '.join(d.get('keywords', [])))}."
                 + (f" Derived from: {sources}." if sources else "") + "</p>")
    files = ["README.md", "datapackage.json", "DATA_DICTIONARY.md", "CHANGELOG.md", "CITATION.cff", "LICENSE",
             "SHA256SUMS", "figures/README.md", LOAD_SQL, R_LOADER, CANDIDATES, DB_NAME]
    files += [f"data/{t}.csv" for t in pkg.tables] + [f"parquet/{t}.parquet" for t in pkg.tables]
    parts.append("<h2 id=\"files\">Files</h2><ul>" + "".join(f"<li><a href=\"{_e(f)}\">{_e(f)}</a></li>"
                                                             for f in files) + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _published(folder: Path) -> str:
    """The section comparing published pooled estimates with pedall's answer to the same question."""
    from .replicate import replicate

    rep = replicate(folder / DB_NAME)
    out = ["<h2 id=\"published\">Published meta-analyses and pedall</h2>",
           "<p>Pooled estimates printed by systematic reviews (table <code>published_estimates</code>, with the "
           "studies each review lists in <code>published_estimate_studies</code>) beside pedall's answer to the same "
           "question: the same intervention class, endpoint and design set, pooled with the review's model, tau² "
           "method and transform where pedall has them. The two differ for reasons the table shows: the studies "
           "each side holds, newer reports of the same trials, the population and the endpoint definition each "
           "figure uses. Command: <code>pedall replicate</code> (<code>--format json</code>).</p>"]
    if not rep.answers:
        out.append("<p>This release holds no published pooled estimate yet.</p>")
        return "\n".join(out)
    if (folder / "figures" / f"{REPLICATION_NAME}.svg").exists():
        out.append(f"<figure><img src=\"figures/{REPLICATION_NAME}.svg\" alt=\"published and pedall estimates per "
                   f"question\"><figcaption>Published (diamonds) and pedall (squares) estimates with 95% CIs — "
                   f"<a href=\"figures/{REPLICATION_NAME}.png\">PNG</a>, <a href=\"figures/{REPLICATION_NAME}.svg\">"
                   "SVG</a></figcaption></figure>")

    def est(v: float | None, lo: float | None, hi: float | None, ratio: bool = False) -> str:
        if v is None:
            return ""
        f = "{:.2f}" if ratio else "{:.1f}"
        return f.format(v) + ("" if lo is None or hi is None else f" ({f.format(lo)}–{f.format(hi)})")

    rows = []
    for a in rep.answers:
        p = a.published
        ratio = p.effect_measure != "proportion"
        pedall = (est(a.estimate, a.ci_lower, a.ci_upper) if a.answered else f"not answered: {a.reason}")
        rows.append((p.question, f"{p.review} ({p.source_location})", p.k, p.n_total,
                     est(p.estimate, p.ci_lower, p.ci_upper, ratio) + (f" {p.effect_measure}" if ratio else ""),
                     "" if p.i2 is None else f"{p.i2:.0f}", a.k if a.answered else None,
                     a.n if a.answered else None, pedall, ", ".join(a.in_common), "; ".join(a.only_published),
                     ", ".join(a.only_pedall), "; ".join(a.deviations)))
    cols = ["question", "review", "k", "N", "published estimate (CI)", "I² %", "pedall k", "pedall N",
            "pedall estimate (95% CI)", "studies in common", "only in the review", "only in pedall",
            "pedall's method differs"]
    out.append('<div style="overflow-x:auto">' + _table(cols, rows, {"k", "N", "pedall k", "pedall N"}) + "</div>")
    return "\n".join(out)
