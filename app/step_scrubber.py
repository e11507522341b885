"""Walk through generation step by step (the reference analysis's layer-3 trace).

For the selected step: what the decoder was fed, its cross-attention over the source
(head-mean of a chosen layer) and the top-5 candidates with their probabilities.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from attnscope.app import theme
from attnscope.app.heatmap import TokenAxis
from attnscope.app.lazy import LazyView
from attnscope.app.state import AppState
from attnscope.app.view_range import set_range
from attnscope.app.widgets import fixed_label

TOP = 5


class StepScrubber(LazyView, QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setPageStep(1)
        # Icons from the Qt style, not glyphs: no shipped font has "⏸".
        style = self.style()
        pix = QStyle.StandardPixmap
        self.play_icon = style.standardIcon(pix.SP_MediaPlay)
        self.pause_icon = style.standardIcon(pix.SP_MediaPause)
        self.prev_btn = QPushButton(style.standardIcon(pix.SP_MediaSeekBackward), "")
        self.play_btn = QPushButton(self.play_icon, "Play")
        self.next_btn = QPushButton(style.standardIcon(pix.SP_MediaSeekForward), "")
        self.prev_btn.setToolTip("Previous step (Alt+Left)")
        self.next_btn.setToolTip("Next step (Alt+Right)")
        for b in (self.prev_btn, self.next_btn):
            b.setFixedWidth(36)
        self.play_btn.setFixedWidth(90)
        self.layer_box = QComboBox()
        self.layer_box.addItem("last layer", -1)
        self.header = fixed_label(1)
        self.plot_widget = pg.PlotWidget(axisItems={"bottom": TokenAxis("bottom", 10)})
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setTitle("cross-attention of this step (mean over heads)", size="9pt")
        self.plot.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")], []])  # fits a short plot
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.plot.addItem(self.bars)
        self.table = QTableWidget(TOP, 3)
        self.table.setHorizontalHeaderLabels(["piece", "p", "log p"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMaximumWidth(280)
        for r in range(TOP):
            for c in range(3):
                self.table.setItem(r, c, QTableWidgetItem(""))
        self.timer = QTimer(self)
        self.timer.setInterval(700)
        controls = QHBoxLayout()
        for w in (self.prev_btn, self.slider, self.next_btn, self.play_btn, QLabel("layer"),
                  self.layer_box):
            controls.addWidget(w, 1 if w is self.slider else 0)
        body = QHBoxLayout()
        body.addWidget(self.plot_widget, 1)
        body.addWidget(self.table)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(controls)
        lay.addWidget(self.header)
        lay.addLayout(body, 1)
        self.slider.valueChanged.connect(self._on_slider_changed)
        self.prev_btn.clicked.connect(lambda: self.state.set_step(self.state.step - 1))
        self.next_btn.clicked.connect(lambda: self.state.set_step(self.state.step + 1))
        self.play_btn.clicked.connect(self._on_play_clicked)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.layer_box.currentIndexChanged.connect(lambda _i: self.schedule())
        state.inspection_changed.connect(self._on_data_changed)
        state.selection_changed.connect(self._on_data_changed)
        state.display_temperature_changed.connect(self._on_data_changed)
        self.apply_theme()

    def _on_data_changed(self, *_args) -> None:
        self.schedule()

    def _on_slider_changed(self, value: int) -> None:
        self.state.set_step(value)

    def _on_play_clicked(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
            self.play_btn.setIcon(self.play_icon)
            self.play_btn.setText("Play")
        else:
            if self.state.step >= self.state.n_steps - 1:
                self.state.set_step(0)
            self.timer.start()
            self.play_btn.setIcon(self.pause_icon)
            self.play_btn.setText("Pause")

    def _on_timer_timeout(self) -> None:
        if self.state.step >= self.state.n_steps - 1:
            self._on_play_clicked()
        else:
            self.state.set_step(self.state.step + 1)

    def refresh(self) -> None:
        ins, path, step = self.state.inspection, self.state.path, self.state.step
        if ins is None or path is None or not len(path.target_pieces):
            self.bars.setOpts(x=[], height=[])
            self.plot.getAxis("bottom").set_labels([])  # no stale tokens of the last sentence
            self.header.setText("nothing decoded")
            for r in range(TOP):
                for c in range(3):
                    self._set_cell(r, c, "", theme.current().text)
            return
        t = theme.current()
        n_layers = path.cross_attention.shape[0]
        if self.layer_box.count() != n_layers + 1:
            with QSignalBlocker(self.layer_box):
                self.layer_box.clear()
                self.layer_box.addItem("last layer", n_layers - 1)
                for i in range(n_layers):
                    self.layer_box.addItem(f"layer {i + 1}", i)
        with QSignalBlocker(self.slider):
            self.slider.setRange(0, len(path.target_pieces) - 1)
            self.slider.setValue(step)
        layer = self.layer_box.currentData()
        layer = n_layers - 1 if layer is None or layer < 0 else layer
        weights = path.cross_attention[layer, :, step, :].mean(axis=0)  # (S,)
        n = len(weights)
        top_src = int(np.argmax(weights)) if n else -1
        brushes = [pg.mkBrush(t.accent if i == top_src else t.bar) for i in range(n)]
        self.bars.setOpts(x=np.arange(n), height=weights, brushes=brushes,
                          pens=[pg.mkPen(None)] * n)
        self.plot.getAxis("bottom").set_labels(ins.source_pieces)
        set_range(self.plot, x=(-0.6, n - 0.4), y=(0, 1.0))  # attention is a probability
        fed = " ".join(html.escape(p) for p in path.decoder_input_pieces[: step + 1])
        chosen = html.escape(path.target_pieces[step])
        self.header.setText(
            f"<b>Step {step + 1}/{len(path.target_pieces)}</b> · decoder input: {fed} → "
            f"<span style='color:{t.accent}'><b>{chosen}</b></span> · looks most at "
            f"<b>{html.escape(ins.source_pieces[top_src]) if n else '—'}</b>")
        # log p straight from the logits (z / T - log Z_T): log(p) of an underflowed p would
        # stop at a floor. Kept pieces only, most likely first (core.inference.logits).
        logits = path.step_logits[step]
        ids, logp = logits.log_probs(self.state.display_temperature, top=TOP)
        approx = "" if logits.exact_at(self.state.display_temperature) else "≈"  # as the bars mark it
        for r, (pid, lp) in enumerate(zip(ids.tolist(), logp.tolist(), strict=True)):
            colour = t.accent if pid == path.target_ids[step] else t.text
            p = float(np.exp(lp))  # as the bars print it: tiny values in scientific notation
            for c, text in enumerate((self.state.piece(pid), approx + (f"{p:.3f}" if p >= 5e-4 else f"{p:.0e}"),
                                      approx + f"{lp:.2f}")):
                self._set_cell(r, c, text, colour)

    def _set_cell(self, row: int, col: int, text: str, colour: str) -> None:
        """Only cells that change are touched: each change repaints the table."""
        item = self.table.item(row, col)
        if item is None:  # every cell is created with the table
            return
        if item.text() != text:
            item.setText(text)
        if item.data(Qt.ItemDataRole.UserRole) != colour:
            item.setData(Qt.ItemDataRole.UserRole, colour)
            item.setForeground(pg.mkColor(colour))

    def apply_theme(self) -> None:
        self.restyle(self.plot_widget)


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    sys.exit(run_panel(StepScrubber, (900, 300)))
