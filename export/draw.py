"""Matplotlib drawings of the dicts in :mod:`export.data`, one function per view.

Each ``draw_<view>(data, width, typo)`` returns a :class:`matplotlib.figure.Figure` (never
pyplot, so nothing global and nothing GUI) sized for the column width, to be called
inside :func:`export.style.figure_style`. Text is never under 7 pt at print size: when
the tokens of an axis cannot all be named at that size, every k-th is named and the axis
label says so; long pieces are abbreviated in the data (the dump keeps them whole). All
labels of one axis share one rotation.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from attnscope.export.style import (
    CANDIDATE_CMAP,
    CMAP,
    HIGHLIGHT,
    MASKED,
    MAX_HEIGHT,
    OKABE_ITO,
    Typography,
    text_width_in,
    width_inches,
)

MAX_CELL = 0.30  # inches: attention cells never grow beyond this (0.45 at double width)
LINE = 1.3  # a text line's height, in multiples of its point size


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def _labels_width(labels: list[str], pt: float) -> float:
    return max((text_width_in(s, pt) for s in labels), default=0.0)


def _line_in(pt: float) -> float:
    return pt * LINE / 72


def _attention_cmap() -> mpl.colors.Colormap:
    return mpl.colormaps[CMAP].with_extremes(bad=MASKED)


def _title(obj: Axes | Figure, text: str, typo: Typography, **kw: Any) -> None:
    if not typo.title:
        return
    if isinstance(obj, Figure):
        obj.suptitle(text, fontsize=typo.size, **kw)
    else:
        obj.set_title(text, fontsize=typo.size, **kw)


def _every(n: int, cell: float, pt: float) -> int:
    """Name every k-th of ``n`` tokens so that labels ``cell`` inches apart do not touch."""
    return max(1, math.ceil(_line_in(pt) / max(cell, 1e-6))) if n else 1


def _thinned(axis_label: str, k: int, unit: str) -> str:
    return axis_label if k == 1 else f"{axis_label} (every {k}{'nd' if k == 2 else 'rd' if k == 3 else 'th'} {unit} named)"


def _token_ticks(ax: Axes, n_x: int, n_y: int, x_labels: list[str] | None, y_labels: list[str] | None,
                 cell_x: float, cell_y: float, pt: float) -> tuple[int, int]:
    """Name tokens on both axes at ``pt`` (every k-th when crowded); one rotation per axis.
    Returns the naming steps (kx, ky)."""
    kx, ky = _every(n_x, cell_x, pt), _every(n_y, cell_y, pt)
    upright = True
    if x_labels is not None and n_x:
        # Upright when naming every k-th label makes them fit without much more thinning
        # (Hangul reads badly turned sideways); else all turned, none mixed.
        k_up = max(1, math.ceil(_labels_width(x_labels, pt) / (0.92 * max(cell_x, 1e-6))))
        upright = k_up <= kx  # naming every token beats keeping Hangul upright
        kx = k_up if upright else kx
    xs, ys = list(range(0, n_x, kx)), list(range(0, n_y, ky))
    ax.set_xticks(xs, [x_labels[i] for i in xs] if x_labels is not None else [], fontsize=pt)
    ax.set_yticks(ys, [y_labels[i] for i in ys] if y_labels is not None else [], fontsize=pt)
    for t in ax.get_xticklabels():
        t.set_rotation(0 if upright else 90)
    ax.tick_params(length=0, pad=1.5)
    for s in ax.spines.values():
        s.set_visible(False)
    return kx, ky


def _x_labels_height(labels: list[str], pt: float, cell: float) -> float:
    k_up = max(1, math.ceil(_labels_width(labels, pt) / (0.92 * max(cell, 1e-6))))
    if k_up <= _every(len(labels), cell, pt):
        return _line_in(pt)
    return _labels_width(labels, pt)


def _heatmap(ax: Axes, m: np.ndarray, mask: np.ndarray | None, vmin: float, vmax: float) -> AxesImage:
    data = np.ma.array(m, mask=mask) if mask is not None else np.ma.masked_invalid(m)
    return ax.imshow(data, cmap=_attention_cmap(), vmin=vmin, vmax=vmax, aspect="equal", interpolation="nearest")


def _colorbar(fig: Figure, im: AxesImage, ax: Axes | list[Axes], label: str, typo: Typography,
              length_in: float = 0.0, ax_width: float = 0.0) -> None:
    """A colour bar beside ``ax``; its label is dropped to ticks only when the bar is shorter
    than the label (a title or caption then names the scale)."""
    if ax_width and isinstance(ax, Axes):
        cax = ax.inset_axes((1.0 + 0.08 / ax_width, 0.0, 0.08 / ax_width, 1.0))
        cb = fig.colorbar(im, cax=cax)
    else:
        cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02, aspect=25, shrink=0.9)
    if not length_in or text_width_in(label, typo.small) <= 0.95 * length_in:
        cb.set_label(label, fontsize=typo.small)
    cb.ax.tick_params(labelsize=typo.small, width=0.5, length=2)
    cb.ax.yaxis.set_major_locator(MaxNLocator(nbins=int(_clamp(length_in / 0.3, 2, 5)) if length_in else 5))
    cb.outline.set_linewidth(0.5)


def _axis_label(text: str, length_in: float, pt: float) -> str:
    """The axis label, shortened to its first word (``query``) when longer than the axis."""
    if text_width_in(text, pt) <= length_in or " " not in text:
        return text
    return text.split(" ")[0].rstrip(",;:")


# -- one attention matrix ------------------------------------------------------------------------

def _matrix_figure(data: dict[str, Any], width: str | float, typo: Typography) -> tuple[Figure, Axes]:
    """One heatmap with tokens on both axes and a colour bar (the head and cross views)."""
    w = width_inches(width)
    m = np.asarray(data["matrix"])
    rows, cols = m.shape
    pt = typo.small
    side = _labels_width(data["y_labels"], pt) + _line_in(typo.size) + 0.15
    room = (w - side - 0.75) / max(cols, 1)
    widest = _labels_width(data["x_labels"], pt) / 0.92  # a cell this wide names its token upright
    cell = min(room, max(MAX_CELL if w < 5 else 1.5 * MAX_CELL, min(widest, 0.6)))
    cell = max(cell, min(1.2 / max(rows, 1), (w - side - 0.75) / max(cols, 1)))  # short sentences: >= 1.2 in tall
    bottom = _x_labels_height(data["x_labels"], pt, cell) + _line_in(typo.size) + 0.15
    top = _line_in(typo.size) + 0.1 if typo.title else 0.05
    h = _clamp(rows * cell + bottom + top, 1.2, MAX_HEIGHT)
    cell_y = min(cell, (h - bottom - top) / max(rows, 1))
    fig = Figure(figsize=(w, h), layout="constrained")
    ax = fig.add_subplot()
    im = _heatmap(ax, m, data.get("mask"), data["vmin"], data["vmax"])
    kx, ky = _token_ticks(ax, cols, rows, data["x_labels"], data["y_labels"], cell, cell_y, pt)
    unit = data.get("unit", "piece")
    ax.set_xlabel(_thinned(data["x_axis"], kx, unit))
    ax.set_ylabel(_axis_label(_thinned(data["y_axis"], ky, unit), rows * cell_y, typo.size))
    _title(ax, data["title"], typo)
    _colorbar(fig, im, ax, data.get("value_label", "attention weight"), typo, length_in=rows * cell_y,
              ax_width=cols * cell)
    return fig, ax


def draw_head(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    return _matrix_figure(data, width, typo)[0]


def draw_cross(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    fig, ax = _matrix_figure(data, width, typo)
    links = data.get("alignment")
    if links is not None and len(links):
        for s, t in np.asarray(links):  # [source, target]
            ax.add_patch(Rectangle((s - 0.5, t - 0.5), 1, 1, fill=False, edgecolor=HIGHLIGHT,
                                   linewidth=1.1, zorder=3))
        fig.legend(handles=[Patch(fill=False, edgecolor=HIGHLIGHT, linewidth=1.1, label="gold alignment")],
                   loc="outside lower center", handlelength=1.0, handleheight=1.0, fontsize=typo.small)
    return fig


# -- many attention matrices: layer x head, snapshots, a corpus ------------------------------------

def _names_that_fit(names: list[str], short: list[str], room_in: float, pt: float) -> list[str]:
    """``names`` where each fits ``room_in`` inches at ``pt``, else ``short``; where even those
    do not, every k-th of them (the first, then every k-th after), the others left blank."""
    gap = 0.05  # inches kept clear between neighbouring names
    if _labels_width(names, pt) <= room_in - gap:
        return names
    k = max(1, math.ceil((_labels_width(short, pt) + gap) / max(room_in, 1e-6)))
    return [n if i % k == 0 else "" for i, n in enumerate(short)]


def _tiles(data: dict[str, Any], stack: np.ndarray, width: str | float, typo: Typography,
           row_names: list[str], col_names: list[str], row_title: str = "",
           short_names: tuple[list[str], list[str]] | None = None) -> Figure:
    """Tiles [R, C, Q, K] on one colour scale; token names on the outer tiles only.

    ``short_names`` (rows, columns): used where the full names are wider than a tile
    ("H16" for "head 16" over NLLB's 16 heads; "L12" beside tiles shorter than "layer 12")."""
    w = width_inches(width)
    n_r, n_c, rows, cols = stack.shape
    pt = typo.small
    side = _labels_width(data["y_labels"], pt) + 2 * _line_in(typo.size) + 0.1
    tile_w = (w - side - 0.7 - 0.06 * n_c) / n_c
    cell = min(tile_w / max(cols, 1), MAX_CELL)
    bottom = _x_labels_height(data["x_labels"], pt, cell) + 2 * _line_in(typo.size) + 0.1
    tile_h = max(rows * cell, _line_in(pt) * 1.2)
    head_h = _line_in(typo.size) * (2 if typo.title else 1) + 0.1
    h = _clamp(n_r * (tile_h + 0.08) + bottom + head_h, 1.3, MAX_HEIGHT)
    row_h = (h - bottom - head_h) / n_r - 0.08  # what a row of tiles is given
    cell_y = min(cell, row_h / max(rows, 1))
    if short_names is not None:  # row names stand upright beside their row
        row_names = _names_that_fit(row_names, short_names[0], row_h, pt)
        col_names = _names_that_fit(col_names, short_names[1], tile_w, pt)
    fig = Figure(figsize=(w, h), layout=ConstrainedLayoutEngine(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02))
    axes = fig.subplots(n_r, n_c, squeeze=False)
    im = None
    kx = ky = 1
    for r in range(n_r):
        for c in range(n_c):
            ax = axes[r, c]
            im = _heatmap(ax, stack[r, c], data.get("mask"), data["vmin"], data["vmax"])
            ax.set_aspect("auto")
            kx, ky = _token_ticks(ax, cols, rows, data["x_labels"] if r == n_r - 1 else None,
                                  data["y_labels"] if c == 0 else None, cell, cell_y, pt)
            if r == 0 and col_names[c]:
                ax.set_title(col_names[c], fontsize=pt, pad=2)
            if c == 0 and row_names[r]:
                ax.set_ylabel(row_names[r], fontsize=pt)
    assert im is not None
    _title(fig, data["title"], typo)
    unit = data.get("unit", "piece")
    fig.supxlabel(_thinned(f"{data['x_axis']}; rows: {data['y_axis'].split(' (')[0]}", max(kx, ky), unit),
                  fontsize=pt)
    _colorbar(fig, im, list(axes.ravel()), data.get("value_label", "attention weight"), typo,
              length_in=0.9 * (h - bottom - head_h))
    return fig


def draw_grid(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    """Layer × head tiles on one shared 0–1 colour scale."""
    stack = np.asarray(data["matrices"])
    n_layers, n_heads = stack.shape[:2]
    return _tiles(data, stack, width, typo, [f"layer {i + 1}" for i in range(n_layers)],
                  [f"head {j + 1}" for j in range(n_heads)],
                  short_names=([f"L{i + 1}" for i in range(n_layers)], [f"H{j + 1}" for j in range(n_heads)]))


draw_corpus = draw_grid  # the same tiles, on relative positions


def draw_snapshots(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    """One head in every snapshot: a row of tiles (two rows at single width), earliest first."""
    stack = np.asarray(data["matrices"])
    names = list(data["snapshots"])
    n = len(names)
    per_row = n if width_inches(width) >= 5 or n <= 3 else math.ceil(n / 2)
    n_r = math.ceil(n / per_row)
    tiles = np.full((n_r, per_row) + stack.shape[1:], np.nan)
    titles = ["" for _ in range(per_row)]
    for i in range(n):
        tiles[i // per_row, i % per_row] = stack[i]
    fig = _tiles(data, tiles, width, typo, ["" for _ in range(n_r)], titles)
    for i, ax in enumerate(fig.axes[: n_r * per_row]):
        if i < n:
            ax.set_title(names[i], fontsize=typo.small, pad=2)
        else:
            ax.set_visible(False)
    return fig


# -- search and probabilities ------------------------------------------------------------------------

def _text_colour(rgba: tuple[float, ...]) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def _fit(label: str, width_in: float, pt: float) -> str:
    """``label`` abbreviated with … so that it fits ``width_in`` at ``pt``; "" when not
    even one character does (the caller then says that labels were left out)."""
    if text_width_in(label, pt) <= width_in:
        return label
    while len(label) > 1 and text_width_in(label + "…", pt) > width_in:
        label = label[:-1]
    if text_width_in(label + "…", pt) <= width_in:
        return label + "…"
    return label[:1] if text_width_in(label[:1], pt) <= width_in else ""


def _prob_text(p: float) -> str:
    if p <= 0:
        return "0"
    return f"{p:.2f}" if p >= 0.01 else f"{p:.0e}".replace("e-0", "e-")


def draw_trace(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    """Per step: what was fed, where cross-attention looked, the top candidates, the choice."""
    w = width_inches(width)
    cross = np.asarray(data["cross"])
    probs = np.asarray(data["candidate_probs"])
    steps, src = cross.shape
    top = probs.shape[1]
    pt = typo.small
    narrow = w < 5  # single column: piece and probability on two lines
    y_labels = [f"{t + 1} {p}" for t, p in enumerate(data["inputs"])]
    side = _labels_width(y_labels, pt) + _line_in(typo.size) + 0.15
    widest = max((text_width_in(c, pt) for row in data["candidates"] for c in row), default=0.3)
    cand_w = _clamp(widest + 0.08, 0.35, 0.38 * w / top) if narrow else _clamp(widest + 0.45, 0.6, 0.4 * w / top)
    cell = min((w - side - top * cand_w - 0.3) / max(src, 1), MAX_CELL if narrow else 1.5 * MAX_CELL)
    row_h = max(cell, _line_in(pt) * (2.3 if narrow else 1.4))
    bottom = _x_labels_height(data["source"], pt, cell) + 2 * _line_in(typo.size) + 0.5
    head_h = _line_in(typo.size) * (3 if typo.title else 1) + 0.1
    h = _clamp(steps * row_h + bottom + head_h, 1.8, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout="constrained")
    ax, tab = fig.subplots(1, 2, width_ratios=[src * cell, top * cand_w])
    im = _heatmap(ax, cross, None, data["vmin"], data["vmax"])
    ax.set_aspect("auto")
    kx, _ = _token_ticks(ax, src, steps, data["source"], y_labels, cell, row_h, pt)
    ax.set_xlabel(_thinned("source piece", kx, "piece"))
    ax.set_ylabel(_axis_label("step, decoder input", steps * row_h, typo.size))
    _title(ax, "cross-attention", typo)
    cmap = mpl.colormaps[CANDIDATE_CMAP]
    pim = tab.imshow(probs, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    for t in range(steps):
        for k in range(top):
            piece = data["candidates"][t][k]
            rank = int(data["chosen_rank"][t])
            prefix = f"#{rank + 1} " if k == top - 1 and rank > k else ""
            text = _fit(prefix + piece, 0.92 * cand_w, pt) + ("\n" if narrow else " ") + _prob_text(float(probs[t, k]))
            tab.text(k, t, text, ha="center", va="center", fontsize=pt, linespacing=1.0,
                     color=_text_colour(cmap(float(probs[t, k]))))
            if int(data["candidate_ids"][t][k]) == int(data["chosen_ids"][t]):
                tab.add_patch(Rectangle((k - 0.5, t - 0.5), 1, 1, fill=False, edgecolor=HIGHLIGHT,
                                        linewidth=1.3, zorder=3))
    tab.set_xticks(range(top), [str(k + 1) for k in range(top)], fontsize=pt)
    tab.set_yticks([])
    tab.tick_params(length=0)
    for s in tab.spines.values():
        s.set_visible(False)
    _title(tab, "candidates", typo)
    tab.set_xlabel("rank")
    what = data["title"].replace("cross-attention · ", "").replace(" · ", ", ")
    _title(fig, f"generation trace ({what});\nnext-piece probabilities at T = {data['temperature']:g}", typo)
    for image, axis, label in ((im, ax, "attention weight"), (pim, tab, "probability")):
        cb = fig.colorbar(image, ax=axis, location="bottom", fraction=0.05, pad=0.02, aspect=20)
        cb.set_label(label, fontsize=pt)
        cb.ax.tick_params(labelsize=pt, width=0.5, length=2)
        cb.ax.xaxis.set_major_locator(FixedLocator([0.0, 0.5, 1.0]))
        cb.outline.set_linewidth(0.5)
    fig.legend(handles=[Patch(fill=False, edgecolor=HIGHLIGHT, linewidth=1.3, label="chosen piece")],
               loc="outside lower center", handlelength=1.0, handleheight=1.0, fontsize=pt)
    return fig


def _log_ticks(ax: Axes, axis: str, lo: float, hi: float) -> None:
    """Decades as plain numbers (1e-4 … 1); 2 and 5 between them when the range is short."""
    loc_axis = ax.xaxis if axis == "x" else ax.yaxis
    decades = math.log10(hi / lo) if lo > 0 else 3
    subs = (1.0,) if decades > 2.5 else (1.0, 2.0, 5.0)
    if decades > 5:  # every other decade keeps labels apart in a narrow panel
        loc_axis.set_major_locator(LogLocator(base=100))
    else:
        loc_axis.set_major_locator(LogLocator(base=10, subs=subs))
    loc_axis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}" if v >= 1e-3 else f"{v:.0e}".replace("e-0", "e-")))
    loc_axis.set_minor_formatter(NullFormatter())


def draw_probs(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    """Top next pieces under each temperature, on a shared log-probability axis."""
    w = width_inches(width)
    temps = np.asarray(data["temperatures"])
    probs = np.asarray(data["probs"])
    n, top = probs.shape
    ncols = n if (w >= 5 or n <= 2) else 2
    nrows = int(np.ceil(n / ncols))
    pt = typo.small
    row = _line_in(pt) * 1.15
    h = _clamp(nrows * (top * row + 3 * _line_in(pt)) + 3 * _line_in(typo.size), 1.5, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    chosen = [int(i) == int(data["chosen_id"]) for i in data["ids"]]
    colours = [HIGHLIGHT if c else OKABE_ITO["blue"] for c in chosen]
    y = np.arange(top)
    positive = probs[probs > 0]
    lo = 10.0 ** max(-12, math.floor(math.log10(float(positive.min())))) if positive.size else 1e-4
    lo = min(lo, 1e-2)
    for i, ax in enumerate(axes.ravel()):
        if i >= n:
            ax.set_visible(False)
            continue
        ax.barh(y, np.maximum(probs[i], lo) - lo, left=lo, color=colours, height=0.72)  # bar ends at p
        ax.set_xscale("log")
        ax.set_xlim(lo, 1.0)
        _title(ax, f"T = {temps[i]:g}", typo) if typo.title else ax.set_title(f"T = {temps[i]:g}", fontsize=pt)
        ax.set_yticks(y, data["pieces"], fontsize=pt)
        ax.tick_params(axis="y", length=0)
        _log_ticks(ax, "x", lo, 1.0)
        ax.tick_params(axis="x", labelsize=pt, labelrotation=0)
    axes[0, 0].invert_yaxis()  # most likely on top (shared by every panel)
    for ax in axes[-1]:
        ax.set_xlabel("probability (log)")
    _title(fig, data["title"], typo)
    rest = ", ".join(f"{_prob_text(float(r))}" for r in data["rest"])
    fig.legend(handles=[Patch(color=HIGHLIGHT, label="chosen piece"),
                        Patch(color=OKABE_ITO["blue"], label=f"others; rest of vocabulary: {rest}")],
               loc="outside lower center", ncols=1 if w < 5 else 2, handlelength=1.0, fontsize=pt)
    return fig


def draw_beam(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    """The search tree: x = step, leaves in depth-first order; best path in vermillion."""
    w = width_inches(width)
    nd = data["nodes"]
    x, y = np.asarray(nd["x"]), np.asarray(nd["y"])
    ids = [int(i) for i in nd["id"]]
    pos = {nid: i for i, nid in enumerate(ids)}
    status = nd["status"]
    n_leaves = int(y.max()) + 1 if len(y) else 1
    depth = int(x.max()) if len(x) else 0
    pt = typo.small
    row = max(_line_in(pt) * 1.5, MAX_HEIGHT / max(n_leaves, 1) if n_leaves * _line_in(pt) * 1.5 > MAX_HEIGHT else 0)
    row = min(row, (MAX_HEIGHT - 1.0) / max(n_leaves, 1))
    axes_w = w - 0.3
    finals = [f"{nd['piece'][i]} {float(nd['score'][i]):.2f}" for i in range(len(ids)) if status[i] == "finished"]
    right_in = min(_labels_width(finals, pt) + 0.1, 0.3 * axes_w)
    spacing = (axes_w - right_in) / (depth + 0.4)
    labels = []
    for i in range(len(ids)):
        if status[i] == "finished":
            labels.append(_fit(f"{nd['piece'][i]} {float(nd['score'][i]):.2f}", right_in, pt))
        else:
            labels.append(_fit(nd["piece"][i], 0.9 * spacing, pt))
    h = _clamp(n_leaves * row + 4 * _line_in(pt) + (_line_in(typo.size) if typo.title else 0), 1.4, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout="constrained")
    ax = fig.add_subplot()
    best = {int(i) for i in data["best_path"]}
    grey = OKABE_ITO["grey"]
    for i, nid in enumerate(ids):
        p = int(nd["parent"][i])
        if p < 0 or p not in pos:
            continue
        j = pos[p]
        on_best = nid in best and p in best
        ax.plot([x[j], x[i]], [y[j], y[i]], color=HIGHLIGHT if on_best else
                (grey if status[i] == "pruned" else "#555555"),
                lw=1.6 if on_best else 0.6, zorder=2 if on_best else 1, solid_capstyle="round")
    styles = {"finished": ("s", OKABE_ITO["green"], 16), "alive": ("o", OKABE_ITO["blue"], 12),
              "pruned": ("o", grey, 7)}
    for st, (marker, colour, size) in styles.items():
        sel = [i for i in range(len(ids)) if status[i] == st]
        ax.scatter(x[sel], y[sel], marker=marker, s=size, color=colour, zorder=4, linewidths=0)
    forced = [i for i in range(len(ids)) if bool(nd["forced"][i])]
    if forced:
        ax.scatter(x[forced], y[forced], marker="o", s=40, facecolors="none",
                   edgecolors=OKABE_ITO["orange"], linewidths=1.0, zorder=5)
    for i, label in enumerate(labels):
        right_of = status[i] == "finished"
        ax.annotate(label, (x[i], y[i]), xytext=(3, 0) if right_of else (0, 2.5), textcoords="offset points",
                    va="center" if right_of else "bottom", ha="left" if right_of else "center",
                    fontsize=pt, color=grey if status[i] == "pruned" else "black", zorder=6,
                    bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_ylim(n_leaves - 0.5, -0.5 - 0.6)
    ax.set_xlim(-0.2, depth + right_in / spacing)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=max(2, int(axes_w / 0.35))))
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    dropped = sum(1 for lb, p in zip(labels, nd["piece"], strict=True) if p and not lb)
    ax.set_xlabel("decoding step" + (f" ({dropped} pieces unnamed: steps too close at this width)"
                                     if dropped else ""))
    _title(ax, data["title"] + ("" if data["runner_ups"] else ", hypotheses on the beam"), typo)
    handles = [Line2D([], [], color=HIGHLIGHT, lw=1.6, label="best"),
               Line2D([], [], marker="s", ls="", color=OKABE_ITO["green"], ms=4, label="finished (score)"),
               Line2D([], [], marker="o", ls="", color=OKABE_ITO["blue"], ms=3.5, label="alive"),
               Line2D([], [], marker="o", ls="", color=grey, ms=2.5, label="pruned")]
    if forced:
        handles.append(Line2D([], [], marker="o", ls="", mfc="none", mec=OKABE_ITO["orange"], ms=5,
                              label="forced"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles) if w >= 5 else 3,
               handlelength=1.5, columnspacing=1.0, fontsize=pt)
    return fig


# -- training curves ------------------------------------------------------------------------------

RUN_COLOURS = [OKABE_ITO[k] for k in ("black", "orange", "blue", "green", "vermillion", "purple", "sky")]


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def draw_curves(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    """One axis per family of numbers: loss (train and validation), learning rate, gradient
    norm, BLEU and chrF (0-100), exact match (%); several runs share each axis in colours."""
    w = width_inches(width)
    runs = data["runs"] if "runs" in data else {"run": data}
    many = len(runs) > 1
    ncols = 3 if w >= 5 else 2
    nrows = math.ceil(5 / ncols)
    h = w * (0.5 if w >= 5 else 1.25)
    fig = Figure(figsize=(w, h), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    a_loss, a_lr, a_grad, a_score, a_exact = axes.ravel()[:5]
    for ax in axes.ravel()[5:]:
        ax.set_visible(False)
    valid_style: dict[str, Any] = {"marker": "o", "ms": 2.5, "ls": "--", "lw": 0.9}
    grad_hi, grad_lo = 0.0, math.inf
    for r, run in enumerate(runs.values()):
        colour = RUN_COLOURS[r % len(RUN_COLOURS)]
        tr, va = run["train"], run["valid"]
        step = np.asarray(tr["step"])
        a_loss.plot(*_finite(step, np.asarray(tr["loss"])), color=colour, lw=1.0)
        if len(va["step"]):
            a_loss.plot(*_finite(np.asarray(va["step"]), np.asarray(va["loss"])), color=colour, **valid_style)
        a_lr.plot(*_finite(step, np.asarray(tr["lr"])), color=colour)
        g = _finite(step, np.asarray(tr["grad_norm"]))
        a_grad.plot(*g, color=colour, lw=1.1)
        if len(g[1]) and np.any(g[1] > 0):
            grad_hi, grad_lo = max(grad_hi, float(g[1].max())), min(grad_lo, float(g[1][g[1] > 0].min()))
        if not many:
            layer_colours = [OKABE_ITO[k] for k in ("orange", "sky", "green", "blue", "vermillion", "purple")]
            for lname, series in run["layer_grad_norm"].items():
                side, _, idx = lname.partition(".")
                c = layer_colours[int(idx) % len(layer_colours)] if idx.isdigit() else OKABE_ITO["grey"]
                s = _finite(step, np.asarray(series))
                a_grad.plot(*s, color=c, lw=0.7, ls="--" if side == "decoder" else "-", label=lname)
                if len(s[1]) and np.any(s[1] > 0):
                    grad_hi, grad_lo = max(grad_hi, float(s[1].max())), min(grad_lo, float(s[1][s[1] > 0].min()))
        vs = np.asarray(va["step"])
        if len(vs):
            a_score.plot(*_finite(vs, np.asarray(va["bleu"])), color=colour, marker="o", ms=2.5, lw=1.0,
                         ls="-" if not many else "-")
            a_score.plot(*_finite(vs, np.asarray(va["chrf"])), color=colour if many else OKABE_ITO["orange"],
                         marker="s", ms=2.5, lw=1.0, ls=":")
            a_exact.plot(*_finite(vs, 100 * np.asarray(va["exact_match"])), color=colour, marker="^", ms=2.5, lw=1.0)
        for s in np.asarray(run["starts"]):
            if s > 0:  # a resumed run
                for ax in (a_loss, a_lr, a_grad, a_score, a_exact):
                    ax.axvline(s, color=OKABE_ITO["grey"], lw=0.6, ls=":")
    a_loss.set_ylabel("loss")
    a_lr.set_ylabel("learning rate")
    a_lr.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0e}".replace("e-0", "e-") if v else "0"))
    a_lr.yaxis.set_major_locator(MaxNLocator(nbins=4))
    if grad_hi > 0:
        a_grad.set_yscale("log")
        _log_ticks(a_grad, "y", grad_lo, grad_hi)
        a_grad.set_ylim(grad_lo / 1.3, grad_hi * 1.3)
    a_grad.set_ylabel("gradient norm")
    a_score.set_ylabel("BLEU, chrF")
    a_score.set_ylim(0, 100)
    a_exact.set_ylabel("exact match (%)")
    a_exact.set_ylim(0, 100)
    for ax in (a_score, a_exact):
        if not ax.lines:
            ax.text(0.5, 0.5, "no validation yet", ha="center", va="center", transform=ax.transAxes,
                    color=OKABE_ITO["grey"], fontsize=typo.small)
    for ax in axes.ravel()[:5]:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4 if w >= 5 else 3, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4)) if ax not in (a_grad, a_lr) else None
    for ax in axes[-1]:
        ax.set_xlabel("step")
    for ax in axes.ravel()[:5]:
        ax.xaxis.set_tick_params(labelbottom=True)
    handles = [Line2D([], [], color="black", lw=1.0, label="training"),
               Line2D([], [], color="black", label="validation", **valid_style),
               Line2D([], [], color="black", marker="o", ms=2.5, label="BLEU"),
               Line2D([], [], color="black" if many else OKABE_ITO["orange"], marker="s", ms=2.5, ls=":",
                      label="chrF")]
    if many:
        handles += [Line2D([], [], color=RUN_COLOURS[r % len(RUN_COLOURS)], lw=2, label=name)
                    for r, name in enumerate(runs)]
    else:
        short = {"encoder": "enc", "decoder": "dec"}
        handles += [Line2D([], [], color=ln.get_color(), ls=ln.get_linestyle(), lw=0.7,
                           label="grad " + " ".join(short.get(p, p) for p in str(ln.get_label()).split(".")))
                    for ln in a_grad.lines if not str(ln.get_label()).startswith("_")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3 if w < 5 else 6, handlelength=1.6,
               columnspacing=0.8, fontsize=typo.small)
    _title(fig, data["title"], typo)
    return fig


# -- per-head maps from heads.json ------------------------------------------------------------------

def _head_axes(ax: Axes, n_layers: int, n_heads: int, pt: float) -> None:
    ax.set_xticks(range(n_heads), [str(h + 1) for h in range(n_heads)], fontsize=pt)
    ax.set_yticks(range(n_layers), [str(layer + 1) for layer in range(n_layers)], fontsize=pt)
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.tick_params(length=0, pad=1.5)
    for s in ax.spines.values():
        s.set_visible(False)


def _annotate(ax: Axes, values: np.ndarray, im: AxesImage, pt: float, fmt: str = "{:.2f}") -> None:
    for (layer, head), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(head, layer, fmt.format(v), ha="center", va="center", fontsize=pt,
                    color=_text_colour(tuple(np.ravel(im.cmap(im.norm(v))))))


def _cell_for(values_shape: tuple[int, int], w: float, panels: int, pt: float) -> float:
    """Cell size of per-head maps: wide enough for "0.00" at ``pt``, within the width."""
    n_layers, n_heads = values_shape
    fit = (w - 0.9 - 0.5 * panels) / (panels * n_heads)
    return _clamp(fit, text_width_in("0.00", pt) + 0.04, 0.4)


def draw_aer(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    w = width_inches(width)
    aer = np.asarray(data["aer"], np.float64)
    n_layers, n_heads = aer.shape
    pt = typo.small
    cell = _cell_for(aer.shape, w, 1, pt)
    h = _clamp(n_layers * cell + 4 * _line_in(typo.size), 1.3, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(aer, cmap=mpl.colormaps[CMAP].reversed(), vmin=0.0, vmax=1.0, interpolation="nearest")
    _annotate(ax, aer, im, pt)
    layer, head = (int(v) for v in data["best_head"])
    ax.add_patch(Rectangle((head - 0.5, layer - 0.5), 1, 1, fill=False, edgecolor=HIGHLIGHT, lw=1.6, zorder=3))
    _head_axes(ax, n_layers, n_heads, pt)
    _title(ax, data["title"], typo)
    _colorbar(fig, im, ax, "AER", typo, length_in=n_layers * cell, ax_width=n_heads * cell)
    fig.legend(handles=[Patch(fill=False, edgecolor=HIGHLIGHT, lw=1.6,
                              label=f"best head: layer {layer + 1}, head {head + 1} (AER {data['best_aer']:.2f})")],
               loc="outside lower center", fontsize=pt, handlelength=1.0, handleheight=1.0)
    return fig


ROLE_COLOURS = {"previous": OKABE_ITO["orange"], "next": OKABE_ITO["sky"], "diagonal": OKABE_ITO["green"],
                "sink": OKABE_ITO["grey"], "alignment": OKABE_ITO["vermillion"], "broad": OKABE_ITO["blue"],
                "mixed": "#ffffff"}


def _panels(w: float, n_heads: int, pt: float) -> tuple[int, int]:
    """(rows, columns) of the three kind panels: side by side when each fits, else stacked."""
    return (1, 3) if w >= 5 or 3 * n_heads * (text_width_in("0.00", pt) + 0.04) + 1.8 <= w else (3, 1)


def draw_roles(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    """Each head coloured by its role; the number the role rests on written in the cell."""
    w = width_inches(width)
    pt = typo.small
    kinds = ("encoder", "decoder", "cross")
    n_heads = max(len(data["roles"][k][0]) for k in kinds if data["roles"][k])
    n_layers = max(len(data["roles"][k]) for k in kinds)
    nr, nc = _panels(w, n_heads, pt)
    cell = _cell_for((n_layers, n_heads), w, nc, pt)
    h = _clamp(nr * (n_layers * cell + 3 * _line_in(pt)) + 3 * _line_in(pt), 1.4, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout="constrained")
    axes = fig.subplots(nr, nc, squeeze=False).ravel()
    names = list(ROLE_COLOURS)
    cmap = ListedColormap([ROLE_COLOURS[n] for n in names])
    used: set[str] = set()
    for ax, kind in zip(axes, kinds, strict=True):
        roles = data["roles"][kind]
        idx = np.array([[names.index(r) for r in row] for row in roles], np.float64)
        ax.imshow(idx, cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5, interpolation="nearest")
        vals = np.asarray(data["values"][kind])
        for (layer, head), v in np.ndenumerate(vals):
            role = roles[layer][head]
            used.add(role)
            ax.text(head, layer, f"{v:.2f}", ha="center", va="center", fontsize=pt,
                    color=_text_colour(tuple(mpl.colors.to_rgba(ROLE_COLOURS[role]))))
        for (layer, head), _ in np.ndenumerate(idx):  # cell borders: a white "mixed" cell stays a cell
            ax.add_patch(Rectangle((head - 0.5, layer - 0.5), 1, 1, fill=False, lw=0.4, ec="#aaaaaa"))
        _head_axes(ax, idx.shape[0], idx.shape[1], pt)
        ax.set_title(kind, fontsize=pt, pad=2)
    handles = [Patch(facecolor=ROLE_COLOURS[n], edgecolor="#888888", lw=0.5, label=n) for n in names if n in used]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4 if w < 5 else 7),
               fontsize=pt, handlelength=1.0, handleheight=1.0, columnspacing=0.8)
    note = "" if data["has_aer"] else " (no gold alignments: no AER)"
    _title(fig, f"{data['title']}: measured on {data['sentences']} validation sentences{note}", typo)
    return fig


def draw_stat(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    """One profile (entropy, distance) of every head, per kind, on one shared colour scale."""
    w = width_inches(width)
    pt = typo.small
    kinds = ("encoder", "decoder", "cross")
    values = {k: np.asarray(data["values"][k], np.float64) for k in kinds}
    n_layers, n_heads = values["encoder"].shape
    nr, nc = _panels(w, n_heads, pt)
    cell = _cell_for((n_layers, n_heads), w, nc, pt)
    h = _clamp(nr * (n_layers * cell + 3 * _line_in(pt)) + 2 * _line_in(typo.size), 1.4, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout="constrained")
    axes = fig.subplots(nr, nc, squeeze=False).ravel()
    top = max(float(np.nanmax(v)) for v in values.values())
    vmax = 1.0 if data["view"] == "entropy" else max(top, 1e-6)
    im = None
    for ax, kind in zip(axes, kinds, strict=True):
        im = ax.imshow(values[kind], cmap=CMAP, vmin=0.0, vmax=vmax, interpolation="nearest")
        _annotate(ax, values[kind], im, pt, "{:.2f}" if vmax <= 10 else "{:.1f}")
        _head_axes(ax, values[kind].shape[0], values[kind].shape[1], pt)
        ax.set_title(kind, fontsize=pt, pad=2)
    assert im is not None
    _colorbar(fig, im, list(axes), data["label"], typo, length_in=0.8 * (h - 3 * _line_in(pt)))
    _title(fig, f"{data['title']} ({data['sentences']} validation sentences)", typo)
    return fig


def draw_contributions(data: dict[str, Any], width: str | float, typo: Typography) -> Figure:
    """ALTI+: [source | target prefix] contributions to each prediction, and the source share."""
    w = width_inches(width)
    m = np.asarray(data["matrix"])
    rows, cols = m.shape
    n_src = int(data["n_source"])
    pt = typo.small
    side = _labels_width(data["y_labels"], pt) + _line_in(typo.size) + 0.15
    cell = min((w - side - 0.75) / max(cols, 1), MAX_CELL if w < 5 else 1.5 * MAX_CELL)
    bottom = _x_labels_height(data["x_labels"], pt, cell) + _line_in(typo.size) + 0.15
    top = _line_in(typo.size) + 0.1 if typo.title else 0.05
    curve_h = 1.1
    h = _clamp(rows * cell + bottom + top + curve_h + 0.3, 2.2, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, height_ratios=[max(h - curve_h - 0.3, 0.8), curve_h])
    mask = np.zeros(m.shape, bool)
    mask[:, n_src:] = np.triu(np.ones((rows, cols - n_src), bool), 1)  # later pieces: never seen
    im = _heatmap(ax, m, mask, data["vmin"], data["vmax"])
    cell_y = min(cell, (h - curve_h - 0.3 - bottom - top) / max(rows, 1))
    kx, ky = _token_ticks(ax, cols, rows, data["x_labels"], data["y_labels"], cell, cell_y, pt)
    ax.axvline(n_src - 0.5, color=HIGHLIGHT, linewidth=1.0)
    ax.set_xlabel(_thinned(data["x_axis"], kx, "piece"))
    ax.set_ylabel(_axis_label(data["y_axis"], rows * cell_y, typo.size))
    _title(ax, data["title"], typo)
    _colorbar(fig, im, ax, "contribution", typo, length_in=rows * cell_y, ax_width=cols * cell)
    share = np.asarray(data["source_share"])
    steps = np.arange(1, len(share) + 1)
    ax2.plot(steps, share, marker="o", markersize=3, color=HIGHLIGHT, label="source")
    ax2.plot(steps, 1 - share, marker="o", markersize=3, color=OKABE_ITO["blue"], label="target prefix")
    ax2.set_ylim(0, 1)
    ax2.set_xlim(0.5, len(share) + 0.5)
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_xlabel("step", fontsize=typo.small)
    ax2.set_ylabel("share", fontsize=typo.small)
    ax2.tick_params(labelsize=typo.small)
    ax2.legend(loc="center right", fontsize=typo.small, frameon=False, ncols=2)
    return fig


DRAW = {"head": draw_head, "grid": draw_grid, "cross": draw_cross, "beam": draw_beam,
        "probs": draw_probs, "trace": draw_trace, "curves": draw_curves, "aer": draw_aer,
        "roles": draw_roles, "entropy": draw_stat, "distance": draw_stat, "corpus": draw_corpus,
        "snapshots": draw_snapshots, "contributions": draw_contributions}
