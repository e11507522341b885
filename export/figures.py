"""The export API: an Inspection (or a run, for ``curves``) to a figure file or its data.

    from attnscope.export.figures import render, figure_data
    render(ins, "cross", "fig.pdf", width="single", layer=2, piece=engine.piece)
    data = figure_data(ins, "probs", step=1, temperatures=(0.1, 0.5, 1.0, 2.0))

Views: ``head`` (one head, ``kind`` enc/dec/cross), ``grid`` (layer × head), ``cross``
(one layer's cross-attention with the gold alignment), ``beam`` (search tree), ``probs``
(next-piece bars under several temperatures), ``trace`` (the step-by-step generation
trace), ``curves`` (training curves; ``source`` is a run folder, bundle or
metrics.jsonl) and ``contributions`` (ALTI+ source/target contributions per step and the
source-share curve). Options, all keyword, each used by the views that need it:

    kind='enc'|'dec'|'cross'  head, grid      layer (0-based; default the last)
    head (0-based; None = mean of heads; default 0 for head, None for cross/trace)
    node (search-tree node id of the hypothesis to show; default the best)
    step (0-based, probs)     temperatures (probs)   temperature (trace)
    top (pieces shown, probs/trace)   runner_ups (beam)   piece (id -> text, e.g. engine.piece)
    vmax (top of the attention colour scale: 1 by default, 'auto' = the data's maximum)
    measure='weights'|'norm' (head, grid, cross: attention weights or norm-based attention)

Paths ending in .pdf/.svg/.png give a figure (``dpi`` applies to PNG), .json/.npz the
data behind it. ``width`` is 'single' (3.5 in), 'double' (7 in) or inches. Raises
:class:`FigureError` (a ValueError) for options the data cannot satisfy and
``CJKFontNotFound`` when Hangul must be drawn and no CJK font exists.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from attnscope.core.inference.inspection import Inspection
from attnscope.export import data as d
from attnscope.export.draw import DRAW
from attnscope.export.style import check_glyphs, figure_style, save_kwargs, width_inches

VIEWS = d.VIEWS
FigureError = d.FigureError
FIGURE_FORMATS = (".pdf", ".svg", ".png")
DATA_FORMATS = (".json", ".npz")

_OPTIONS: dict[str, tuple[str, ...]] = {
    "head": ("kind", "layer", "head", "node", "vmax", "measure"),
    "grid": ("kind", "node", "vmax", "measure"),
    "cross": ("layer", "head", "node", "vmax", "measure"),
    "beam": ("runner_ups",),
    "probs": ("step", "temperatures", "top", "node", "piece"),
    "trace": ("layer", "head", "top", "temperature", "node", "piece", "vmax"),
    "curves": (),
    "contributions": (),
}
_ALL_OPTIONS = {o for opts in _OPTIONS.values() for o in opts}
_BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "head": d.head_data, "grid": d.grid_data, "cross": d.cross_data, "beam": d.beam_data,
    "probs": d.probs_data, "trace": d.trace_data, "contributions": d.contributions_data,
}


def figure_data(source: Inspection | str | Path, view: str, **opts: Any) -> dict[str, Any]:
    """The numbers a view plots, with their labels (numpy arrays, lists, scalars).

    Options a view does not use are ignored, so one set of options can serve every view;
    an option no view knows raises :class:`FigureError`.
    """
    if view not in VIEWS:
        raise FigureError(f"unknown view {view!r}: use one of {', '.join(VIEWS)}")
    unknown = set(opts) - _ALL_OPTIONS
    if unknown:
        raise FigureError(f"unknown option(s) {', '.join(sorted(unknown))}")
    if view == "curves":
        if isinstance(source, Inspection):
            raise FigureError("the curves view needs a run folder, bundle or metrics.jsonl, not an inspection")
        return d.curves_data(source)
    if not isinstance(source, Inspection):
        raise FigureError(f"the {view} view needs an Inspection")
    used = {k: v for k, v in opts.items() if k in _OPTIONS[view] and v is not None}
    if view in ("cross", "trace", "head") and "head" in opts:
        used["head"] = opts["head"]  # None is meaningful here: the mean of heads
    if "temperatures" in used:
        used["temperatures"] = tuple(float(t) for t in used["temperatures"])
    return _BUILDERS[view](source, **used)


def _check_width(width: str | float) -> None:
    try:
        width_inches(width)
    except (TypeError, ValueError) as e:
        raise FigureError(str(e)) from None


def draw(data: dict[str, Any], width: str | float = "double") -> Figure:
    """Draw a :func:`figure_data` dict; call inside :func:`export.style.figure_style`."""
    _check_width(width)
    fig = DRAW[data["view"]](data, width)
    check_glyphs(fig)
    return fig


def make_figure(source: Inspection | str | Path, view: str, width: str | float = "double",
                **opts: Any) -> Figure:
    """A matplotlib Figure of the view (not attached to pyplot); save with :func:`save_figure`."""
    with figure_style():
        return draw(figure_data(source, view, **opts), width)


def save_figure(fig: Figure, path: str | Path, dpi: float = 300) -> Path:
    """Save as PDF (TrueType fonts embedded), SVG (text as text) or PNG at ``dpi``."""
    p = Path(path)
    if p.suffix.lower() not in FIGURE_FORMATS:
        raise FigureError(f"{p}: figures are {', '.join(FIGURE_FORMATS)}")
    with figure_style(dpi):
        fig.savefig(p, **save_kwargs(p, dpi))
    return p


def render(source: Inspection | str | Path, view: str, path: str | Path,
           width: str | float = "double", dpi: float = 300, **opts: Any) -> dict[str, Any]:
    """Write the view to ``path`` (.pdf/.svg/.png figure, or .json/.npz data); returns the data."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in FIGURE_FORMATS + DATA_FORMATS:
        raise FigureError(f"{p}: unsupported extension {suffix or '(none)'!r}; use "
                          f"{', '.join(FIGURE_FORMATS + DATA_FORMATS)}")
    if not 10 <= dpi <= 2400:
        raise FigureError(f"dpi {dpi} is out of range (10-2400)")
    _check_width(width)
    data = figure_data(source, view, **opts)
    if suffix in DATA_FORMATS:
        d.write_data(data, p)
        return data
    with figure_style(dpi):
        fig = draw(data, width)
        fig.savefig(p, **save_kwargs(p, dpi))
    return data
