"""A self-contained HTML page (images embedded as base64, no scripts, no external files)."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

STYLE = """
body{font-family:system-ui,sans-serif;max-width:72em;margin:0 auto;padding:0 1.5em 4em;\
color:#1f2328;line-height:1.45}
nav{background:#fff;border-bottom:1px solid #d0d7de;padding:.5em 0;z-index:1}
nav a{margin-right:1em}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}
.table-wrap{max-width:100%;overflow-x:auto;margin:.6em 0}
table{border-collapse:collapse;font-size:90%}
th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top;\
max-width:32em;overflow-wrap:break-word}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
img{max-width:100%;height:auto;border:1px solid #eee;margin:.5em 0}
.verdict{font-size:115%;font-weight:600;padding:.6em 1em;border-radius:6px;margin:.5em 0}
ul.behaviours li{margin:.3em 0} .headline{font-weight:600}
pre{white-space:pre-wrap;overflow-wrap:anywhere} .contrastive-view{max-width:100%;overflow-x:auto}
code{overflow-wrap:anywhere}
.rejected{background:#ffebe9;border:1px solid #ff8182} \
.kept{background:#dafbe1;border:1px solid #4ac26b}
.tokens{font-family:ui-monospace,monospace;white-space:pre-wrap;border:1px solid #d0d7de;\
padding:.5em;margin:.2em 0 .8em}
.muted{color:#57606a;font-size:90%}
details{margin:.5em 0}
"""


@dataclass(frozen=True)
class Section:
    """One part of the report: ``anchor`` is its id (also listed in the navigation bar)."""

    anchor: str
    title: str
    body: str


def esc(value: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(value))


def fmt(value: object, digits: int = 4) -> str:
    """A number to ``digits`` significant figures;
    integers and text as they are; NaN and None as n/a."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "n/a"
        return f"{v:.{digits}g}"
    if value is None:
        return "n/a"
    return str(value)


def table(frame: pd.DataFrame, *, max_rows: int = 200, digits: int = 4) -> str:
    """An HTML table of ``frame`` (at most ``max_rows`` rows, the count of the others stated)."""
    shown = frame.head(max_rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = []
        for v in row:
            cls = " class='num'" if isinstance(v, (int, float, np.integer, np.floating)) else ""
            cells.append(f"<td{cls}>{esc(fmt(v, digits))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f"<p class='muted'>{len(frame) - max_rows} more rows not shown.</p>"
        if len(frame) > max_rows
        else ""
    )
    return (
        "<div "
        f"class='table-wrap'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"</div>{more}"
    )


def image(png: bytes, alt: str) -> str:
    """An <img> with the PNG embedded as a data URI."""
    if not png.startswith(b"\x89PNG"):
        raise ValueError(f"not a PNG image: {alt}")
    data = base64.b64encode(png).decode("ascii")
    return f"<img alt='{esc(alt)}' src='data:image/png;base64,{data}'>"


def diverging_colour(value: float, vmax: float) -> str:
    """Red for positive, blue for negative values; opacity |value| / vmax (capped at 1)."""
    if not math.isfinite(value) or vmax <= 0:
        return "transparent"
    alpha = min(abs(value) / vmax, 1.0)
    rgb = "220,38,38" if value > 0 else "37,99,235"
    return f"rgba({rgb},{alpha:.3f})"


def shaded_tokens(
    pieces: Sequence[str],
    values: Sequence[float],
    colour: Callable[[float], str],
    tooltip: Callable[[float], str],
) -> str:
    """One span per token piece, its background
    ``colour(value)`` and its tooltip ``tooltip(value)``.

    Newlines show as a return arrow and a line break; an
    empty piece (a special token) as an empty-set sign.
    """
    if len(pieces) != len(values):
        raise ValueError(f"{len(pieces)} token pieces but {len(values)} values")
    spans = []
    for piece, value in zip(pieces, values):
        shown = esc(piece).replace("\n", "\u21b5<br>") if piece else "&#8709;"
        v = float(value)
        spans.append(
            f'<span title="{esc(tooltip(v))}" style="background:{colour(v)}">{shown}</span>'
        )
    return "".join(spans)


def token_spans(
    pieces: Sequence[str], values: Sequence[float], vmax: float, unit: str = "nats"
) -> str:
    """Tokens shaded red (positive) or blue (negative) by their value; tooltip: the signed value."""
    return shaded_tokens(
        pieces, values, lambda v: diverging_colour(v, vmax), lambda v: f"{v:+.3f} {unit}"
    )


def page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole document: a title, a navigation bar and the sections in order."""
    nav = "".join(f"<a href='#{esc(s.anchor)}'>{esc(s.title)}</a>" for s in sections)
    body = "".join(
        f"<section id='{esc(s.anchor)}' "
        f"data-section='{esc(s.anchor)}'><h2>{esc(s.title)}</h2>{s.body}</section>"
        for s in sections
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, "
        f"initial-scale=1'><title>{esc(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1><p "
        f"class='muted'>{esc(subtitle)}</p>"
        f"<nav>{nav}</nav>{body}</body></html>"
    )
