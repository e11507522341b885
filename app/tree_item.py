"""The whole beam-search tree as one pyqtgraph item: edges, node marks and labels.

Four scatter plots, four line plots and a label item cost ~5 ms to update and ~5 ms to
paint per keystroke; this item keeps plain arrays, paints them in screen pixels in one
pass (marks and labels keep their size whatever the zoom) and answers hover and click
itself by the nearest node within a few pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPen, QPolygonF

from attnscope.app.labels_item import ScreenSpaceItem
from attnscope.app.static_text import static_text

PICK_PX = 9.0  # a click or hover this close to a node (in pixels) is on it


@dataclass
class TreeStyle:
    edge: str = "#dddddd"
    muted: str = "#888888"
    finished: str = "#2ecc71"
    forced: str = "#e67e22"
    accent: str = "#f5a623"
    text: str = "#dddddd"


@dataclass
class TreeData:
    pos: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (N, 2) step, row
    parents: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    live_edges: list[int] = field(default_factory=list)  # child ids of surviving edges
    dead_edges: list[int] = field(default_factory=list)  # child ids of pruned edges
    marks: dict[str, list[int]] = field(default_factory=dict)  # pruned/alive/finished/forced
    best: list[int] = field(default_factory=list)  # node ids root .. best hypothesis
    label_ids: list[int] = field(default_factory=list)  # by priority: overlapping ones yield
    label_texts: list[str] = field(default_factory=list)
    label_colors: list[str] = field(default_factory=list)
    groups: list[list[int]] = field(default_factory=list)  # pruned siblings sharing one mark


class TreeItem(ScreenSpaceItem):
    def __init__(self, tip: Callable[[int], str] | None = None,
                 on_click: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.tip, self.on_click = tip, on_click
        self.data = TreeData()
        self.selected: list[int] = []
        self.style = TreeStyle()
        self.font = QFont()
        self.drawn_labels: list[int] = []  # node ids whose label the last paint drew
        # What the last paint drew, in the view widget's pixels: node id -> rectangle.
        self.mark_rects: dict[int, QRectF] = {}
        self.label_rects: dict[int, QRectF] = {}
        self._tip_shown = False

    # -- data ------------------------------------------------------------------
    def set_tree(self, data: TreeData, style: TreeStyle) -> None:
        self._set_points(data.pos)
        self.data, self.style = data, style
        self.update()

    def set_selected(self, chain: list[int]) -> None:
        if chain != self.selected:
            self.selected = list(chain)
            self.update()

    def drawn_nodes(self) -> list[int]:
        """Ids of every node drawn as a mark, alone or in its group's one mark (forced
        rings are drawn over another mark)."""
        m = self.data.marks
        return sorted(m.get("pruned", []) + m.get("alive", []) + m.get("finished", []))

    # -- geometry ----------------------------------------------------------------
    # -- painting ----------------------------------------------------------------
    def paint(self, p, *_args) -> None:
        d, st = self.data, self.style
        self.drawn_labels = []
        self.mark_rects, self.label_rects = {}, {}
        if not len(d.pos):
            return
        hidden = {i for g in d.groups for i in g[1:]}  # drawn by the group's first member
        tr = p.transform()
        p.resetTransform()
        xs, ys = self._screen(tr, d.pos)
        par = d.parents.tolist()
        p.setRenderHint(p.RenderHint.Antialiasing, True)
        p.setBrush(Qt.BrushStyle.NoBrush)

        def edges(ids: list[int], pen: QPen) -> None:
            if ids:
                p.setPen(pen)
                p.drawLines([QLineF(xs[par[c]], ys[par[c]], xs[c], ys[c]) for c in ids])

        def chain(ids: list[int], pen: QPen) -> None:
            if len(ids) > 1:
                p.setPen(pen)
                p.drawPolyline(QPolygonF([QPointF(xs[i], ys[i]) for i in ids]))

        edges([c for c in d.dead_edges if c not in hidden], QPen(QColor(st.muted), 1, Qt.PenStyle.DotLine))
        edges(d.live_edges, QPen(QColor(st.edge), 1.2))
        chain(d.best, QPen(QColor(st.finished), 4))
        chain(self.selected, QPen(QColor(st.accent), 2.5))
        p.setPen(Qt.PenStyle.NoPen)
        muted = QColor(st.muted)
        muted.setAlpha(110)
        for kind, brush, r in (("pruned", muted, 3.0), ("alive", QColor(st.text), 4.0)):
            p.setBrush(QBrush(brush))
            for i in d.marks.get(kind, []):
                if i not in hidden:
                    p.drawEllipse(QPointF(xs[i], ys[i]), r, r)
                    self.mark_rects[i] = QRectF(xs[i] - r, ys[i] - r, 2 * r, 2 * r)
        p.setBrush(QBrush(QColor(st.finished)))
        for i in d.marks.get("finished", []):
            self.mark_rects[i] = QRectF(xs[i] - 5.5, ys[i] - 5.5, 11, 11)
            p.drawRect(self.mark_rects[i])
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(muted, 1.2))
        for g in d.groups:  # a ring around a group's dot: several candidates in one mark
            p.drawEllipse(QPointF(xs[g[0]], ys[g[0]]), 4.0, 4.0)
            self.mark_rects[g[0]] = QRectF(xs[g[0]] - 4.0, ys[g[0]] - 4.0, 8, 8)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(QColor(st.forced), 2))
        for i in d.marks.get("forced", []):
            p.drawEllipse(QPointF(xs[i], ys[i]), 7, 7)
        # Labels: above-right of the node, clear of its mark (else below it, else a line
        # higher). Labels come
        # in priority order; one that would overlap a label already drawn or another node's
        # mark is left out (its node keeps the tooltip).
        font = self.font
        p.setFont(font)
        h = QFontMetricsF(font).height() - 2  # glyphs' empty top and bottom rows may touch
        key = font.key()
        pen_color = None
        drawn: list[tuple[float, float, float, float]] = []  # x0, x1, y0, y1
        marks = [(r.left(), r.right(), r.top(), r.bottom(), i) for i, r in self.mark_rects.items()]
        for i, text, color in zip(d.label_ids, d.label_texts, d.label_colors, strict=True):
            label = static_text(text, font, key)
            width = label.size().width()
            # Above the node, else below it; else the label is left to the node's tooltip.
            for x0, y0 in ((xs[i] + 6.0, ys[i] - 5.0 - h), (xs[i] + 6.0, ys[i] + 6.0),
                           (xs[i] + 6.0, ys[i] - 5.0 - 2 * h)):
                x1, y1 = x0 + width, y0 + h
                if not any(x0 < b[1] and b[0] < x1 and y0 < b[3] and b[2] < y1 for b in drawn) and \
                        not any(x0 < m[1] and m[0] < x1 and y0 < m[3] and m[2] < y1 and m[4] != i for m in marks):
                    break
            else:
                continue
            drawn.append((x0, x1, y0, y1))
            self.drawn_labels.append(i)
            self.label_rects[i] = QRectF(x0, y0, width, h)
            if color != pen_color:
                p.setPen(QColor(color))
                pen_color = color
            p.drawStaticText(QPointF(x0, y0), label)

    # -- interaction ---------------------------------------------------------------
    def node_at(self, pos: QPointF) -> int | None:
        """The node nearest ``pos`` (item coordinates) within PICK_PX pixels, else None."""
        if not len(self.data.pos):
            return None
        tr = self.deviceTransform_()
        if tr is None:
            return None
        xs, ys = (np.asarray(v) for v in self._screen(tr, self.data.pos))
        q = tr.map(pos)
        dist = np.hypot(xs - q.x(), ys - q.y())
        i = int(np.argmin(dist))
        return i if dist[i] <= PICK_PX else None

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph event
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        node = self.node_at(ev.pos())
        if node is None:
            ev.ignore()
            return
        ev.accept()
        if self.on_click is not None:
            self.on_click(node)

    def hoverEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph event
        vb = self.getViewBox()
        if vb is None or self.tip is None:
            return
        node = None if ev.isExit() else self.node_at(ev.pos())
        if node is not None:
            vb.setToolTip(self.tip(node))
            self._tip_shown = True
        elif self._tip_shown:
            vb.setToolTip("")
            self._tip_shown = False
