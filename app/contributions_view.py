"""ALTI+ source and target contributions (Ferrando et al. 2022) of the selected hypothesis.

Left: for each predicted piece (rows), how much each source piece and each target-prefix
piece contributed (columns, source first, a line between). Right, on the same rows: the
source share per step; a step that leans on the target prefix alone is where
hallucinations show. Side by side, so both read well in a short bottom dock. The best
hypothesis's contributions come with the Inspection; another one's are asked of the
engine (one graph call) when it is selected, and kept until the next decode.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from attnscope.app import theme
from attnscope.app.heatmap import HeatmapPlot
from attnscope.app.lazy import LazyView
from attnscope.app.state import AppState
from attnscope.core.inference.contributions import Contributions
from attnscope.core.inference.inspection import Inspection, PathView


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
        self.view.addItem(self.colorbar, row=0, col=2)
        self.split = pg.InfiniteLine(angle=90, movable=False)
        self.heatmap.addItem(self.split, ignoreBounds=True)
        self.share_plot = pg.PlotItem()
        self.share_plot.setMouseEnabled(False, False)
        self.share_plot.hideButtons()
        self.share_plot.setMenuEnabled(False)
        self.share_plot.setXRange(-0.06, 1.06, padding=0)
        self.share_plot.setLabel("bottom", "source share")
        self.share_plot.getAxis("bottom").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])
        self.share_plot.hideAxis("left")
        self.share_plot.invertY(True)  # as the heatmap: step 1 on top
        self.share_plot.setYLink(self.heatmap)  # row t of the heatmap is step t here
        self.share_plot.setPreferredWidth(150)
        self.share_plot.setMaximumWidth(170)
        self.share_curve = self.share_plot.plot([], [], symbol="o", symbolSize=5)
        self.step_marker = pg.InfiniteLine(angle=0, movable=False)
        self.share_plot.addItem(self.step_marker, ignoreBounds=True)
        self.view.addItem(self.share_plot, row=0, col=1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.caption)
        lay.addWidget(self.view, 1)
        self.heatmap.hovered.connect(self._on_heatmap_hovered)
        state.inspection_changed.connect(self._on_data_changed)
        state.selection_changed.connect(self._on_data_changed)
        self._labels: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        self._cache: dict[int, Contributions | None] = {}  # node id -> ALTI+ of that hypothesis
        self._cache_for: Inspection | None = None
        self.apply_theme()

    def _on_data_changed(self, *_args) -> None:
        self.schedule()

    def matrix(self) -> np.ndarray:
        """[T, S+T] contributions as drawn (empty when there are none)."""
        return self.heatmap.data

    def _contributions(self, ins: Inspection, path: PathView) -> Contributions | None:
        if path.node_id == ins.best.node_id:
            return ins.contributions
        if self._cache_for is not ins:
            self._cache_for, self._cache = ins, {}
        fn = self.state.contributions_fn
        if path.node_id not in self._cache and fn is not None and ins.contributions is not None:
            self._cache[path.node_id] = fn(ins.source_ids, path.target_ids)
        return self._cache.get(path.node_id)

    def refresh(self) -> None:
        ins = self.state.inspection
        if ins is not None and not ins.complete:  # still decoding: keep the last picture
            return
        path = None if ins is None else (self.state.path or ins.best)
        c = None if ins is None or path is None or ins.is_empty else self._contributions(ins, path)
        if ins is None or path is None or c is None or ins.is_empty:
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
        rows = path.target_pieces
        cols = tuple(ins.source_pieces) + tuple(path.decoder_input_pieces)
        self._labels = (rows, cols)
        self.heatmap.set_labels(rows, cols)
        self.split.setValue(c.source_len - 0.5)
        share = c.source_share
        self.share_curve.setData(share, np.arange(len(share)))  # x = share, y = the heatmap's row
        step = min(self.state.step, len(share) - 1)
        self.heatmap.highlight_row(step)
        self.step_marker.setValue(step)
        which = "best hypothesis" if path.node_id == ins.best.node_id else "selected hypothesis"
        self.caption.setText(f"ALTI+ of the {which} · step {step + 1} «{rows[step]}»: source "
                             f"{share[step]:.0%}, target prefix {1 - share[step]:.0%}")

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
