"""Many short text labels in one pyqtgraph item, painted in one pass.

pg.TextItem is one QGraphicsTextItem each, and updating hundreds of them per keystroke
costs tens of milliseconds; this item keeps (x, y, text, colour) arrays and draws them
with QPainter in screen space, so labels stay the same size whatever the zoom.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF
from PySide6.QtWidgets import QGraphicsItem


class LabelsItem(pg.GraphicsObject):
    def __init__(self, anchor: tuple[float, float] = (0.0, 0.5),
                 offset: tuple[float, float] = (6.0, 0.0), font: QFont | None = None) -> None:
        super().__init__()
        self.anchor, self.offset = anchor, offset
        self.font = font or QFont()
        self.xy = np.zeros((0, 2))
        self.texts: list[str] = []
        self.colors: list[str] = []
        self._bounds = QRectF()
        # Repaints of the view that do not touch the labels then blit a cached pixmap.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_labels(self, xy: np.ndarray, texts: list[str], colors: list[str] | str) -> None:
        self.prepareGeometryChange()
        self.xy = np.asarray(xy, float).reshape(-1, 2)
        self.texts = list(texts)
        self.colors = [colors] * len(self.texts) if isinstance(colors, str) else list(colors)
        if len(self.xy):
            lo, hi = self.xy.min(axis=0), self.xy.max(axis=0)
            self._bounds = QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])
        else:
            self._bounds = QRectF()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        # Text extends past the anchor points by some pixels: cover the visible view.
        vb = self.getViewBox()
        if vb is not None and not isinstance(vb, pg.GraphicsView):
            return vb.viewRect().united(self._bounds)
        return self._bounds

    def paint(self, p, *_args) -> None:
        if not self.texts:
            return
        tr = p.transform()
        p.resetTransform()
        p.setFont(self.font)
        fm = QFontMetricsF(self.font)
        h = fm.height()
        ax, ay = self.anchor
        ox, oy = self.offset
        pen_color = None
        for (x, y), text, color in zip(self.xy, self.texts, self.colors, strict=True):
            pt = tr.map(QPointF(x, y))
            w = fm.horizontalAdvance(text)
            if color != pen_color:
                p.setPen(QColor(color))
                pen_color = color
            rect = QRectF(pt.x() + ox - ax * w, pt.y() + oy - ay * h, w + 2, h)
            p.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
