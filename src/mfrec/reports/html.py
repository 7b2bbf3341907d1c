"""The HTML shell both reports share: the page, its style, a facts table and chart sections with embedded PNGs."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

#: The page style shared by the run and the model reports.
STYLE = """body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
thead th, tbody th { text-align: left; } img { max-width: 100%; } section { margin-top: 2em; }"""


def _png(figure: Any, save_as: Path | None = None) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    if save_as is not None:
        save_as.write_bytes(buffer.getvalue())
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def figure_sections(charts: dict[str, Any], images: str | Path | None) -> str:
    """Each non-None figure of ``charts`` as a titled section with the PNG embedded (and saved under ``images``)."""
    if images is not None:
        Path(images).mkdir(parents=True, exist_ok=True)

    def file_for(title: str) -> Path | None:
        return None if images is None else Path(images) / (title.lower().replace(" ", "-").replace("/", "") + ".png")

    return "".join(
        f'<section><h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
        f'src="data:image/png;base64,{_png(fig, file_for(title))}"></section>'
        for title, fig in charts.items()
        if fig is not None
    )


def facts_table(facts: list[tuple[str, str]]) -> str:
    """A two-column table of (label, value) rows, escaped."""
    rows = "".join(f"<tr><th>{html.escape(a)}</th><td>{html.escape(b)}</td></tr>" for a, b in facts)
    return f"<table>{rows}</table>"


def html_page(title: str, body: str) -> str:
    """A whole self-contained page: ``title`` (already escaped) as <title> and <h1>, then ``body``."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
{STYLE}
</style></head><body>
<h1>{title}</h1>
{body}
</body></html>
"""
