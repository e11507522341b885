"""Alignment heads and head roles: the L x H alignment error rate of every cross-attention
head against the gold word alignment (best head outlined), and each head's measured role
— previous / next token, diagonal, sink, alignment, broad — with the number behind it.

Source: the bundle's ``heads.json`` (the validation probe set, written at export), or the
sentence on screen (gold alignment only when the grammar knows the sentence). A bundle
without a heads.json offers only the sentence.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from attnscope.app import attention_data as ad
from attnscope.app import theme
from attnscope.app.heatmap import HeatmapPlot
from attnscope.app.lazy import LazyView
from attnscope.app.state import AppState
from attnscope.app.widgets import combo_box, fit_to_layout, fixed_label
from attnscope.core.inference.headroles import classify_heads, positional_profile, roles_from_json

NO_HEADS = "This bundle has no heads.json: re-export it to measure its heads on the validation probe set."


def load_heads(bundle_path: str | Path | None) -> dict | None:
    f = Path(str(bundle_path)) / "heads.json" if bundle_path else None
    if f is None or not f.is_file():
        return None
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class HeadRolesView(LazyView, QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.heads: dict | None = None
        self.source_box = combo_box({"bundle": "validation probe set (heads.json)",
                                     "sentence": "this sentence"})
        self.wanted_source = "bundle"  # the user's last choice, used whenever the bundle allows it
        self.kind_box = combo_box(ad.KINDS)
        self.kind_box.setCurrentIndex(2)
        self.summary = fixed_label(1)
        bar = QHBoxLayout()
        for w in (QLabel("measured on"), self.source_box, QLabel("roles of"), self.kind_box):
            bar.addWidget(w)
        bar.addWidget(self.summary, 1)
        self.view = pg.GraphicsLayoutWidget()
        self.aer_plot = HeatmapPlot()
        self.aer_plot.setTitle("cross-attention AER (lower = aligned)", size="9pt")
        lut = pg.colormap.get("viridis").getLookupTable(nPts=64)[::-1]  # low AER = bright
        self.aer_plot.set_colormap(pg.ColorMap(np.linspace(0.0, 1.0, 64), lut))
        self.view.addItem(self.aer_plot)
        self.best_box = pg.QtWidgets.QGraphicsRectItem()
        self.best_box.setPen(pg.mkPen(theme.current().accent, width=3))
        self.aer_plot.addItem(self.best_box, ignoreBounds=True)
        self.cell_text: list[pg.TextItem] = []
        self.table = QTableWidget()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        body = QHBoxLayout()
        body.addWidget(self.view, 1)
        body.addWidget(self.table, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addLayout(body, 1)
        self.source_box.activated.connect(self._on_source_activated)  # a user's choice only
        self.source_box.currentIndexChanged.connect(lambda _i: self.schedule())
        self.kind_box.currentIndexChanged.connect(lambda _i: self.schedule())
        state.inspection_changed.connect(self._on_inspection_changed)
        theme.style_widget(self.view)

    def set_heads(self, heads: dict | None) -> None:
        """The bundle's head report (``heads.json``), or None when it has none: then the
        probe-set source is disabled (its tooltip says why) and the sentence is measured."""
        self.heads = heads
        model = self.source_box.model()
        assert isinstance(model, QStandardItemModel)
        item = model.item(self.source_box.findData("bundle"))
        item.setEnabled(heads is not None)
        for has_tip in (item, self.source_box):  # in the list, and on the closed box
            has_tip.setToolTip("" if heads is not None else NO_HEADS)
        source = self.wanted_source if heads is not None else "sentence"
        with QSignalBlocker(self.source_box):  # one redraw below, whatever changed
            self.source_box.setCurrentIndex(self.source_box.findData(source))
        self._dirty = True
        self.schedule()

    def _on_source_activated(self, _index: int) -> None:
        self.wanted_source = self.source_box.currentData()

    def _on_inspection_changed(self, _ins) -> None:
        if self.source_box.currentData() == "sentence":
            self.schedule()

    def _measure(self) -> tuple[np.ndarray | None, list[list], tuple[str, ...]]:
        """(AER [L, H] or None, roles [L][H] of the chosen kind, a one-line summary and
        shorter forms of it, longest first)."""
        kind = self.kind_box.currentData()
        if self.source_box.currentData() == "bundle":
            h = self.heads
            if not h:
                return None, [], ("this bundle has no heads.json (re-export it to measure its heads)",
                                  "no heads.json (re-export the bundle)", "no heads.json")
            aer = np.asarray(h["cross_aer"], np.float64) if h.get("cross_aer") is not None else None
            roles = roles_from_json(h["roles"][kind])
            if aer is None:
                return None, roles, ("no gold alignments in this corpus: no AER", "no gold alignments")
            aligned, total = h.get("aligned_sentences", 0), h.get("sentences", 0)
            return aer, roles, (f"{aligned} aligned of {total} validation sentences", f"{aligned}/{total} aligned")
        ins, path = self.state.inspection, self.state.path
        if ins is None or path is None or ins.is_empty:
            return None, [], ("nothing decoded",)
        from attnscope.core.inference.alignment import inspection_aer  # grammar tables: ~50 ms import

        gold = inspection_aer(ins, path)
        aer = np.asarray(gold["aer"]["per_head"]) if gold and gold["aer"] else None
        notes: tuple[str, ...]
        if aer is not None:
            notes = ("gold alignment of this sentence", "this sentence")
        elif gold:
            notes = (gold["note"], "no gold alignment")
        else:
            notes = ("the sentence is outside the generated grammar: no gold alignment",
                     "outside the grammar: no gold alignment", "no gold alignment")
        prof = positional_profile(ad.raw(ins, path, kind), kind)
        return aer, classify_heads(prof, kind, aer if kind == "cross" else None), notes

    def refresh(self) -> None:
        aer, roles, notes = self._measure()
        self._draw_aer(aer)
        forms = [html.escape(n, quote=False) for n in notes]
        if aer is not None:
            layer, head = np.unravel_index(int(np.argmin(aer)), aer.shape)
            best = f"★ best alignment head L{layer + 1} H{head + 1}: AER {aer[layer, head]:.2f}"
            forms = [f"{best} · {n}" for n in forms] + [
                best, f"★ best head L{layer + 1} H{head + 1}: AER {aer[layer, head]:.2f}",
                f"★ L{layer + 1} H{head + 1}: AER {aer[layer, head]:.2f}"]
        # One line whatever the dock's width: the first form that fits, the full one in the tooltip.
        self.summary.set_forms(*forms)
        self._fill_table(roles)
        fit_to_layout(self.view)

    def _draw_aer(self, aer: np.ndarray | None) -> None:
        if aer is None:
            self.aer_plot.image.clear()
            self.best_box.setVisible(False)
            for item in self.cell_text:
                item.setVisible(False)
            return
        n_layers, n_heads = aer.shape
        self.aer_plot.set_matrix(aer.astype(np.float32), (0.0, 1.0))
        self.aer_plot.set_labels(tuple(f"L{i + 1}" for i in range(n_layers)),
                                 tuple(f"H{h + 1}" for h in range(n_heads)))
        while len(self.cell_text) < aer.size:
            item = pg.TextItem(anchor=(0.5, 0.5))
            self.aer_plot.addItem(item)
            self.cell_text.append(item)
        best = int(np.argmin(aer))
        for k, item in enumerate(self.cell_text):
            item.setVisible(k < aer.size)
            if k < aer.size:
                r, c = divmod(k, n_heads)
                star = "★ " if k == best else ""
                item.setText(f"{star}{aer[r, c]:.2f}", color="#000" if aer[r, c] < 0.4 else "#fff")
                item.setPos(c, r)
        r, c = divmod(best, n_heads)
        self.best_box.setPen(pg.mkPen(theme.current().accent, width=3))
        self.best_box.setRect(c - 0.5, r - 0.5, 1.0, 1.0)
        self.best_box.setVisible(True)

    def _fill_table(self, roles: list[list]) -> None:
        n_layers = len(roles)
        n_heads = len(roles[0]) if roles else 0
        self.table.setRowCount(n_layers)
        self.table.setColumnCount(n_heads)
        self.table.setHorizontalHeaderLabels([f"H{h + 1}" for h in range(n_heads)])
        self.table.setVerticalHeaderLabels([f"L{i + 1}" for i in range(n_layers)])
        for i, row in enumerate(roles):
            for h, role in enumerate(row):
                item = QTableWidgetItem(role.text())
                item.setToolTip(f"L{i + 1} H{h + 1}: {role.role}, {role.measure} = {role.value:.3f}")
                self.table.setItem(i, h, item)

    def role_text(self, layer: int, head: int) -> str:
        item = self.table.item(layer, head)
        return item.text() if item is not None else ""

    def apply_theme(self) -> None:
        self.restyle(self.view)


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    def make(state: AppState) -> HeadRolesView:
        v = HeadRolesView(state)
        v.source_box.setCurrentIndex(1)
        return v

    sys.exit(run_panel(make, (1000, 360)))
