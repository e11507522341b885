"""Many short text labels in one pyqtgraph item, painted in one pass.

pg.TextItem is one QGraphicsTextItem each, and updating hundreds of them per keystroke
costs tens of milliseconds; this item keeps (x, y, text, colour) arrays and draws them
as prepared static text in screen space, so labels stay the same size whatever the zoom.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QFont, QFontMetricsF
from PySide6.QtWidgets import QGraphicsItem

from attnscope.app.static_text import static_text


class ScreenSpaceItem(pg.GraphicsObject):
    """Base for items drawn in pixels around data points: they cover the visible view,
    since text and marks reach some pixels past the points themselves."""

    _bounds = QRectF()

    def _set_points(self, xy: np.ndarray) -> None:
        """Call before drawing new points (announces the geometry change)."""
        self.prepareGeometryChange()
        if len(xy):
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            self._bounds = QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])
        else:
            self._bounds = QRectF()

    @staticmethod
    def _screen(tr, xy: np.ndarray) -> tuple[list[float], list[float]]:
        """Screen x and y of view points under the painter's transform (views only scale
        and translate), all at once."""
        return (xy[:, 0] * tr.m11() + tr.m31()).tolist(), (xy[:, 1] * tr.m22() + tr.m32()).tolist()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        vb = self.getViewBox()
        if vb is not None and not isinstance(vb, pg.GraphicsView):
            return vb.viewRect().united(self._bounds)
        return self._bounds


class LabelsItem(ScreenSpaceItem):
    def __init__(self, anchor: tuple[float, float] = (0.0, 0.5),
                 offset: tuple[float, float] = (6.0, 0.0), font: QFont | None = None) -> None:
        super().__init__()
        self.anchor, self.offset = anchor, offset
        self.font = font or QFont()
        self.xy = np.zeros((0, 2))
        self.texts: list[str] = []
        self.colors: list[str] = []
        # Repaints of the view that do not touch the labels then blit a cached pixmap.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_labels(self, xy: np.ndarray, texts: list[str], colors: list[str] | str) -> None:
        self.xy = np.asarray(xy, float).reshape(-1, 2)
        self._set_points(self.xy)
        self.texts = list(texts)
        self.colors = [colors] * len(self.texts) if isinstance(colors, str) else list(colors)
        self.update()

    def paint(self, p, *_args) -> None:
        if not self.texts:
            return
        tr = p.transform()
        p.resetTransform()
        font = self.font
        p.setFont(font)
        h = QFontMetricsF(font).height()
        ax, ay = self.anchor
        ox, oy = self.offset
        xs, ys = self._screen(tr, self.xy)
        key = font.key()
        pen_color = None
        for x, y, text, color in zip(xs, ys, self.texts, self.colors, strict=True):
            st = static_text(text, font, key)
            if color != pen_color:
                p.setPen(QColor(color))
                pen_color = color
            p.drawStaticText(QPointF(x + ox - ax * st.size().width(), y + oy - ay * h), st)
