"""The search tree: every hypothesis as a node (piece, length-penalised score).

x is the decoding step, y a row (app.tree_rows: surviving rows a label apart, pruned
candidates compact, never on top of each other). Pruned branches are faded, finished
hypotheses are squares, the best path is drawn thick and the selected path in the accent
colour. Clicking a node selects that hypothesis at that step in every view. The drawing
itself is one item (app.tree_item), so a keystroke costs one update, not nine.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QVBoxLayout, QWidget

from attnscope.app import theme
from attnscope.app.lazy import LazyView
from attnscope.app.state import AppState
from attnscope.app.tree_item import TreeData, TreeItem, TreeStyle
from attnscope.app.tree_rows import BOTTOM_PX, TOP_PX, spaced_rows, tree_layout
from attnscope.app.view_range import set_range
from attnscope.app.widgets import fixed_label
from attnscope.core.inference.familiarity import detokenize
from attnscope.core.inference.inspection import Inspection

MAX_LABELS = 160  # beyond this only nodes on surviving paths get a text label


class BeamTree(LazyView, QWidget):
    follows_partial = True  # the tree grows step by step while the decode runs

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.node_count = 0
        self.caption = fixed_label(2)
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.invertY(True)
        self.plot.hideAxis("left")
        self.plot.setLabel("bottom", "step")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.item = TreeItem(tip=self._tip, on_click=self.click_node)
        self.plot.addItem(self.item, ignoreBounds=True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.caption)
        lay.addWidget(self.plot_widget, 1)
        state.inspection_changed.connect(self._on_inspection_changed)
        state.selection_changed.connect(self._on_selection_changed)
        self._pos = np.zeros((0, 2))
        self._ins: Inspection | None = None
        self._ranges: tuple | None = None
        self._groups: dict[int, list[int]] = {}

    def _on_inspection_changed(self, *_args) -> None:
        self.schedule()

    def _on_selection_changed(self) -> None:
        if self._ins is self.state.inspection and self.isVisible():
            self._draw_selection()  # cheap: only the highlighted path moves
        else:
            self.schedule()

    def refresh(self) -> None:
        ins = self.state.inspection
        if ins is None:
            return
        t = theme.current()
        self._ins = ins
        nodes = ins.nodes
        self.node_count = len(nodes)
        style = TreeStyle(edge=t.text, muted=t.muted, finished=t.finished, forced=t.forced,
                          accent=t.accent, text=t.text)
        if not nodes:  # empty decode: clear everything
            self._pos = np.zeros((0, 2))
            self._groups = {}
            self.item.set_tree(TreeData(), style)
            self.item.set_selected([])
            self.caption.setText("nothing decoded")
            return
        self.node_pieces = ins.node_pieces
        parents = np.array([n.parent for n in nodes])
        status = [n.status for n in nodes]
        # Surviving branches first (best score first), so they run straight across.
        rank = np.array([(s == "pruned") * 1e6 - n.score for n, s in zip(nodes, status, strict=True)])
        depth, order = tree_layout(parents, rank)
        pruned = np.array([s == "pruned" for s in status])
        y, groups, unit_px = spaced_rows(depth, order, parents, pruned, max(self.plot.vb.height(), 50.0))
        self._pos = np.column_stack([depth, y])
        self._groups = {i: g for g in groups for i in g}
        marks: dict[str, list[int]] = {"pruned": [], "alive": [], "finished": [], "forced": []}
        for i, s in enumerate(status):
            marks[s if s in ("pruned", "finished") else "alive"].append(i)
        marks["forced"] = [i for i, n in enumerate(nodes) if n.forced]
        data = TreeData(pos=self._pos, parents=parents,
                        live_edges=[i for i in range(1, len(nodes)) if status[i] != "pruned"],
                        dead_edges=[i for i in range(1, len(nodes)) if status[i] == "pruned"],
                        marks=marks, best=self._chain(ins.best.node_id), groups=groups)
        self._labels(ins, status, data, unit_px)
        self.item.set_tree(data, style)
        n_steps = int(depth.max()) if len(depth) else 0
        y_max = float(y.max()) if len(y) else 1.0
        # Room on the right for the last column's labels ("</s> -0.52"): solve
        # margin * px_per_step >= widest label, px_per_step = width / (steps + 0.3 + margin).
        fm = QFontMetricsF(self.item.font)
        last = [k for k, i in enumerate(data.label_ids) if depth[i] == n_steps]
        widest = max((fm.horizontalAdvance(data.label_texts[k]) for k in last), default=0.0) + 12
        width = max(self.plot.vb.width(), 100.0)
        left = n_steps + 0.3
        margin = left * widest / (width - widest) if width > 2 * widest else left
        margin = round(min(max(margin, 0.6), max(left, 0.6)), 1)
        ranges = ((-0.3, n_steps + margin), (round(-TOP_PX / unit_px, 3), round(y_max + BOTTOM_PX / unit_px, 3)))
        if ranges != self._ranges:  # unchanged ranges: the axes keep their cached pictures
            self._ranges = ranges
            set_range(self.plot, x=ranges[0], y=ranges[1])
            every = max(1, int(np.ceil((n_steps + 1) / 12)))  # whole steps only
            self.plot.getAxis("bottom").setTicks([[(k, str(k)) for k in range(0, n_steps + 1, every)], []])
        cfg = ins.config
        hyp = ins.hypotheses[0] if ins.hypotheses else None
        beam = f" ×{cfg.beam_size}" if cfg.strategy == "beam" else ""
        if cfg.strategy == "beam":  # only beam search ranks by the length-normalised score
            norm = "n" if cfg.length_penalty_kind == "hf" else "((5+n)/6)"  # transformers' or GNMT's
            rule = f"score = Σ log p / {norm}<sup>{cfg.length_penalty:g}</sup>"
            best = (f"<br>best: Σ log p = {hyp.cum_logprob:.2f}, score = {hyp.score:.2f}"
                    if hyp is not None else "")
        else:
            rule, best = "score = Σ log p", ""
        self.caption.setToolTip(f"<b>{cfg.strategy}{beam}</b> · {len(nodes)} nodes · {rule}{best}<br>"
                                "◎ several pruned candidates on one mark<br>"
                                "Hover a node for its hypothesis and both scores.")
        # Two short lines: a side column of 300 px keeps them unwrapped, and the tree the rest.
        self.caption.setText(
            f"<b>{cfg.strategy}{beam}</b> · {rule}"
            f"<br><small><span style='color:{t.finished}'>■ finished</span> "
            f"<span style='color:{t.muted}'>●/◎ pruned</span> "
            f"<span style='color:{t.finished}'>━ best</span> "
            f"<span style='color:{t.accent}'>━ selected</span> "
            f"<span style='color:{t.forced}'>◯ forced</span></small>")
        self._fit_caption()
        self._draw_selection()

    def _fit_caption(self) -> None:
        """As many caption lines as its text wraps to at this width (a narrow dock wraps
        the rule and the legend); the height changes only when the line count does."""
        width = self.width() - 4  # the layout's margins, 2 px a side
        need = self.caption.label.heightForWidth(max(width, 10))
        if need > 0 and need != self.caption.height():
            self.caption.setFixedHeight(need)

    def _chain(self, node_id: int) -> list[int]:
        """Node ids root .. ``node_id``."""
        chain, nid = [], node_id
        nodes = self._ins.nodes if self._ins is not None else ()
        while 0 <= nid < len(nodes):
            chain.append(nid)
            nid = nodes[nid].parent
        return chain[::-1]

    def _labels(self, ins, status: list[str], data: TreeData, unit_px: float) -> None:
        """A piece beside every node, and the named score beside finished ones. The best
        path always keeps its labels (the tree item moves one below its node when above is
        taken); with tight rows or a huge tree, pruned nodes keep only their tooltip."""
        t = theme.current()
        rows = np.sort(np.unique(self._pos[:, 1]))
        row_px = unit_px * float(np.diff(rows).min()) if len(rows) > 1 else unit_px
        crowded = len(ins.nodes) > MAX_LABELS or row_px < 15 or bool(data.groups)
        best = set(data.best)
        show = [i for i in range(len(ins.nodes)) if i in best or not crowded or status[i] != "pruned"]
        n_steps = float(self._pos[:, 0].max()) + 1 if len(self._pos) else 1
        col_px = self.plot.vb.width() / n_steps
        if col_px < 40:  # columns too narrow: the best path, the selected one, finished nodes
            keep = best | set(self._chain(self.state.node_id))
            show = [i for i in show if status[i] == "finished" or i in keep]
        # Best path, then the selected path, finished, surviving and pruned nodes: where two
        # labels would overlap the tree item keeps the earlier one.
        second = set(self._chain(self.state.node_id))
        order = {"finished": 2, "pruned": 4}
        show.sort(key=lambda i: (0 if i in best else 1 if i in second else order.get(status[i], 3), i))
        data.label_ids = show
        data.label_texts = [ins.node_pieces[i] if status[i] != "finished" else
                            f"{ins.node_pieces[i]}  score {ins.nodes[i].score:.2f}" for i in show]
        data.label_colors = [t.muted if status[i] == "pruned" else t.text for i in show]

    def _draw_selection(self) -> None:
        if self._ins is None or not self._ins.nodes:
            return
        self.item.set_selected(self._chain(self.state.node_at_step()))

    def _tip(self, node_id: int) -> str:
        ins = self._ins
        if ins is None or not 0 <= node_id < len(ins.nodes):
            return ""
        group = self._groups.get(node_id)
        if group:  # pruned siblings sharing one mark: every candidate, best first
            n = ins.nodes[group[0]]
            head = detokenize([ins.node_pieces[i] for i in self._chain(n.parent)[1:]]) or "∅"
            rows = [f"  {ins.node_pieces[i]}   log p = {ins.nodes[i].logprob:.3f}, "
                    f"Σ log p = {ins.nodes[i].cum_logprob:.3f}, score = {ins.nodes[i].score:.3f}"
                    for i in sorted(group, key=lambda i: -ins.nodes[i].score)]
            return f"{len(group)} candidates pruned after “{head}” (step {n.step}):\n" + "\n".join(rows)
        n = ins.nodes[node_id]
        lp = n.cum_logprob / n.score if n.score else 1.0
        pieces = [ins.node_pieces[i] for i in self._chain(node_id)[1:]]
        return (f"{detokenize(pieces) or '∅'}\n"
                f"{' '.join(pieces)}   ({n.status}{', forced' if n.forced else ''}, step {n.step})\n"
                f"log p of this piece = {n.logprob:.3f}\n"
                f"hypothesis log p (Σ log p) = {n.cum_logprob:.3f}\n"
                f"score = {n.score:.3f}   (length-normalised: Σ log p / lp(n), lp(n) = {lp:.3f})")

    def drawn_nodes(self) -> list[int]:
        """Ids of every node drawn as a mark (each exactly once), for tests."""
        return self.item.drawn_nodes()

    def click_node(self, node_id: int) -> None:
        self.state.select_node(node_id)

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        self._fit_caption()
        self.refit_on_resize()

    def apply_theme(self) -> None:
        self.restyle(self.plot_widget)


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    sys.exit(run_panel(BeamTree, (620, 480)))
