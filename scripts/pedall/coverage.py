"""The coverage map: which core figures each study has, read from the `coverage` view.

One source: the statuses, their order and the per-study counts all come from the view, so the heat
map in figures/, the table in index.html and the README's counts cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from .figsave import save

# Status of a cell → (label, colour). Order is the legend's, best evidence first.
STATUSES = {
    "reported": ("reported", "#1a7f37"),
    "calculated": ("calculated by the curators", "#7fbf7b"),
    "read_from_figure": ("read from a figure", "#c2e699"),
    "third_party_only": ("third-party summary only", "#fdb863"),
    "not_in_readable_sources": ("not in the readable sources", "#e0e0e0"),
    "source_not_readable": ("no source readable", "#b2182b"),
    "not_applicable": ("not applicable", "#ffffff"),
}


@dataclass(frozen=True)
class Coverage:
    studies: list[str]
    items: list[tuple[str, str]]  # (item, label)
    status: dict[tuple[str, str], str]
    value: dict[tuple[str, str], str | None]

    def counts(self, study: str) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for item, _ in self.items:
            out[self.status[(study, item)]] += 1
        return out


def load(con: duckdb.DuckDBPyConnection) -> Coverage:
    rows = con.execute("SELECT study_id, item, item_label, status, value FROM coverage "
                       "ORDER BY study_id, item_order").fetchall()
    studies = list(dict.fromkeys(r[0] for r in rows))
    items = list(dict.fromkeys((r[1], r[2]) for r in rows))
    return Coverage(studies, items, {(r[0], r[1]): r[3] for r in rows}, {(r[0], r[1]): r[4] for r in rows})


def draw(cov: Coverage, path: Path) -> None:
    """Heat map of the coverage (studies by core figures) as PNG or SVG, reproducibly."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    keys = list(STATUSES)
    grid = [[keys.index(cov.status[(s, i)]) for i, _ in cov.items] for s in cov.studies]
    fig, ax = plt.subplots(figsize=(2.5 + 0.55 * len(cov.items), 1.6 + 0.3 * len(cov.studies)))
    ax.imshow(grid, cmap=ListedColormap([c for _, c in STATUSES.values()]), vmin=0, vmax=len(keys) - 1,
              aspect="auto")
    ax.set_xticks(range(len(cov.items)), [label for _, label in cov.items], rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(cov.studies)), cov.studies, fontsize=8)
    ax.set_xticks([x - 0.5 for x in range(1, len(cov.items))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(cov.studies))], minor=True)
    ax.grid(which="minor", color="#999999", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    ax.legend(handles=[Patch(facecolor=c, edgecolor="#999999", label=label) for label, c in STATUSES.values()],
              loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.set_title("Core figures per study: best available evidence", fontsize=10)
    fig.tight_layout()
    save(fig, path)


def html_table(cov: Coverage) -> str:
    """The same map as a self-contained HTML table (colours inline, value in each cell's title)."""
    import html

    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in cov.items)
    body = []
    for s in cov.studies:
        cells = []
        for item, _ in cov.items:
            st = cov.status[(s, item)]
            label, colour = STATUSES[st]
            val = cov.value[(s, item)] or ""
            tip = html.escape(f"{label}: {val}" if val else label)
            cells.append(f'<td style="background:{colour}" title="{tip}">{html.escape(val)}</td>')
        body.append(f"<tr><th>{html.escape(s)}</th>{''.join(cells)}</tr>")
    legend = " ".join(f'<span style="background:{c};border:1px solid #999;padding:0 .4rem">&nbsp;</span> '
                      f"{html.escape(label)}" for label, c in STATUSES.values())
    return (f'<div style="overflow-x:auto"><table class="coverage"><thead><tr><th>study</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div><p class=\"meta\">{legend}</p>")


def markdown_counts(cov: Coverage) -> str:
    """Per-study counts of core figures by status, for the README's limits section."""
    cols = ["reported", "calculated", "read_from_figure", "third_party_only", "not_in_readable_sources",
            "source_not_readable"]
    lines = ["| study | " + " | ".join(STATUSES[c][0] for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for s in cov.studies:
        n = cov.counts(s)
        lines.append(f"| {s} | " + " | ".join(str(n[c]) for c in cols) + " |")
    return "\n".join(lines)
