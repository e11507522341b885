"""The export API: an Inspection (or a run, a bundle's heads.json, a corpus, snapshots) to a
figure file or its data.

    from attnscope.export.figures import render, figure_data
    render(ins, "cross", "fig.pdf", width="single", layer=2, piece=engine.piece)
    render(ins, "head", "h.svg", typography=Typography(title=False, size=9))
    data = figure_data(ins, "probs", step=1, temperatures=(0.1, 0.5, 1.0, 2.0))

Views (``VIEWS``; each one a :class:`View` in ``REGISTRY``, and :func:`register` adds more):
``head`` (one head, ``kind`` enc/dec/cross), ``grid`` (layer × head), ``cross`` (one
layer's cross-attention with the gold alignment), ``beam`` (search tree), ``probs``
(next-piece bars under several temperatures, log scale), ``trace`` (the step-by-step
generation trace), ``curves`` (training curves; ``source`` a run folder, bundle or
metrics.jsonl, or a list of them to overlay), ``aer``/``roles``/``entropy``/``distance``
(per-head maps from a bundle's heads.json; ``source`` the bundle, None = shipped),
``corpus`` (attention averaged over a list of Inspections), ``snapshots`` (one head
across training; ``source`` a list of (snapshot name, Inspection)) and ``contributions``
(ALTI+ source/target contributions per step with the source-share curve). Options, all keyword:

    kind='enc'|'dec'|'cross'   layer (0-based; default the last)   node (search-tree node)
    head (0-based index, or 'mean' (= None) / 'max' over heads, or 'rollout' of self-attention)
    step (0-based, probs)   temperatures (probs)   temperature (trace)   top (probs/trace)
    runner_ups (beam)   piece (id -> text, e.g. engine.piece)   words (merge pieces into words)
    vmax (top of the attention colour scale: 1 by default, 'auto' = the data's maximum)
    measure='weights'|'norm' (head, grid, cross: attention weights, or norm-based attention
    ||alpha f(x)|| of Kobayashi et al. 2020, scaled to its maximum)
    bundle (the Bundle that decoded: its name and content hash go into the data)

Paths ending in .pdf/.svg/.png give a figure (``dpi`` applies to PNG), .json/.npz the
data behind it, with the schema header of docs/dumps.md. ``width`` is 'single' (3.5 in),
'double' (7 in) or inches; ``typography`` (:class:`export.style.Typography`) sets font,
size (>= 7 pt), titles and the SVG font type. Raises :class:`FigureError` (a ValueError)
for options the data cannot satisfy and ``CJKFontNotFound`` when Hangul must be drawn
and no CJK font exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from attnscope.core.inference.inspection import Inspection
from attnscope.core.inference.serialize import decode_settings, header, header_reasons
from attnscope.export import data as d
from attnscope.export.draw import DRAW
from attnscope.export.style import (
    Typography,
    check_font,
    check_glyphs,
    figure_style,
    save_kwargs,
    width_inches,
)

FigureError = d.FigureError
FIGURE_FORMATS = (".pdf", ".svg", ".png")
DATA_FORMATS = (".json", ".npz")
SOURCES = ("inspection", "run", "heads", "corpus", "snapshots")


@dataclass(frozen=True)
class View:
    """One figure: how its data is built from a source, how it is drawn, what it accepts."""

    name: str
    build: Callable[..., dict[str, Any]]  # (source, **options) -> data dict
    draw: Callable[[dict[str, Any], str | float, Typography], Figure]
    options: tuple[str, ...]  # keyword options the builder takes
    source: str  # one of SOURCES
    help: str  # one line for --help


REGISTRY: dict[str, View] = {}


def register(view: View) -> View:
    """Add a view (a later one with the same name replaces the earlier)."""
    if view.source not in SOURCES:
        raise ValueError(f"view {view.name}: source {view.source!r} is not one of {SOURCES}")
    REGISTRY[view.name] = view
    return view


_ATT = ("layer", "head", "node", "vmax", "words", "measure")
for _v in (
    View("head", d.head_data, DRAW["head"], ("kind", *_ATT), "inspection", "one head, tokens on both axes"),
    View("grid", d.grid_data, DRAW["grid"], ("kind", "node", "vmax", "words", "measure"), "inspection",
         "layer × head tiles"),
    View("cross", d.cross_data, DRAW["cross"], _ATT, "inspection",
         "cross-attention with the gold alignment outlined"),
    View("beam", d.beam_data, DRAW["beam"], ("runner_ups",), "inspection", "the beam-search tree"),
    View("probs", d.probs_data, DRAW["probs"], ("step", "temperatures", "top", "node", "piece"), "inspection",
         "next-piece probabilities under several temperatures (log scale)"),
    View("trace", d.trace_data, DRAW["trace"], ("layer", "head", "top", "temperature", "node", "piece", "vmax"),
         "inspection", "step by step: cross-attention and the top candidates"),
    View("curves", d.runs_data, DRAW["curves"], (), "run", "training curves of one or several runs"),
    View("aer", d.aer_data, DRAW["aer"], (), "heads", "AER of every cross-attention head (heads.json)"),
    View("roles", d.roles_data, DRAW["roles"], (), "heads", "every head's measured role (heads.json)"),
    View("entropy", d.entropy_data, DRAW["entropy"], (), "heads", "attention entropy per head (heads.json)"),
    View("distance", d.distance_data, DRAW["distance"], (), "heads", "mean attention distance per head"),
    View("corpus", d.corpus_data, DRAW["corpus"], ("kind", "vmax"), "corpus",
         "attention averaged over a file of sentences"),
    View("snapshots", d.snapshots_data, DRAW["snapshots"], ("kind", "layer", "head", "vmax", "words"), "snapshots",
         "one head across the training snapshots"),
    View("contributions", d.contributions_data, DRAW["contributions"], ("node",), "inspection",
         "ALTI+ source/target contributions per step and the source-share curve"),
):
    register(_v)

VIEWS = tuple(REGISTRY)
COMMON_OPTIONS = ("bundle",)  # every view takes these


def view_options(view: str) -> tuple[str, ...]:
    return REGISTRY[view].options


_NULL_REASONS = {
    "mask": "only decoder self-attention hides keys (the future); this kind hides none",
    "node": "the best hypothesis",
}


def figure_data(source: Any, view: str, **opts: Any) -> dict[str, Any]:
    """The numbers a view plots, with their labels (numpy arrays, lists, scalars), under the
    dump schema's header (``schema_version``, ``bundle``, ``decode``, ``index_base`` …).

    Options a view does not use are ignored, so one set of options can serve every view;
    an option no view knows raises :class:`FigureError` (the command line refuses both).
    """
    if view not in REGISTRY:
        raise FigureError(f"unknown view {view!r}: use one of {', '.join(REGISTRY)}")
    spec = REGISTRY[view]
    known = {o for v in REGISTRY.values() for o in v.options} | set(COMMON_OPTIONS)
    unknown = set(opts) - known
    if unknown:
        raise FigureError(f"unknown option(s) {', '.join(sorted(unknown))}")
    bundle = opts.get("bundle")
    used = {k: v for k, v in opts.items() if k in spec.options and v is not None}
    if "head" in spec.options and "head" in opts:
        used["head"] = opts["head"]  # None is meaningful here: the mean of heads
    if "temperatures" in used:
        used["temperatures"] = tuple(float(t) for t in used["temperatures"])
    ins = None
    if spec.source == "inspection":
        if not isinstance(source, Inspection):
            raise FigureError(f"the {view} view needs an Inspection")
        ins = source
    elif spec.source == "run":
        if isinstance(source, Inspection):
            raise FigureError("the curves view needs a run folder, bundle or metrics.jsonl, not an inspection")
        source = list(source) if isinstance(source, list | tuple) else [source]
    elif spec.source == "corpus":
        if not isinstance(source, list | tuple) or not all(isinstance(i, Inspection) for i in source):
            raise FigureError("the corpus view needs a list of Inspections")
        ins = source[0] if source else None
    elif spec.source == "snapshots":
        if not isinstance(source, list | tuple):
            raise FigureError("the snapshots view needs a list of (snapshot name, Inspection)")
        ins = source[-1][1] if source else None
    elif isinstance(source, Inspection):
        raise FigureError(f"the {view} view reads a bundle's heads.json, not an inspection")
    data = spec.build(source, **used)
    head = header("figure", bundle, None)
    head["decode"] = decode_settings(ins) if ins is not None else None
    reasons = {**header_reasons(head), **data.pop("null_reasons", {})}
    out = {**head, **data}
    for key, value in out.items():
        if value is None and key not in reasons:
            reasons[key] = _NULL_REASONS.get(key, "not defined for this figure")
    out["null_reasons"] = reasons
    return out


def _check_width(width: str | float) -> None:
    try:
        width_inches(width)
    except (TypeError, ValueError) as e:
        raise FigureError(str(e)) from None


def _typography(typography: Typography | None) -> Typography:
    t = typography or Typography()
    try:
        check_font(t.font)
    except ValueError as e:
        raise FigureError(str(e)) from None
    return t


def draw(data: dict[str, Any], width: str | float = "double", typography: Typography | None = None) -> Figure:
    """Draw a :func:`figure_data` dict; call inside :func:`export.style.figure_style`."""
    _check_width(width)
    fig = REGISTRY[data["view"]].draw(data, width, typography or Typography())
    check_glyphs(fig)
    return fig


def make_figure(source: Any, view: str, width: str | float = "double",
                typography: Typography | None = None, **opts: Any) -> Figure:
    """A matplotlib Figure of the view (not attached to pyplot); save with :func:`save_figure`."""
    t = _typography(typography)
    with figure_style(typo=t):
        return draw(figure_data(source, view, **opts), width, t)


def save_figure(fig: Figure, path: str | Path, dpi: float = 300, typography: Typography | None = None) -> Path:
    """Save as PDF (TrueType fonts embedded), SVG (glyphs as paths by default) or PNG at ``dpi``."""
    p = Path(path)
    if p.suffix.lower() not in FIGURE_FORMATS:
        raise FigureError(f"{p}: figures are {', '.join(FIGURE_FORMATS)}")
    with figure_style(dpi, typography):
        fig.savefig(p, **save_kwargs(p, dpi))
    return p


def render(source: Any, view: str, path: str | Path, width: str | float = "double", dpi: float = 300,
           typography: Typography | None = None, **opts: Any) -> dict[str, Any]:
    """Write the view to ``path`` (.pdf/.svg/.png figure, or .json/.npz data); returns the data."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in FIGURE_FORMATS + DATA_FORMATS:
        raise FigureError(f"{p}: unsupported extension {suffix or '(none)'!r}; use "
                          f"{', '.join(FIGURE_FORMATS + DATA_FORMATS)}")
    if not 10 <= dpi <= 2400:
        raise FigureError(f"dpi {dpi} is out of range (10-2400)")
    _check_width(width)
    t = _typography(typography)
    data = figure_data(source, view, **opts)
    if suffix in DATA_FORMATS:
        d.write_data(data, p)
        return data
    with figure_style(dpi, t):
        fig = draw(data, width, t)
        fig.savefig(p, **save_kwargs(p, dpi))
    return data
