"""Matplotlib drawings of the dicts in :mod:`export.data`, one function per view.

Each ``draw_<view>(data, width)`` returns a :class:`matplotlib.figure.Figure` (never
pyplot, so nothing global and nothing GUI) sized for the column width, to be called
inside :func:`export.style.figure_style`.
"""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from attnscope.export.style import (
    BASE_PT,
    CANDIDATE_CMAP,
    CMAP,
    HIGHLIGHT,
    MASKED,
    MAX_HEIGHT,
    OKABE_ITO,
    text_width_in,
    width_inches,
)

MAX_CELL = 0.30  # inches: attention cells never grow beyond this (0.45 at double width)
MIN_TICK_PT = 3.5  # below this, token labels are left out rather than smeared


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def _labels_width(labels: list[str], pt: float) -> float:
    return max((text_width_in(s, pt) for s in labels), default=0.0)


def _attention_cmap() -> mpl.colors.Colormap:
    return mpl.colormaps[CMAP].with_extremes(bad=MASKED)


def _upright(label: str, pt: float, cell: float) -> bool:
    """A column label narrow enough to stand upright (Hangul reads badly turned sideways)."""
    return text_width_in(label, pt) <= 0.9 * cell


def _x_labels_height(labels: list[str], pt: float, cell: float) -> float:
    turned = [lb for lb in labels if not _upright(lb, pt, cell)]
    return max(pt / 72 * 1.4, _labels_width(turned, pt))


def _heatmap(ax: Axes, m: np.ndarray, mask: np.ndarray | None, x_labels: list[str],
             y_labels: list[str] | None, pt: float, vmin: float, vmax: float, cell: float,
             show_x: bool = True, show_y: bool = True) -> AxesImage:
    data = np.ma.array(m, mask=mask) if mask is not None else m
    im = ax.imshow(data, cmap=_attention_cmap(), vmin=vmin, vmax=vmax, aspect="equal",
                   interpolation="nearest")
    if pt >= MIN_TICK_PT:
        ax.set_xticks(range(m.shape[1]))
        ax.set_yticks(range(m.shape[0]))
        ax.set_xticklabels(x_labels if show_x else [], fontsize=pt)
        for t in ax.get_xticklabels():
            t.set_rotation(0 if _upright(t.get_text(), pt, cell) else 90)
        ax.set_yticklabels(y_labels if show_y and y_labels is not None else [], fontsize=pt)
    else:  # too many pieces to name legibly: number every few positions (the dump has the labels)
        every = 5 if max(m.shape) <= 60 else 10
        ax.set_xticks(range(0, m.shape[1], every), [str(i) for i in range(0, m.shape[1], every)] if show_x else [],
                      fontsize=BASE_PT - 2)
        ax.set_yticks(range(0, m.shape[0], every), [str(i) for i in range(0, m.shape[0], every)] if show_y else [],
                      fontsize=BASE_PT - 2)
    ax.tick_params(length=0, pad=1.5)
    for s in ax.spines.values():
        s.set_visible(False)
    return im


def _max_cell(w: float) -> float:
    return MAX_CELL if w < 5 else 1.5 * MAX_CELL


def _colorbar(fig: Figure, im: AxesImage, ax: Axes | list[Axes], label: str,
              ax_width: float = 0.0) -> None:
    """A colour bar beside ``ax``; given the axes' printed width (inches) it is glued to a
    single fixed-aspect axes, so the pair stays centred instead of drifting apart."""
    if ax_width and isinstance(ax, Axes):
        cax = ax.inset_axes((1.0 + 0.08 / ax_width, 0.0, 0.08 / ax_width, 1.0))
        cb = fig.colorbar(im, cax=cax)
    else:
        cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02, aspect=25, shrink=0.9)
    cb.set_label(label, fontsize=BASE_PT - 1)
    cb.ax.tick_params(labelsize=BASE_PT - 1.5, width=0.5, length=2)
    cb.outline.set_linewidth(0.5)


def _matrix_figure(data: dict[str, Any], width: str | float) -> tuple[Figure, Axes, AxesImage]:
    """One heatmap with tokens on both axes and a colour bar (the head and cross views)."""
    w = width_inches(width)
    m = np.asarray(data["matrix"])
    rows, cols = m.shape
    pt = BASE_PT - 1
    side = _labels_width(data["y_labels"], pt) + 0.25  # tick labels + axis label
    cell = min((w - 2 * side - 1.0) / max(cols, 1), _max_cell(w), 0.6 * w / max(rows, 1))
    pt = min(cell * 72 * 0.8, BASE_PT - 1)
    if pt < MIN_TICK_PT:  # piece labels will not fit: numbered positions instead, a bigger map
        cell = min((w - 1.6) / max(cols, 1), 0.6 * w / max(rows, 1))
        pt = min(cell * 72 * 0.8, MIN_TICK_PT - 0.1)
    bottom = (_x_labels_height(data["x_labels"], pt, cell) if pt >= MIN_TICK_PT else 0.1) + 0.3
    h = _clamp(rows * cell + bottom + 0.45, 1.2, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout="constrained")
    ax = fig.add_subplot()
    im = _heatmap(ax, m, data.get("mask"), data["x_labels"], data["y_labels"], pt,
                  data["vmin"], data["vmax"], cell)
    ax.set_xlabel(data["x_axis"])
    ax.set_ylabel(data["y_axis"])
    ax.set_title(data["title"])
    _colorbar(fig, im, ax, data.get("value_label", "attention weight"), ax_width=cols * cell)
    return fig, ax, im


def draw_head(data: dict[str, Any], width: str | float) -> Figure:
    return _matrix_figure(data, width)[0]


def draw_cross(data: dict[str, Any], width: str | float) -> Figure:
    fig, ax, _ = _matrix_figure(data, width)
    links = data.get("alignment")
    if links is not None and len(links):
        for t, s in np.asarray(links):
            ax.add_patch(Rectangle((s - 0.5, t - 0.5), 1, 1, fill=False, edgecolor=HIGHLIGHT,
                                   linewidth=1.1, zorder=3))
        fig.legend(handles=[Patch(fill=False, edgecolor=HIGHLIGHT, linewidth=1.1, label="gold alignment")],
                   loc="outside lower center", handlelength=1.0, handleheight=1.0)
    return fig


def draw_grid(data: dict[str, Any], width: str | float) -> Figure:
    """Layer × head tiles on one shared 0–1 colour scale; labels on the outer tiles only."""
    w = width_inches(width)
    stack = np.asarray(data["matrices"])
    n_layers, n_heads, rows, cols = stack.shape
    pt = BASE_PT - 2
    side = _labels_width(data["y_labels"], pt) + 0.3
    tile_w = (w - side - 0.55 - 0.06 * n_heads) / n_heads
    cell = min(tile_w / max(cols, 1), MAX_CELL)
    pt = _clamp(cell * 72 * 0.8, 0.0, BASE_PT - 2)
    bottom = _x_labels_height(data["x_labels"], pt, cell) + 0.3 if pt >= MIN_TICK_PT else 0.3
    h = _clamp(n_layers * (rows * cell + 0.1) + bottom + 0.4, 1.2, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout=ConstrainedLayoutEngine(w_pad=0.01, h_pad=0.01, wspace=0.02,
                                                               hspace=0.02))
    axes = fig.subplots(n_layers, n_heads, squeeze=False)
    im = None
    for layer in range(n_layers):
        for head in range(n_heads):
            ax = axes[layer, head]
            im = _heatmap(ax, stack[layer, head], data.get("mask"), data["x_labels"], data["y_labels"],
                          pt, data["vmin"], data["vmax"], cell, show_x=layer == n_layers - 1, show_y=head == 0)
            if layer == 0:
                ax.set_title(f"head {head + 1}", fontsize=BASE_PT - 1)
            if head == 0:
                ax.set_ylabel(f"layer {layer + 1}", fontsize=BASE_PT - 1)
    assert im is not None
    fig.suptitle(data["title"], fontsize=BASE_PT)
    fig.supxlabel(f"rows: {data['y_axis']} · columns: {data['x_axis']}", fontsize=BASE_PT - 1)
    _colorbar(fig, im, list(axes.ravel()), data.get("value_label", "attention weight"))
    return fig


def _text_colour(rgba: tuple[float, ...]) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def draw_trace(data: dict[str, Any], width: str | float) -> Figure:
    """Per step: what was fed, where cross-attention looked, the top candidates, the choice."""
    w = width_inches(width)
    cross = np.asarray(data["cross"])
    probs = np.asarray(data["candidate_probs"])
    steps, src = cross.shape
    top = probs.shape[1]
    narrow = w < 5  # single column: piece and probability on two lines, narrower cells
    cand_pt = BASE_PT - 2 if narrow else BASE_PT - 1.5
    cells = [[_cand_label(data, t, k, "\n" if narrow else " ") for k in range(top)] for t in range(steps)]
    cand_w = max(text_width_in(line, cand_pt) for row in cells for c in row for line in c.split("\n")) + 0.1
    y_labels = [f"{t + 1}  {p}" for t, p in enumerate(data["inputs"])]
    side = _labels_width(y_labels, BASE_PT - 1) + 0.25
    if top * cand_w > 0.45 * w:  # long pieces: smaller candidate text rather than no map
        cand_pt *= 0.45 * w / (top * cand_w)
        cand_w = 0.45 * w / top
    cell = min((w - side - top * cand_w - 0.65) / max(src, 1), MAX_CELL)
    pt = min(cell * 72 * 0.8, BASE_PT - 1)
    row_h = max(cell, 0.24 if narrow else 0.16)
    bottom = (_x_labels_height(data["source"], pt, cell) if pt >= MIN_TICK_PT else 0.1) + 0.3
    h = _clamp(steps * row_h + bottom + 0.7, 1.4, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout=ConstrainedLayoutEngine(wspace=0.03))
    ax, tab = fig.subplots(1, 2, width_ratios=[src * cell, top * cand_w])
    im = _heatmap(ax, cross, None, data["source"], y_labels, pt, data["vmin"], data["vmax"], cell)
    ax.set_aspect("auto")
    ax.set_yticks(range(steps), y_labels, fontsize=BASE_PT - 1)  # rows are always tall enough
    ax.set_xlabel("source piece")
    ax.set_ylabel("step, decoder input")
    ax.set_title("cross-attention")
    cmap = mpl.colormaps[CANDIDATE_CMAP]
    tab.imshow(probs, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    for t in range(steps):
        for k in range(top):
            tab.text(k, t, cells[t][k], ha="center", va="center", fontsize=cand_pt, linespacing=1.0,
                     color=_text_colour(cmap(float(probs[t, k]))))
            if int(data["candidate_ids"][t][k]) == int(data["chosen_ids"][t]):
                tab.add_patch(Rectangle((k - 0.5, t - 0.5), 1, 1, fill=False, edgecolor=HIGHLIGHT,
                                        linewidth=1.3, zorder=3))
    tab.set_xticks(range(top), [_ordinal(k + 1) for k in range(top)], fontsize=BASE_PT - 1)
    tab.set_yticks([])
    tab.tick_params(length=0)
    for s in tab.spines.values():
        s.set_visible(False)
    tab.set_title("candidates")
    tab.set_xlabel("rank")
    what = data["title"].replace("cross-attention · ", "").replace(" · ", ", ")
    fig.suptitle(f"generation trace · cross-attention: {what}{chr(10) if narrow else ' · '}"
                 f"next-piece probabilities at T = {data['temperature']:g}", fontsize=BASE_PT)
    fig.legend(handles=[Patch(fill=False, edgecolor=HIGHLIGHT, linewidth=1.3, label="chosen piece")],
               loc="outside lower right", handlelength=1.0, handleheight=1.0)
    _colorbar(fig, im, [ax, tab], "attention weight")
    return fig


def _cand_label(data: dict[str, Any], t: int, k: int, sep: str) -> str:
    piece = data["candidates"][t][k]
    p = float(data["candidate_probs"][t][k])
    rank = int(data["chosen_rank"][t])
    prefix = f"#{rank + 1} " if k == len(data["candidates"][t]) - 1 and rank > k else ""
    return f"{prefix}{piece}{sep}{p:.2f}"


def _ordinal(n: int) -> str:
    return f"{n}{'st' if n == 1 else 'nd' if n == 2 else 'rd' if n == 3 else 'th'}"


def draw_probs(data: dict[str, Any], width: str | float) -> Figure:
    """Top next pieces under each temperature, side by side on a shared 0–1 axis."""
    w = width_inches(width)
    temps = np.asarray(data["temperatures"])
    probs = np.asarray(data["probs"])
    n, top = probs.shape
    ncols = n if (w >= 5 or n <= 2) else 2
    nrows = int(np.ceil(n / ncols))
    h = _clamp(nrows * (top * 0.15 + 0.35) + 0.45, 1.3, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    chosen = [int(i) == int(data["chosen_id"]) for i in data["ids"]]
    colours = [HIGHLIGHT if c else OKABE_ITO["blue"] for c in chosen]
    y = np.arange(top)
    vpt = BASE_PT - 2 if w / ncols < 1.2 else BASE_PT - 1.5
    for i, ax in enumerate(axes.ravel()):
        if i >= n:
            ax.set_visible(False)
            continue
        ax.barh(y, probs[i], color=colours, height=0.72)
        for yy, p in zip(y, probs[i], strict=True):
            inside = p > 0.62
            ax.text(p - 0.02 if inside else p + 0.02, yy, f"{p:.2f}", va="center",
                    ha="right" if inside else "left", fontsize=vpt,
                    color="white" if inside else "black")
        ax.set_title(f"T = {temps[i]:g}")
        ax.text(0.98, 0.02, f"all others {float(data['rest'][i]):.2f}", transform=ax.transAxes, ha="right",
                va="bottom", fontsize=vpt, color=OKABE_ITO["grey"])
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.5, 1], ["0", ".5", "1"])
        ax.set_yticks(y, data["pieces"])
        ax.tick_params(axis="y", length=0)
    axes[0, 0].invert_yaxis()  # most likely on top (shared by every panel)
    for ax in axes[-1]:
        ax.set_xlabel("probability")
    fig.suptitle(data["title"], fontsize=BASE_PT)
    fig.legend(handles=[Patch(color=HIGHLIGHT, label="chosen piece"),
                        Patch(color=OKABE_ITO["blue"], label="other candidates")],
               loc="outside lower center", ncols=2, handlelength=1.0)
    return fig


def draw_beam(data: dict[str, Any], width: str | float) -> Figure:
    """The search tree: x = step, leaves in depth-first order; best path in vermillion."""
    w = width_inches(width)
    nd = data["nodes"]
    x, y = np.asarray(nd["x"]), np.asarray(nd["y"])
    ids = [int(i) for i in nd["id"]]
    pos = {nid: i for i, nid in enumerate(ids)}
    status = nd["status"]
    n_leaves = int(y.max()) + 1 if len(y) else 1
    depth = int(x.max()) if len(x) else 0
    pt = BASE_PT - 1 if w >= 5 else BASE_PT - 1.5
    row = 0.18 if w >= 5 else 0.16
    if n_leaves * row + 0.7 > MAX_HEIGHT:  # a crowded tree: shrink rows and text together
        row = (MAX_HEIGHT - 0.7) / n_leaves
        pt = _clamp(row * 72 * 0.8, 3.0, pt)
    labels = [nd["piece"][i] + (f"  {float(nd['score'][i]):.2f}" if status[i] == "finished" else "")
              for i in range(len(ids))]
    # Each label sits right of its node and must end before the next step's node: shrink
    # the text for deep trees, and leave room after the last step for the final labels.
    inner = max((text_width_in(lb, 1.0) for lb, st in zip(labels, status, strict=True) if st != "finished"),
                default=0.0)
    last = max((text_width_in(lb, 1.0) for lb, st in zip(labels, status, strict=True) if st == "finished"),
               default=0.0)
    axes_w = w - 0.3
    spacing = axes_w / (depth + 1.2)
    if inner:
        pt = _clamp(0.9 * spacing / inner, 4.5, pt)
    right = (last * pt + 0.1) / spacing
    spacing = axes_w / (depth + 0.2 + right)
    h = _clamp(n_leaves * row + 0.75, 1.4, MAX_HEIGHT)
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
        # Pieces sit centred above their node (clear of the edges leaving it); a finished
        # hypothesis's "</s>  score" goes to its right, where nothing follows.
        right_of = status[i] == "finished"
        ax.annotate(label, (x[i], y[i]), xytext=(3, 0) if right_of else (0, 2.5), textcoords="offset points",
                    va="center" if right_of else "bottom", ha="left" if right_of else "center",
                    fontsize=pt, color=grey if status[i] == "pruned" else "black", zorder=6,
                    bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_ylim(n_leaves - 0.5, -0.5)
    ax.set_xlim(-0.2, depth + right)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("decoding step")
    ax.set_title(data["title"] + ("" if data["runner_ups"] else " · hypotheses that were on the beam"))
    handles = [Line2D([], [], color=HIGHLIGHT, lw=1.6, label="best"),
               Line2D([], [], marker="s", ls="", color=OKABE_ITO["green"], ms=4, label="finished (score)"),
               Line2D([], [], marker="o", ls="", color=OKABE_ITO["blue"], ms=3.5, label="alive"),
               Line2D([], [], marker="o", ls="", color=grey, ms=2.5, label="pruned")]
    if forced:
        handles.append(Line2D([], [], marker="o", ls="", mfc="none", mec=OKABE_ITO["orange"], ms=5,
                              label="forced"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), handlelength=1.5,
               columnspacing=1.0)
    return fig


def draw_curves(data: dict[str, Any], width: str | float) -> Figure:
    """Loss, learning rate, gradient norms (total and per layer) and validation scores."""
    w = width_inches(width)
    h = w * 0.62 if w >= 5 else w * 1.0
    fig = Figure(figsize=(w, h), layout="constrained")
    (a_loss, a_lr), (a_grad, a_val) = fig.subplots(2, 2, sharex=True)
    tr, va = data["train"], data["valid"]
    step = tr["step"]
    a_loss.plot(step, tr["loss"], color=OKABE_ITO["black"])
    a_loss.set_ylabel("training loss")
    a_lr.plot(step, tr["lr"], color=OKABE_ITO["blue"])
    a_lr.set_ylabel("learning rate")
    a_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    a_grad.plot(step, tr["grad_norm"], color=OKABE_ITO["black"], lw=1.2, label="total")
    colours = [OKABE_ITO[k] for k in ("orange", "sky", "green", "blue", "vermillion", "purple")]
    for name, series in data["layer_grad_norm"].items():
        side, _, idx = name.partition(".")
        colour = colours[int(idx) % len(colours)] if idx.isdigit() else OKABE_ITO["grey"]
        a_grad.plot(step, series, color=colour, lw=0.7, ls="--" if side == "decoder" else "-", label=name)
    if np.any(np.asarray(tr["grad_norm"]) > 0):
        a_grad.set_yscale("log")
        # Plain "0.1", "1", "10": the default labels are mathtext, which the style turns off.
        a_grad.yaxis.set_major_locator(LogLocator(base=10))
        a_grad.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        a_grad.yaxis.set_minor_formatter(NullFormatter())
    a_grad.set_ylabel("gradient norm")
    if data["layer_grad_norm"]:
        handles, labels = a_grad.get_legend_handles_labels()
        fig.legend(handles, [f"grad norm: {lb}" if i == 0 else lb for i, lb in enumerate(labels)],
                   loc="outside lower center", ncols=min(len(labels), 4 if w < 5 else 8),
                   handlelength=1.8, columnspacing=1.0, fontsize=BASE_PT - 1.5)
    if len(va["step"]):
        a_val.plot(va["step"], va["bleu"], marker="o", ms=2, color=OKABE_ITO["blue"], label="BLEU")
        a_val.plot(va["step"], va["chrf"], marker="s", ms=2, color=OKABE_ITO["orange"], label="chrF")
        a_val.plot(va["step"], 100 * np.asarray(va["exact_match"]), marker="^", ms=2,
                   color=OKABE_ITO["green"], label="exact match (%)")
        a_val.set_ylim(0, 100)
        a_val.legend(loc="lower right", handlelength=1.6)
    else:
        a_val.text(0.5, 0.5, "no validation yet", ha="center", va="center", transform=a_val.transAxes,
                   color=OKABE_ITO["grey"])
    a_val.set_ylabel("validation")
    for ax in (a_loss, a_lr, a_grad, a_val):
        for s in np.asarray(data["starts"]):
            if s > 0:  # a resumed run
                ax.axvline(s, color=OKABE_ITO["grey"], lw=0.6, ls=":")
    for ax in (a_grad, a_val):
        ax.set_xlabel("step")
    return fig


def draw_contributions(data: dict[str, Any], width: str | float) -> Figure:
    """ALTI+: contributions of [source | target prefix] to each prediction, and the source share."""
    w = width_inches(width)
    m = np.asarray(data["matrix"])
    rows, cols = m.shape
    n_src = int(data["n_source"])
    pt = BASE_PT - 2
    side = _labels_width(data["y_labels"], pt) + 0.3
    cell = min((w - side - 1.0) / max(cols, 1), _max_cell(w))
    pt = _clamp(cell * 72 * 0.8, 0.0, BASE_PT - 2)
    bottom = _x_labels_height(data["x_labels"], pt, cell) + 0.3 if pt >= MIN_TICK_PT else 0.3
    h = _clamp(rows * cell + bottom + 0.6 + 1.3, 2.2, MAX_HEIGHT)
    fig = Figure(figsize=(w, h), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, height_ratios=[max(rows * cell + bottom, 0.8), 1.0])
    mask = np.zeros_like(m, dtype=bool)
    mask[:, n_src:] = np.triu(np.ones((rows, cols - n_src), bool), 1)  # later pieces: never seen
    im = _heatmap(ax, m, mask, data["x_labels"], data["y_labels"], pt, data["vmin"], data["vmax"], cell)
    ax.axvline(n_src - 0.5, color=HIGHLIGHT, linewidth=1.0)
    ax.set_xlabel(data["x_axis"])
    ax.set_ylabel(data["y_axis"])
    ax.set_title(data["title"])
    _colorbar(fig, im, ax, "contribution", ax_width=cols * cell)
    share = np.asarray(data["source_share"])
    steps = np.arange(1, len(share) + 1)
    ax2.plot(steps, share, marker="o", markersize=3, color=HIGHLIGHT, label="source")
    ax2.plot(steps, 1 - share, marker="o", markersize=3, color="0.45", label="target prefix")
    ax2.set_ylim(0, 1)
    ax2.set_xlim(0.5, len(share) + 0.5)
    ax2.set_xlabel("step")
    ax2.set_ylabel("share")
    ax2.legend(loc="lower left", fontsize=BASE_PT - 2, frameon=False, ncols=2)
    return fig


DRAW = {"head": draw_head, "grid": draw_grid, "cross": draw_cross, "beam": draw_beam,
        "probs": draw_probs, "trace": draw_trace, "curves": draw_curves,
        "contributions": draw_contributions}

