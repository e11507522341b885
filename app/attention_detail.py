"""One attention head (or aggregate) large: tokens on both axes, the value under the
cursor, a colour bar, and the bertviz-style line view as a second rendering."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from attnscope.app import attention_data as ad
from attnscope.app.heatmap import HeatmapPlot
from attnscope.app.lazy import LazyView
from attnscope.app.line_view import LineView
from attnscope.app.state import AppState
from attnscope.app.widgets import combo_box, scrolled

TITLE_MIN_PX = 260  # a heatmap shorter than this drops its title line


class AttentionDetail(LazyView, QWidget):
    detach_requested = Signal()  # the user wants the detail in its own window

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.kind_box, self.mode_box = combo_box(ad.KINDS), combo_box(ad.MODES)
        self.measure_box = combo_box(ad.MEASURES)
        self.layer_spin, self.head_spin = QSpinBox(), QSpinBox()
        self.layer_spin.setPrefix("layer ")
        self.head_spin.setPrefix("head ")
        self.value_label = QLabel(" ")
        # The value under the cursor takes what room is left and never widens the dock.
        self.value_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.window_btn = QPushButton("Open in a window")
        self.window_btn.setToolTip("Show the head detail in its own resizable window (Ctrl+D)")
        self.window_btn.clicked.connect(self.detach_requested)
        # What to show above the tabs, which head beside them: the bottom dock of a 1000 px
        # window holds both rows, and the plot keeps the height.
        bar = QHBoxLayout()
        for box in (self.kind_box, self.mode_box, self.measure_box):
            bar.addWidget(box)
        bar.addWidget(self.value_label, 1)
        corner = QWidget()
        bar2 = QHBoxLayout(corner)
        bar2.setContentsMargins(0, 0, 0, 2)
        for w in (self.layer_spin, self.head_spin, self.window_btn):
            bar2.addWidget(w)
        self.view = pg.GraphicsLayoutWidget()
        self.heatmap = HeatmapPlot(small=False)
        self.view.addItem(self.heatmap, row=0, col=0)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"),
                                        interactive=False, width=14)
        self.colorbar.setImageItem(self.heatmap.image)
        self.view.addItem(self.colorbar, row=0, col=1)
        self.lines = LineView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.view, "Heatmap")
        self.lines_area = scrolled(self.lines)  # a short dock scrolls: every token keeps its label
        self.tabs.addTab(self.lines_area, "Lines")
        self.tabs.setCornerWidget(corner)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.tabs, 1)
        self.heatmap.hovered.connect(self._on_heatmap_hovered)
        for box in (self.kind_box, self.mode_box):
            box.currentIndexChanged.connect(self._on_control_changed)
        for spin in (self.layer_spin, self.head_spin):
            spin.valueChanged.connect(self._on_control_changed)
        self.tabs.currentChanged.connect(lambda _i: self.schedule())
        state.attention_selected.connect(self._on_attention_selected)
        self.measure_box.currentIndexChanged.connect(self._on_measure_box_changed)
        state.measure_changed.connect(self._on_measure_changed)
        self._on_measure_changed(state.measure)
        state.inspection_changed.connect(self._on_data_changed)
        state.selection_changed.connect(self._on_data_changed)
        self._labels: tuple = ((), ())
        self._on_attention_selected(*state.attention)  # what was picked before this was built
        self.apply_theme()

    def set_colormap(self, name: str) -> None:
        cmap = pg.colormap.get(name)
        self.heatmap.set_colormap(cmap)
        self.colorbar.setColorMap(cmap)

    def _on_attention_selected(self, kind: str, mode: str, layer: int, head: int) -> None:
        widgets = (self.kind_box, self.mode_box, self.layer_spin, self.head_spin)
        blockers = [QSignalBlocker(w) for w in widgets]
        self.kind_box.setCurrentIndex(self.kind_box.findData(kind))
        self.mode_box.setCurrentIndex(self.mode_box.findData(mode if head < 0 else "heads"))
        self.layer_spin.setValue(layer + 1)
        self.head_spin.setValue(max(head, 0) + 1)
        del blockers
        self.schedule()

    def _on_measure_box_changed(self, _i: int) -> None:
        self.state.set_measure(self.measure_box.currentData())

    def _on_measure_changed(self, measure: str) -> None:
        with QSignalBlocker(self.measure_box):
            self.measure_box.setCurrentIndex(self.measure_box.findData(measure))
        self.schedule()

    def _on_control_changed(self, *_args) -> None:
        kind, mode = self.kind_box.currentData(), self.mode_box.currentData()
        head = self.head_spin.value() - 1 if mode == "heads" else -1
        self.state.attention = (kind, mode, self.layer_spin.value() - 1, head)
        self.schedule()

    def _on_data_changed(self, *_args) -> None:
        self.schedule()

    def matrix(self) -> np.ndarray:
        """The [Q, K] matrix currently shown (also what the tests compare)."""
        ins, path = self.state.inspection, self.state.path
        if ins is None or path is None:
            return np.zeros((0, 0), np.float32)
        kind, mode, layer, head = self.state.attention
        stack = ad.grid(ins, path, kind, mode if head < 0 else "heads", self.state.measure)
        if head >= 0:
            layer, head = min(max(layer, 0), stack.shape[0] - 1), min(head, stack.shape[1] - 1)
            return stack[layer, head]
        return stack[0, min(max(layer, 0), stack.shape[1] - 1)]

    def refresh(self) -> None:
        ins, path = self.state.inspection, self.state.path
        if ins is None or path is None:
            return
        kind, mode, layer, head = self.state.attention
        raw = ad.raw(ins, path, kind)
        self.measure_box.setEnabled(ad.has_norms(ins))
        if 0 in raw.shape[:2]:  # empty decode: nothing to show
            self.heatmap.image.clear()
            self.lines.set_data(np.zeros((0, 0), np.float32), (), ())
            return
        with QSignalBlocker(self.layer_spin), QSignalBlocker(self.head_spin):
            self.layer_spin.setRange(1, raw.shape[0])
            self.head_spin.setRange(1, raw.shape[1])
            self.head_spin.setEnabled(head >= 0)
        m = self.matrix()
        q, k = ad.labels(ins, path, kind)
        self._labels = (q, k)
        row = self.state.step if kind != "encoder" else None
        if self.tabs.currentWidget() is self.lines_area:
            self.lines.set_data(m, q, k, row)
            return
        m_show = m if m.size else np.zeros((1, 1), np.float32)
        levels = (0.0, max(float(m_show.max()), 1e-6))
        self.heatmap.set_matrix(m_show, levels)
        self.colorbar.setLevels(levels)
        self.heatmap.set_labels(q, k)
        self.heatmap.highlight_row(row)
        what = f"head {head + 1}" if head >= 0 else ad.MODES[mode].lower()
        norm = "norm-weighted " if self.state.measure == "norm" and ad.has_norms(ins) else ""
        # A short dock gives the title's line to the rows (the controls above say the same).
        title = f"{norm}{ad.KINDS[kind]} · layer {layer + 1} · {what}"
        self.heatmap.setTitle(title if self.view.height() >= TITLE_MIN_PX else None, size="10pt")
        self.view.setToolTip(title)

    def _on_heatmap_hovered(self, r: int, c: int, v: float) -> None:
        q, k = self._labels
        if r < 0 or r >= len(q) or c >= len(k):
            self.value_label.setText(" ")
            return
        self.value_label.setText(f"{q[r]} → {k[c]}:  {v:.4f}")

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        self.refit_on_resize()

    def apply_theme(self) -> None:
        self.lines.update()
        self.restyle(self.view)


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    def _make(state: AppState) -> AttentionDetail:
        w = AttentionDetail(state)
        state.select_attention("cross", "heads", 2, 1)
        if "--lines" in sys.argv:
            w.tabs.setCurrentIndex(1)
        return w

    sys.exit(run_panel(_make, (700, 500)))
