"""The release's figures/: forest plots of the headline pooled analyses, and their README."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import coverage
from .forest import draw
from .pool import pool, render
from .problems import PoolError


@dataclass(frozen=True)
class FigureSpec:
    name: str
    measure: str
    args: dict
    description: str

    @property
    def command(self) -> str:
        opts = "".join(f" --{k.replace('_', '-')} {v:g}" if isinstance(v, int | float)
                       else f" --{k.replace('_', '-')} {v}" for k, v in self.args.items())
        # --release . : the command runs from inside the unpacked release, as its README says
        return f"pedall pool {self.measure}{opts} --release . --plot figures/{self.name}.png"


FIGURES = (
    FigureSpec("complete_remission_by_class", "complete_remission", {"by": "intervention_class"},
               "Complete remission (CR/CRi, else CR/CRh, else CR: the endpoint family complete_remission), pooled "
               "by intervention class."),
    FigureSpec("efs_12m_by_class", "efs", {"timepoint": 12.0, "by": "intervention_class"},
               "Event-free survival at 12 months, pooled by intervention class (studies reporting a CI)."),
    FigureSpec("os_12m_by_class", "os", {"timepoint": 12.0, "by": "intervention_class"},
               "Overall survival at 12 months, pooled by intervention class (studies reporting a CI)."),
    FigureSpec("crs_grade3plus_by_class", "crs", {"grade_min": 3, "by": "intervention_class"},
               "Grade 3 or higher cytokine release syndrome, pooled by intervention class."),
    FigureSpec("neurotox_grade3plus_by_class", "neurotoxicity", {"grade_min": 3, "by": "intervention_class"},
               "Grade 3 or higher neurotoxicity (ICANS or neurologic events), pooled by intervention class."),
)
MIN_STUDIES = 2
COVERAGE_NAME = "coverage"
REPLICATION_NAME = "published_vs_pedall"


def write(db: Path, out: Path, version: str) -> None:
    out.mkdir()
    lines = [f"# Figures of pedall {version}", "",
             "Forest plots of random-effects meta-analyses (REML; proportions on the logit scale, survival on "
             "the scale its CIs imply), one figure per study: the one study_summary and the coverage map show. "
             "Each is drawn "
             f"only where at least {MIN_STUDIES} studies report the figure in a form that can be pooled. "
             "Recreate any of them from the release's database with the command given.", ""]
    for spec in FIGURES:
        lines += [f"## {spec.name}", "", spec.description, ""]
        try:
            res = pool(db, spec.measure, **spec.args)
        except PoolError as exc:
            lines += [f"Not drawn: {exc}.", ""]
            continue
        if res.overall.k < MIN_STUDIES:
            lines += [f"Not drawn: only {res.overall.k} study reports it in a form that can be pooled.", ""]
            continue
        for ext in ("png", "svg"):
            draw(res, out / f"{spec.name}.{ext}")
        lines += [f"![{spec.name}]({spec.name}.png)", "", f"Files: `{spec.name}.png`, `{spec.name}.svg`", "",
                  "Command:", "", "```sh", spec.command, "```", "", "Result:", "",
                  "```", render(res), "```", ""]
    lines += _replication(db, out)
    lines += _coverage(db, out)
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")


def _coverage(db: Path, out: Path) -> list[str]:
    """Draw the coverage heat map and return its README section."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        cov = coverage.load(con)
    finally:
        con.close()
    for ext in ("png", "svg"):
        coverage.draw(cov, out / f"{COVERAGE_NAME}.{ext}")
    return [f"## {COVERAGE_NAME}", "", "Which core figures each study has, and from what kind of source: the view "
            "`coverage`, one cell per study and core figure.", "", f"![{COVERAGE_NAME}]({COVERAGE_NAME}.png)", "",
            f"Files: `{COVERAGE_NAME}.png`, `{COVERAGE_NAME}.svg`", "", "Command:", "", "```sh",
            'pedall query "select study_id, item, status, value, publication_id from coverage"', "```", "",
            "Counts of core figures per study by status:", "", coverage.markdown_counts(cov), ""]


def _replication(db: Path, out: Path) -> list[str]:
    """Draw the published-against-pedall figure, where a published proportion exists, and its README section."""
    from . import replicate, replication_plot

    rep = replicate.replicate(db)
    head = [f"## {REPLICATION_NAME}", "", "Pooled estimates printed by published systematic reviews (table "
            "`published_estimates`) beside pedall's answer to the same question, with the review's own method where "
            "pedall has it.", ""]
    if not replication_plot.drawable(rep):
        return [*head, "Not drawn: the release holds no published pooled proportion.", ""]
    for ext in ("png", "svg"):
        replication_plot.draw(rep, out / f"{REPLICATION_NAME}.{ext}")
    return [*head, f"![{REPLICATION_NAME}]({REPLICATION_NAME}.png)", "",
            f"Files: `{REPLICATION_NAME}.png`, `{REPLICATION_NAME}.svg`", "", "Command:", "", "```sh",
            "pedall replicate --release .", "```", "", "Result:", "", "```", replicate.render(rep), "```", ""]
