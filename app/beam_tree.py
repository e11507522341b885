"""The search tree: every hypothesis as a node (piece, length-penalised score).

x is the decoding step, y a tidy leaf order. Pruned branches are faded, finished
hypotheses are squares, the best path is drawn thick and the selected path in the accent
colour. Clicking a node selects that hypothesis at that step in every view.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app import theme
from app.labels_item import LabelsItem
from app.lazy import LazyView, fixed_label
from app.state import AppState

MAX_LABELS = 160  # beyond this only nodes on surviving paths get a text label


def tree_layout(parents: np.ndarray, rank: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(depth, y) for nodes given parent ids (root = -1, parents before children).

    Children are visited in ``rank`` order (lowest first, default: id); leaves get
    consecutive y in that depth-first order and an inner node takes its first child's y,
    so the first-ranked line of descent runs straight across and the rest hang below it.
    """
    n = len(parents)
    children: list[list[int]] = [[] for _ in range(n)]
    for i in range(1, n):
        children[int(parents[i])].append(i)
    if rank is not None:
        for kids in children:
            kids.sort(key=lambda c: rank[c])
    depth = np.zeros(n)
    y = np.zeros(n)
    next_leaf = 0.0
    stack: list[tuple[int, bool]] = [(0, False)] if n else []
    while stack:
        node, done = stack.pop()
        if done:
            y[node] = y[children[node][0]]
            continue
        if not children[node]:
            y[node] = next_leaf
            next_leaf += 1
            continue
        stack.append((node, True))
        for c in reversed(children[node]):
            depth[c] = depth[node] + 1
            stack.append((c, False))
    return depth, y


class BeamTree(LazyView, QWidget):
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
        self.edges = pg.PlotDataItem(connect="pairs")  # every edge, thin
        self.faded = pg.PlotDataItem(connect="pairs")  # pruned edges
        self.best = pg.PlotDataItem()  # best hypothesis
        self.selected = pg.PlotDataItem()  # selected hypothesis
        # One scatter per node style: uniform styles make setData cheap per keystroke.
        self.scatters = {kind: pg.ScatterPlotItem(pxMode=True, hoverable=True, tip=self._tip)
                         for kind in ("pruned", "alive", "finished", "forced")}
        self.labels = LabelsItem(anchor=(0.0, 1.0), offset=(4.0, -1.0))
        for item in (self.faded, self.edges, self.best, self.selected, *self.scatters.values(),
                     self.labels):
            self.plot.addItem(item)
        for sc in self.scatters.values():
            sc.sigClicked.connect(self._on_points_clicked)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.caption)
        lay.addWidget(self.plot_widget, 1)
        state.inspection_changed.connect(self._on_inspection_changed)
        state.selection_changed.connect(self._on_selection_changed)
        self._pos = np.zeros((0, 2))
        self._ins = None
        self._ranges: tuple | None = None

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
        if not nodes:  # empty decode: clear everything
            for item in (self.edges, self.faded, self.best, self.selected, *self.scatters.values()):
                item.setData([], [])
            self.labels.set_labels(np.zeros((0, 2)), [], t.text)
            self._pos = np.zeros((0, 2))
            self.caption.setText("nothing decoded")
            return
        self.node_pieces = ins.node_pieces
        parents = np.array([n.parent for n in nodes])
        # Surviving branches first (best score first), so they run straight across.
        rank = np.array([(n.status == "pruned") * 1e6 - n.score for n in nodes])
        depth, y = tree_layout(parents, rank)
        self._pos = np.column_stack([depth, y])
        status = [n.status for n in nodes]
        live = [i for i in range(1, len(nodes)) if status[i] != "pruned"]
        dead = [i for i in range(1, len(nodes)) if status[i] == "pruned"]
        self.edges.setData(*self._pairs(live), pen=pg.mkPen(t.text, width=1.2))
        self.faded.setData(*self._pairs(dead), pen=pg.mkPen(t.muted, width=1,
                                                              style=Qt.PenStyle.DotLine))
        muted = pg.mkColor(t.muted)
        muted.setAlpha(110)
        styles = {"pruned": dict(symbol="o", size=6, brush=muted, pen=None),
                  "alive": dict(symbol="o", size=8, brush=t.text, pen=None),
                  "finished": dict(symbol="s", size=11, brush=t.finished, pen=None),
                  "forced": dict(symbol="o", size=14, brush=None, pen=pg.mkPen(t.forced, width=2))}
        groups = {k: [i for i, s in enumerate(status) if s == k] for k in ("pruned", "finished")}
        groups["alive"] = [i for i, s in enumerate(status) if s not in ("pruned", "finished")]
        groups["forced"] = [i for i, n in enumerate(nodes) if n.forced]
        for kind, ids in groups.items():
            st = styles[kind]
            self.scatters[kind].setData(
                pos=self._pos[ids] if ids else np.zeros((0, 2)), data=np.array(ids, dtype=int),
                symbol=st["symbol"], size=st["size"],
                brush=pg.mkBrush(st["brush"]) if st["brush"] is not None else pg.mkBrush(None),
                pen=st["pen"] if st["pen"] is not None else pg.mkPen(None))
        self.best.setData(*self._chain_xy(ins.best.node_id), pen=pg.mkPen(t.finished, width=4))
        self._draw_labels(ins, status)
        n_steps = int(depth.max()) if len(depth) else 0
        y_max = float(y.max()) if len(y) else 1.0
        px = max(self.plot.vb.height(), 50.0)
        top = (y_max + 1.5) * 22.0 / px  # ~22 px above the top row, for its labels
        ranges = ((-0.3, n_steps + 1.3), (round(-0.5 - top, 3), y_max + 0.8))
        if ranges != self._ranges:  # unchanged ranges: the axes keep their cached pictures
            self._ranges = ranges
            self.plot.setRange(xRange=ranges[0], yRange=ranges[1], padding=0)
        cfg = ins.config
        hyp = ins.hypotheses[0] if ins.hypotheses else None
        best = ""
        if hyp is not None and hyp.score:
            n = len(hyp.tokens)
            best = (f" · best {hyp.score:.2f} = {hyp.cum_logprob:.2f} / "
                    f"((5+{n})/6)<sup>{cfg.length_penalty:g}</sup>")
        beam = f" ×{cfg.beam_size}" if cfg.strategy == "beam" else ""
        self.caption.setToolTip(f"<b>{cfg.strategy}{beam}</b>{best}")
        self.caption.setText(
            f"<b>{cfg.strategy}{beam}</b> · {len(nodes)} nodes · score = Σ log p / "
            f"((5+n)/6)<sup>α</sup>, α = {cfg.length_penalty:g}"
            f"<br><span style='color:{t.finished}'>■ finished</span>&nbsp; "
            f"<span style='color:{t.muted}'>● pruned</span>&nbsp; "
            f"<span style='color:{t.finished}'>━ best</span>&nbsp; "
            f"<span style='color:{t.accent}'>━ selected</span>&nbsp; "
            f"<span style='color:{t.forced}'>◯ forced</span>")
        self._draw_selection()

    def _pairs(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        if not ids:
            return np.zeros(0), np.zeros(0)
        child = self._pos[ids]
        parent = self._pos[[self._ins.nodes[i].parent for i in ids]]
        xy = np.empty((2 * len(ids), 2))
        xy[0::2], xy[1::2] = parent, child
        return xy[:, 0], xy[:, 1]

    def _chain(self, node_id: int) -> list[int]:
        """Node ids root .. ``node_id``."""
        chain, nid = [], node_id
        while 0 <= nid < len(self._ins.nodes):
            chain.append(nid)
            nid = self._ins.nodes[nid].parent
        return chain[::-1]

    def _chain_xy(self, node_id: int) -> tuple[np.ndarray, np.ndarray]:
        xy = self._pos[self._chain(node_id)]
        return xy[:, 0], xy[:, 1]

    def _draw_labels(self, ins, status: list[str]) -> None:
        """Piece and score beside every node; when rows get too tight for text (or the tree
        is huge) pruned nodes keep only their point, and their tooltip."""
        t = theme.current()
        n_leaves = float(self._pos[:, 1].max()) + 1 if len(self._pos) else 1
        row_px = self.plot.vb.height() / n_leaves if self.plot.vb.height() > 0 else 20
        crowded = len(ins.nodes) > MAX_LABELS or row_px < 15
        show = [i for i in range(len(ins.nodes)) if not crowded or status[i] != "pruned"]
        n_steps = float(self._pos[:, 0].max()) + 1 if len(self._pos) else 1
        col_px = self.plot.vb.width() / n_steps
        if col_px < 56:  # columns too narrow: label the key paths only, every k-th step
            every = int(np.ceil(60 / max(col_px, 1.0)))
            keep = set(self._chain(ins.best.node_id)) | set(self._chain(self.state.node_id))
            show = [i for i in show if status[i] == "finished"
                    or (i in keep and int(self._pos[i, 0]) % every == 0)]
        texts = [ins.node_pieces[i] if i == 0 else
                 f"{ins.node_pieces[i]} {ins.nodes[i].score:.2f}" for i in show]
        colours = [t.muted if status[i] == "pruned" else t.text for i in show]
        self.labels.set_labels(self._pos[show], texts, colours)

    def _draw_selection(self) -> None:
        if self._ins is None or not self._ins.nodes:
            return
        node = self.state.node_at_step()
        self.selected.setData(*self._chain_xy(node),
                              pen=pg.mkPen(theme.current().accent, width=2.5))

    def _tip(self, x: float, y: float, data: int) -> str:
        ins = self._ins
        if ins is None:
            return ""
        n = ins.nodes[int(data)]
        lp = n.cum_logprob / n.score if n.score else 1.0
        return (f"{ins.node_pieces[n.id]}  ({n.status}{', forced' if n.forced else ''})\n"
                f"step {n.step}   log p = {n.logprob:.3f}\n"
                f"Σ log p = {n.cum_logprob:.3f}   lp(n) = {lp:.3f}\nscore = {n.score:.3f}")

    def _on_points_clicked(self, _item, points, _ev=None) -> None:
        if len(points):
            self.click_node(int(points[0].data()))

    def drawn_nodes(self) -> list[int]:
        """Ids of every node drawn as a point (each exactly once), for tests."""
        ids = []
        for kind in ("pruned", "alive", "finished"):
            ids += [int(d) for d in self.scatters[kind].data["data"]]
        return sorted(ids)

    def click_node(self, node_id: int) -> None:
        self.state.select_node(node_id)

    def apply_theme(self) -> None:
        theme.style_widget(self.plot_widget)
        self._dirty = True
        self.schedule()


if __name__ == "__main__":
    import sys

    from app.demo import run_panel

    sys.exit(run_panel(BeamTree, (620, 480)))
