"""Gradient flow (the reference analysis's layer 2): one bar per layer group — embedding,
each encoder and decoder layer, the final norms — of its gradient norm at a logged step,
with a slider over training and a layer x step map (log10) of the whole history."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from attnscope.app import theme
from attnscope.app.heatmap import HeatmapPlot, TokenAxis
from attnscope.app.view_range import set_range
from attnscope.app.widgets import fit_to_layout, scrolled
from attnscope.core.runlog import RunSeries

HALF_LABEL = 24  # pixels a centred tick label may reach past its axis's end


def short_name(name: str) -> str:
    """An axis label for a layer group: "encoder.1" -> "enc 1" (the bars sit ~40 px apart
    in a 1000 px window; the tooltip and the map keep the full names)."""
    part, _, idx = name.partition(".")
    head = {"embed": "emb", "encoder": "enc", "decoder": "dec", "enc_norm": "enc ln",
            "dec_norm": "dec ln"}.get(part, part[:6])
    return f"{head} {idx}" if idx else head


def layer_order(names) -> list[str]:
    """Data-flow order: embedding, encoder layers, decoder layers, then the rest."""
    def key(n: str) -> tuple[int, int, str]:
        part, _, idx = n.partition(".")
        rank = {"embed": 0, "encoder": 1, "enc_norm": 2, "decoder": 3, "dec_norm": 4}.get(part, 5)
        return rank, int(idx) if idx.isdigit() else 0, n
    return sorted(names, key=key)


class GradientFlow(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.label = QLabel("no gradient norms yet")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("step"))
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.label)
        self.view = pg.GraphicsLayoutWidget()
        self.bars_plot = self.view.addPlot(row=0, col=0, axisItems={"bottom": TokenAxis("bottom", 10)})
        self.bars_plot.setTitle("per layer, at the chosen step", size="9pt")
        self.bars_plot.setLabel("left", "log10 ‖g‖")
        self.bars_plot.setMouseEnabled(False, False)
        self.bars_plot.setMenuEnabled(False)
        self.bars_plot.hideButtons()
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=theme.current().bar)
        self.bars_plot.addItem(self.bars)
        self.history = HeatmapPlot()
        self.history.setTitle("log10 ‖g‖: layer × logged step", size="9pt")
        self.history.set_colormap(pg.colormap.get("viridis"))
        self.view.addItem(self.history, row=0, col=1)
        self.view.ci.layout.setColumnStretchFactor(1, 2)
        # A label centred on the first or last bar or step reaches past its plot's edge:
        # the axes may draw that far out, and the layout keeps the room free.
        for axis in (self.bars_plot.getAxis("bottom"), self.history.getAxis("bottom")):
            axis.setStyle(hideOverlappingLabels=HALF_LABEL)
        self.view.ci.setContentsMargins(HALF_LABEL, 4, HALF_LABEL, 4)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        self.view.setMinimumHeight(200)  # readable in a short dock: the tab scrolls instead
        lay.addWidget(scrolled(self.view), 1)
        self.layers: list[str] = []
        self.steps = np.zeros(0)
        self.norms = np.zeros((0, 0))  # (layers, logged steps)
        self.follow = True  # the slider tracks the newest step until the user moves it
        self.slider.valueChanged.connect(self._on_slider_changed)
        theme.style_widget(self.view)

    def set_series(self, s: RunSeries) -> None:
        self.layers = layer_order(s.layer_grad)
        if not self.layers:
            return
        steps = sorted({st for pts in s.layer_grad.values() for st, _ in pts})
        col = {st: i for i, st in enumerate(steps)}
        norms = np.full((len(self.layers), len(steps)), np.nan)
        for r, layer in enumerate(self.layers):
            for st, v in s.layer_grad[layer]:
                norms[r, col[st]] = v
        self.steps, self.norms = np.asarray(steps), norms
        logn = np.log10(np.maximum(np.nan_to_num(norms, nan=1e-12), 1e-12)).astype(np.float32)
        finite = logn[np.isfinite(norms)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self.history.set_matrix(logn, (lo, max(hi, lo + 1e-6)))
        self.history.set_labels(tuple(self.layers), tuple(str(int(x)) for x in steps))
        fit_to_layout(self.view)  # never narrower than its plots: they would be cut off
        with QSignalBlocker(self.slider):
            self.slider.setRange(0, len(steps) - 1)
            self.slider.setEnabled(True)
            if self.follow:
                self.slider.setValue(len(steps) - 1)
        self._draw(self.slider.value())

    def _on_slider_changed(self, value: int) -> None:
        self.follow = value >= len(self.steps) - 1
        self._draw(value)

    def _draw(self, i: int) -> None:
        if not len(self.steps):
            return
        i = max(0, min(i, len(self.steps) - 1))
        h = np.nan_to_num(self.norms[:, i], nan=0.0)
        logh = np.log10(np.maximum(h, 1e-8))
        base = float(min(logh.min(), -3.0))
        self.bars.setOpts(x=np.arange(len(h)), height=logh - base, y0=base, width=0.7,
                          brush=theme.current().bar)
        self.bars_plot.getAxis("bottom").set_labels([short_name(n) for n in self.layers])
        set_range(self.bars_plot, x=(-0.6, len(h) - 0.4), y=(base, float(logh.max()) + 0.2))
        self.label.setText(f"step {int(self.steps[i])}: total of layers {np.sqrt((h ** 2).sum()):.3g}")

    def apply_theme(self) -> None:
        theme.style_widget(self.view)


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import show_alone
    from attnscope.app.training_curves import fake_series

    def make() -> GradientFlow:
        w = GradientFlow()
        w.set_series(fake_series())
        return w

    sys.exit(show_alone(make, (1000, 380)))
