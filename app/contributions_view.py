"""ALTI+ source and target contributions (Ferrando et al. 2022) of the best hypothesis.

Top: for each predicted piece (rows), how much each source piece and each target-prefix
piece contributed (columns, source first, a line between). Bottom: the source share per
step; a step that leans on the target prefix alone is where hallucinations show.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from attnscope.app import theme
from attnscope.app.heatmap import HeatmapPlot
from attnscope.app.lazy import LazyView
from attnscope.app.state import AppState


class ContributionsView(LazyView, QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.caption = QLabel(" ")
        self.view = pg.GraphicsLayoutWidget()
        self.heatmap = HeatmapPlot(small=False)
        self.view.addItem(self.heatmap, row=0, col=0)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"),
                                        interactive=False, width=12)
        self.colorbar.setImageItem(self.heatmap.image)
        self.view.addItem(self.colorbar, row=0, col=1)
        self.split = pg.InfiniteLine(angle=90, movable=False)
        self.heatmap.addItem(self.split, ignoreBounds=True)
        self.share_plot = pg.PlotItem()
        self.share_plot.setMouseEnabled(False, False)
        self.share_plot.hideButtons()
        self.share_plot.setMenuEnabled(False)
        self.share_plot.setYRange(0.0, 1.0, padding=0.02)
        self.share_plot.setLabel("left", "source share")
        self.share_plot.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])
        self.share_plot.setLabel("bottom", "step")
        self.share_curve = self.share_plot.plot([], [], symbol="o", symbolSize=5)
        self.step_marker = pg.InfiniteLine(angle=90, movable=False)
        self.share_plot.addItem(self.step_marker, ignoreBounds=True)
        self.view.addItem(self.share_plot, row=1, col=0)
        self.view.ci.layout.setRowStretchFactor(0, 3)
        self.view.ci.layout.setRowStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.caption)
        lay.addWidget(self.view, 1)
        self.heatmap.hovered.connect(self._on_heatmap_hovered)
        state.inspection_changed.connect(self._on_data_changed)
        state.selection_changed.connect(self._on_data_changed)
        self._labels: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        self.apply_theme()

    def _on_data_changed(self, *_args) -> None:
        self.schedule()

    def matrix(self) -> np.ndarray:
        """[T, S+T] contributions as drawn (empty when there are none)."""
        return self.heatmap.data

    def refresh(self) -> None:
        ins = self.state.inspection
        c = None if ins is None else ins.contributions
        if ins is None or c is None or ins.is_empty:
            self.heatmap.set_matrix(np.zeros((0, 0), np.float32), (0.0, 1.0))
            self.heatmap.set_labels((), ())
            self.share_curve.setData([], [])
            self.caption.setText("No ALTI+ contributions: this bundle has no contributions.onnx "
                                 "(export it again to add one)." if ins is not None and not ins.is_empty
                                 else " ")
            return
        m = c.total
        top = max(float(m.max()), 1e-6)
        self.heatmap.set_matrix(m, (0.0, top))
        self.colorbar.setLevels((0.0, top))
        rows = ins.best.target_pieces
        cols = tuple(ins.source_pieces) + tuple(ins.best.decoder_input_pieces)
        self._labels = (rows, cols)
        self.heatmap.set_labels(rows, cols)
        self.split.setValue(c.source_len - 0.5)
        share = c.source_share
        steps = np.arange(1, len(share) + 1)
        self.share_curve.setData(steps, share)
        self.share_plot.setXRange(0.5, len(share) + 0.5, padding=0)
        every = max(1, len(share) // 12)
        self.share_plot.getAxis("bottom").setTicks([[(int(i), str(int(i))) for i in steps[::every]]])
        on_best = self.state.node_id == ins.best.node_id or self.state.path is None
        step = min(self.state.step, len(share) - 1)
        self.heatmap.highlight_row(step if on_best else None)
        self.step_marker.setValue(step + 1)
        self.step_marker.setVisible(on_best)
        note = "" if on_best else "   (best hypothesis; the selected one is another)"
        self.caption.setText(f"Step {step + 1} «{rows[step]}»: source {share[step]:.0%}, "
                             f"target prefix {1 - share[step]:.0%}{note}")

    def _on_heatmap_hovered(self, r: int, c: int, v: float) -> None:
        rows, cols = self._labels
        if 0 <= r < len(rows) and 0 <= c < len(cols):
            self.setToolTip(f"{rows[r]} ← {cols[c]}: {v:.3f}")

    def apply_theme(self) -> None:
        t = theme.current()
        self.split.setPen(pg.mkPen(t.accent, width=2))
        self.step_marker.setPen(pg.mkPen(t.muted, width=1, style=pg.QtCore.Qt.PenStyle.DashLine))
        self.share_curve.setPen(pg.mkPen(t.accent, width=2))
        self.share_curve.setSymbolBrush(t.accent)
        theme.style_plot(self.share_plot)
        self.restyle(self.view)


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    sys.exit(run_panel(ContributionsView, (900, 600)))
