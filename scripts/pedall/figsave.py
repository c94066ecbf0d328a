"""Writing a matplotlib figure so that the same data give the same bytes (release figures are checksummed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save(fig: Any, path: Path | str) -> None:
    """Write `fig` as SVG or PNG by the file's suffix, without dates or tool names, and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() == ".svg":
        # Fixed ids and no date: the same data give the same bytes.
        with plt.rc_context({"svg.hashsalt": "pedall", "svg.fonttype": "path"}):
            fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})
    else:
        fig.savefig(path, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
