"""Set a plot's visible range so the next paint is the only one.

pyqtgraph defers the view transform of a range change to the start of the next paint;
updating it there moves items mid-paint, which queues a second full repaint of the view
(~3 ms a keystroke over the live views). Applying the transform at once avoids it.
"""

from __future__ import annotations

import pyqtgraph as pg


def set_range(plot: pg.PlotItem | pg.ViewBox, x: tuple[float, float] | None = None,
              y: tuple[float, float] | None = None) -> None:
    vb = plot.getViewBox() if isinstance(plot, pg.PlotItem) else plot
    vb.setRange(xRange=x, yRange=y, padding=0)
    vb.updateMatrix()
