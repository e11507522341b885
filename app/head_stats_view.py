"""Head monitoring (the reference analysis's layer 4): per-head attention entropy, mean
attention distance, and head-to-head similarity ordered by clustering, as heatmaps."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from attnscope.app import attention_data as ad
from attnscope.app.heatmap import HeatmapPlot
from attnscope.app.lazy import LazyView
from attnscope.app.state import AppState
from attnscope.app.widgets import combo_box, fit_to_layout
from attnscope.core.inference.headstats import (
    attention_entropy,
    cluster_order,
    head_similarity,
    mean_attention_distance,
)

MAX_ANNOTATED = 48  # cells that carry their value as text (6 layers x 8 heads)


class HeadStatsView(LazyView, QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.kind_box = combo_box(ad.KINDS)
        self.hover_label = QLabel(" ")
        bar = QHBoxLayout()
        bar.addWidget(self.kind_box)
        bar.addStretch(1)
        bar.addWidget(self.hover_label)
        self.view = pg.GraphicsLayoutWidget()
        self.entropy, self.distance = HeatmapPlot(), HeatmapPlot()
        # Rows and columns are the same heads in the same order: named once, on the left
        # (a name centred under the first column would be cut at the plot's edge).
        self.similarity = HeatmapPlot(small=True)
        self.similarity.show_labels(left=True, bottom=False)
        for plot, title in ((self.entropy, "entropy (normalised)"), (self.distance, "mean attention distance"),
                            (self.similarity, "head similarity (clustered)")):
            plot.setTitle(title, size="9pt")  # short and small: the three fit a 1000 px window
        self.plots = {"entropy": self.entropy, "distance": self.distance,
                      "similarity": self.similarity}
        cmap = pg.colormap.get("viridis")
        for col, (name, p) in enumerate(self.plots.items()):
            p.set_colormap(cmap)
            self.view.addItem(p, row=0, col=col)
            p.hovered.connect(lambda r, c, v, n=name: self._on_hovered(n, r, c, v))
        self.view.ci.layout.setColumnStretchFactor(2, 2)
        self.texts: dict[str, list[pg.TextItem]] = {"entropy": [], "distance": []}
        self.values: dict[str, np.ndarray] = {}
        self.order = np.zeros(0, np.int64)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.view, 1)
        self.kind_box.currentIndexChanged.connect(lambda _i: self.schedule())
        state.inspection_changed.connect(self._on_data_changed)
        state.selection_changed.connect(self._on_data_changed)
        self.apply_theme()

    def _on_data_changed(self, *_args) -> None:
        self.schedule()

    def refresh(self) -> None:
        ins, path = self.state.inspection, self.state.path
        if ins is None or path is None:
            return
        kind = self.kind_box.currentData()
        a = ad.raw(ins, path, kind)
        if a.ndim != 4 or 0 in a.shape:  # empty decode
            for p in self.plots.values():
                p.image.clear()
            for items in self.texts.values():
                for item in items:
                    item.setVisible(False)
            self.values = {}
            return
        n_layers, n_heads = a.shape[:2]
        ent = attention_entropy(a, normalize=True)
        dist = mean_attention_distance(a, scale_queries=kind == "cross")
        sim = head_similarity(a)
        self.order = cluster_order(sim)
        sim_sorted = sim[np.ix_(self.order, self.order)]
        self.values = {"entropy": ent, "distance": dist, "similarity": sim_sorted}
        heads = tuple(f"H{h + 1}" for h in range(n_heads))
        layers = tuple(f"L{i + 1}" for i in range(n_layers))
        names = tuple(f"L{i // n_heads + 1}H{i % n_heads + 1}" for i in self.order.tolist())
        self.entropy.set_matrix(ent.astype(np.float32), (0.0, 1.0))
        self.distance.set_matrix(dist.astype(np.float32), (0.0, max(float(dist.max()), 1e-6)))
        self.similarity.set_matrix(sim_sorted.astype(np.float32), (0.0, 1.0))
        self.entropy.set_labels(layers, heads)
        self.distance.set_labels(layers, heads)
        self.similarity.set_labels(names, names)
        for name, m in (("entropy", ent), ("distance", dist)):
            self._annotate(name, m)
        fit_to_layout(self.view)

    def _annotate(self, name: str, m: np.ndarray) -> None:
        """Write each cell's value on it while they fit (up to the base model's 6 x 8);
        deeper models show a value on hover instead."""
        items, plot = self.texts[name], self.plots[name]
        if m.size > MAX_ANNOTATED:
            for item in items:
                item.setVisible(False)
            return
        while len(items) < m.size:
            item = pg.TextItem(anchor=(0.5, 0.5), color="w")
            plot.addItem(item)
            items.append(item)
        top = float(m.max()) or 1.0
        for k, item in enumerate(items):
            if k >= m.size:
                item.setVisible(False)
                continue
            r, c = divmod(k, m.shape[1])
            item.setText(f"{m[r, c]:.2f}", color="#000" if m[r, c] > 0.6 * top else "#fff")
            item.setPos(c, r)
            item.setVisible(True)

    def _on_hovered(self, name: str, r: int, c: int, v: float) -> None:
        if r < 0:
            self.hover_label.setText(" ")
        elif name == "similarity":
            n_heads = self.values["entropy"].shape[1]
            a, b = (int(self.order[i]) for i in (r, c))
            self.hover_label.setText(
                f"L{a // n_heads + 1}H{a % n_heads + 1} ~ L{b // n_heads + 1}H{b % n_heads + 1}"
                f": cosine {v:.3f}")
        else:
            self.hover_label.setText(f"{name} of L{r + 1} H{c + 1}: {v:.3f}")

    def apply_theme(self) -> None:
        self.restyle(self.view)


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    sys.exit(run_panel(HeadStatsView, (1000, 360)))
