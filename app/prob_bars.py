"""Next-piece probabilities at the selected step, under a display-temperature slider.

The slider re-scales the stored logits (``StepLogits.probs``); it never calls the engine.
Above 64k pieces an Inspection keeps each step's top logits and log Z (core.inference.logits):
the bars are then exact at T = 1 and marked "≈" at other temperatures. The top-k and top-p cut-offs are drawn as lines and the pieces beyond them
faded. Clicking a bar asks to force that piece at this step (``force_requested``).
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from attnscope.app import theme
from attnscope.app.heatmap import TokenAxis
from attnscope.app.labels_item import LabelsItem
from attnscope.app.lazy import LazyView
from attnscope.app.state import AppState
from attnscope.app.view_range import set_range
from attnscope.app.widgets import fixed_label

TOP_N = 20


def temperature_to_slider(t: float) -> int:
    return int(round(np.log10(max(t, 0.05)) * 100))  # log scale: 0.1 .. 10 -> -100 .. 100


def slider_to_temperature(v: int) -> float:
    return float(10 ** (v / 100))


class ProbBars(LazyView, QWidget):
    force_requested = Signal(int, int)  # step, piece id
    apply_requested = Signal(float)  # use the previewed temperature for decoding

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.top_ids = np.zeros(0, np.int64)
        self.probs = np.zeros(0)
        # The first pieces (one more than shown) sampling may draw at this step, likeliest first.
        self.kept = np.zeros(0, np.int64)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-100, 100)
        self.slider.setValue(temperature_to_slider(state.display_temperature))
        self.slider.setMinimumWidth(60)
        self.slider.setToolTip("Preview temperature: re-scales the stored logits of the bars "
                               "(no model call; the translation is unchanged until applied)")
        self.t_label = QLabel()
        self.t_label.setMinimumWidth(40)
        self.decode_t = 1.0  # the decoding temperature (the Decode row's T)
        self.decode_label = fixed_label(1)  # beside the button; a narrow dock shows a shorter form
        self.apply_btn = QPushButton("Apply to decoding")
        self.apply_btn.setToolTip("Decode with this temperature (it changes the translation when sampling)")
        self.apply_btn.clicked.connect(self._on_apply_clicked)
        self.caption = fixed_label(1)
        self.plot_widget = pg.PlotWidget(axisItems={"left": TokenAxis("left", 10)})
        self.plot = self.plot_widget.getPlotItem()
        self.plot.getAxis("left").setStyle(tickLength=0)  # a tick beside "2e-04" reads as a minus
        self.plot.invertY(True)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, alpha=0.15)
        self.plot.setXRange(0, 1.12, padding=0)  # room for the value labels
        self._n_rows = -1
        self.plot.setLabel("bottom", "probability")
        self.plot.getAxis("bottom").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")], []])
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.75, width=[])
        self.plot.addItem(self.bars)
        self.k_line = pg.InfiniteLine(angle=0, label="top-k", movable=False,
                                      labelOpts={"position": 0.92})
        self.p_line = pg.InfiniteLine(angle=0, label="top-p", movable=False,
                                      labelOpts={"position": 0.75})
        self.values = LabelsItem(anchor=(0.0, 0.5), offset=(4.0, 0.0))
        for item in (self.k_line, self.p_line, self.values):
            self.plot.addItem(item, ignoreBounds=True)
        self.plot.scene().sigMouseClicked.connect(self._on_scene_clicked)
        row = QHBoxLayout()
        row.addWidget(QLabel("Preview T"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.t_label)
        row2 = QHBoxLayout()
        row2.addWidget(self.decode_label, 1)
        row2.addWidget(self.apply_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.caption)
        lay.addWidget(self.plot_widget, 1)
        lay.addLayout(row)
        lay.addLayout(row2)
        self._show_temperatures()
        self.slider.valueChanged.connect(self._on_slider_changed)
        state.inspection_changed.connect(self._on_data_changed)
        state.selection_changed.connect(self._on_data_changed)
        state.display_temperature_changed.connect(self._on_temperature_changed)
        self.apply_theme()

    def _on_slider_changed(self, value: int) -> None:
        self.state.set_display_temperature(slider_to_temperature(value))

    def _on_apply_clicked(self) -> None:
        self.apply_requested.emit(round(self.state.display_temperature, 2))

    def set_decode_temperature(self, t: float) -> None:
        """The temperature decoding uses (shown beside the preview's)."""
        self.decode_t = float(t)
        self._show_temperatures()

    def _show_temperatures(self) -> None:
        shown = self.state.display_temperature
        self.t_label.setText(f"{shown:.2f}")
        # The bars' T is also the number beside the slider, so a narrow dock can leave it out.
        self.decode_label.set_forms(f"bars at T = {shown:.2f} · decoding T = {self.decode_t:.2f}",
                                    f"decoding T = {self.decode_t:.2f}")
        self.apply_btn.setEnabled(abs(round(shown, 2) - self.decode_t) > 1e-9)

    def _on_temperature_changed(self, t: float) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(temperature_to_slider(t))
        self._show_temperatures()
        self.schedule()

    def _on_data_changed(self, *_args) -> None:
        self.schedule()

    def refresh(self) -> None:
        ins, path, step = self.state.inspection, self.state.path, self.state.step
        temp = self.state.display_temperature
        self._show_temperatures()
        if ins is None or path is None or step >= len(path.step_logits):
            self.bars.setOpts(x0=[], y=[], width=[])
            self.values.set_labels(np.zeros((0, 2)), [], "#000")
            self.plot.getAxis("left").set_labels([])
            self.top_ids, self.probs = np.zeros(0, np.int64), np.zeros(0)
            self.kept = np.zeros(0, np.int64)
            self.k_line.setVisible(False)
            self.p_line.setVisible(False)
            self.caption.setText("nothing decoded")
            return
        t = theme.current()
        logits = path.step_logits[step]
        top_n = self.rows_that_fit()
        # The shown pieces only, most likely first: no view sorts a whole 58k row.
        self.top_ids, self.probs = logits.probs(temp, top=top_n)
        cfg = ins.config
        # The sampler's own kept set at this temperature (BOS is the tree's root piece), as
        # far as the bars need it: one piece more than they show tells where the cut lies.
        self.kept = logits.kept_set(temp, cfg.top_k, cfg.top_p, ins.nodes[0].token, limit=top_n + 1)
        sampling = cfg.strategy == "sample"  # cut-off lines only where the controls act
        kept = set(self.kept.tolist())
        v = logits.vocab_size
        n_k = min(cfg.top_k, v) if cfg.top_k > 0 else v
        chosen = int(path.target_ids[step])
        p_chosen = logits.prob(temp, chosen)
        # Above 64k pieces the partition at T != 1 sums a histogram of the pieces not kept.
        approx = "" if logits.exact_at(temp) else "≈"
        node = ins.nodes[self.state.node_at_step(step)]
        brushes = []
        for pid in self.top_ids.tolist():
            colour = t.bar
            if pid == chosen:
                colour = t.forced if node.forced else t.accent
            c = pg.mkColor(colour)
            if pid not in kept:
                c.setAlpha(70)
            brushes.append(pg.mkBrush(c))
        n = len(self.top_ids)
        self.bars.setOpts(x0=np.zeros(n), y=np.arange(n), width=self.probs, brushes=brushes,
                          pens=[pg.mkPen(None)] * n)
        pieces = [self.state.piece(pid) for pid in self.top_ids.tolist()]
        self.plot.getAxis("left").set_labels(pieces)
        self.values.set_labels(np.column_stack([self.probs, np.arange(n)]),
                               [approx + (f"{p:.3f}" if p >= 5e-4 else f"{p:.0e}") for p in self.probs], t.text)
        if self._n_rows != n:  # fixed ranges: the axes are not re-ticked per keystroke
            self._n_rows = n
            set_range(self.plot, y=(-0.6, n - 0.4))
        self.k_line.setVisible(sampling and 0 < cfg.top_k < n)
        self.k_line.setPos(cfg.top_k - 0.5)
        n_p = len(self.kept)  # the nucleus cut, where it is tighter than top-k
        self.p_line.setVisible(sampling and cfg.top_p < 1.0 and n_p < min(n_k, n))
        self.p_line.setPos(n_p - 0.5)
        fed = path.decoder_input_pieces[step] if step < len(path.decoder_input_pieces) else ""
        fed_b, chose_b = f"<b>{html.escape(fed)}</b>", f"<b>{html.escape(path.target_pieces[step])}</b>"
        p_text = f"(p {approx or '='} {p_chosen:.3f})"
        # One line whatever the dock's width (a second one would take a row of bars): a
        # narrow dock shows a shorter form, and the full caption is then the tooltip.
        self.caption.set_forms(f"Step {step + 1}: fed {fed_b}, chose {chose_b} {p_text}. Click a bar to force it.",
                               f"Step {step + 1}: fed {fed_b}, chose {chose_b} {p_text}.",
                               f"Step {step + 1}: {fed_b} → {chose_b} {p_text}")

    def rows_that_fit(self) -> int:
        """How many bars fit with a readable label each (between 1 and TOP_N)."""
        row = QFontMetricsF(self.plot.getAxis("left").font()).height() + 3
        height = self.plot.vb.height()
        return TOP_N if height <= 0 else int(max(1, min(TOP_N, height // row)))

    def _on_scene_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or not len(self.top_ids):
            return
        pos = self.plot.vb.mapSceneToView(ev.scenePos())
        i = int(round(pos.y()))
        if 0 <= i < len(self.top_ids) and pos.x() >= -0.02:
            self.click_bar(i)

    def click_bar(self, i: int) -> None:
        """Force the i-th shown piece at the selected step (the what-if)."""
        self.force_requested.emit(self.state.step, int(self.top_ids[i]))

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        self.refit_on_resize()

    def apply_theme(self) -> None:
        t = theme.current()
        for line in (self.k_line, self.p_line):
            line.setPen(pg.mkPen(t.cut, width=1.5, style=Qt.PenStyle.DashLine))
            line.label.setColor(t.cut)
            # on the plot's background, so a label over a bar of the same colour stays readable
            line.label.fill = pg.mkBrush(t.plot_bg)
            line.label.border = pg.mkPen(t.cut)
        self.restyle(self.plot_widget)


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    sys.exit(run_panel(ProbBars, (460, 420)))
