"""Attention evolving over training (the reference analysis's layer 2, made visible): the
sentence being typed, decoded by every snapshot of the bundle, side by side — the chosen
head's attention, the snapshot's translation and its own loss — with a scrubber.

Decoding runs off the GUI thread through an ``InferenceRunner`` (latest request wins),
and only while the view is on screen; each snapshot's engine loads on first use.
"""

from __future__ import annotations

import html
from typing import cast

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from attnscope.app import attention_data as ad
from attnscope.app import theme
from attnscope.app.heatmap import HeatmapPlot
from attnscope.app.inference_runner import InferenceRunner
from attnscope.app.lazy import LazyView
from attnscope.app.state import AppState
from attnscope.app.widgets import combo_box, fixed_label

CAPTION_CHARS = 26  # a panel's translation, at most


def elide(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def head_matrix(decode, kind: str, layer: int, head: int) -> np.ndarray | None:
    """[Q, K] attention of one snapshot's decode (head -1 = mean over heads)."""
    ins = decode.inspection
    if ins is None or ins.is_empty:
        return None
    a = ad.raw(ins, ins.best, kind)
    if a.ndim != 4 or layer >= a.shape[0] or 0 in a.shape:
        return None
    return (a[layer].mean(axis=0) if head < 0 else a[layer, head]).astype(np.float32)


class EvolutionView(LazyView, QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.snapshots = None  # a SnapshotSet (or anything with .infos, .bundle.model, .inspect)
        self.decodes: tuple = ()
        self._asked: tuple | None = None
        self.runner = InferenceRunner(None, self)
        self.runner.result.connect(self._on_result)
        self.runner.error.connect(self._on_error)
        self.kind_box, self.layer_box, self.head_box = combo_box(ad.KINDS), QComboBox(), QComboBox()
        self.kind_box.setCurrentIndex(2)  # cross-attention: where alignment emerges
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setPageStep(1)
        self.detail = fixed_label(2)
        bar = QHBoxLayout()
        for w in (self.kind_box, QLabel("layer"), self.layer_box, QLabel("head"), self.head_box,
                  QLabel("snapshot"), self.slider):
            bar.addWidget(w)
        bar.setStretchFactor(self.slider, 1)
        self.view = pg.GraphicsLayoutWidget()
        self.panels: list[HeatmapPlot] = []
        self.captions: list[pg.LabelItem] = []
        self.empty_label = QLabel("This bundle has no snapshots (export it with snapshots to see "
                                  "attention evolve over training).")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.detail)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.empty_label)
        for box in (self.kind_box, self.layer_box, self.head_box):
            box.currentIndexChanged.connect(self._on_choice_changed)
        self.slider.valueChanged.connect(self._on_slider_changed)
        state.inspection_changed.connect(self._on_inspection_changed)
        self.set_snapshots(None)
        theme.style_widget(self.view)

    # -- model -> view -----------------------------------------------------------------
    def set_snapshots(self, snapshots) -> None:
        """Show the snapshots of a new bundle (None or empty: an explanation instead)."""
        self.snapshots = snapshots if snapshots is not None and len(snapshots.infos) else None
        self.runner.set_engine(self.snapshots)
        self.decodes, self._asked = (), None
        n = len(self.snapshots.infos) if self.snapshots else 0
        self.view.clear()
        self.panels, self.captions = [], []
        self._panels_built = False  # built by refresh(), i.e. only once the tab is on screen
        self.view.setVisible(n > 0)
        self.empty_label.setVisible(n == 0)
        self.slider.setRange(0, max(n - 1, 0))
        self.slider.setValue(max(n - 1, 0))
        self._fill_heads()
        self._select_best_head()
        self.schedule()

    def _select_best_head(self) -> None:
        """Start on the final model's best alignment head, where there is one to watch emerge."""
        heads = getattr(self.snapshots.bundle, "heads", None) if self.snapshots else None
        try:
            best = (heads() or {}).get("best_head") if callable(heads) else None
        except ValueError:  # BundleError: a broken heads.json; the window says so elsewhere
            best = None
        if best and self.kind_box.currentData() == "cross":
            for box, value in ((self.layer_box, best[0]), (self.head_box, best[1])):
                box.blockSignals(True)
                box.setCurrentIndex(max(box.findData(value), 0))
                box.blockSignals(False)

    def _fill_heads(self) -> None:
        m = self.snapshots.bundle.model if self.snapshots else None
        n_layers = (m.n_encoder_layers if self.kind_box.currentData() == "encoder" else m.n_decoder_layers) if m else 0
        for box, items in ((self.layer_box, [(f"L{i + 1}", i) for i in range(n_layers)]),
                           (self.head_box, [("mean", -1)] + [(f"H{h + 1}", h) for h in range(m.n_heads if m else 0)])):
            keep = box.currentData()
            box.blockSignals(True)
            box.clear()
            for text, data in items:
                box.addItem(text, data)
            idx = box.findData(keep)
            box.setCurrentIndex(idx if idx >= 0 else (box.count() - 1 if box is self.layer_box else 0))
            box.blockSignals(False)

    def _build_panels(self) -> None:
        """One heatmap and caption per snapshot (~30 ms each, so not at start-up)."""
        if self._panels_built:
            return
        self._panels_built = True
        cmap = pg.colormap.get("viridis")
        for j in range(len(self.snapshots.infos) if self.snapshots else 0):
            p = HeatmapPlot(small=True)
            p.set_colormap(cmap)
            p.setMinimumWidth(60)
            self.view.addItem(p, row=0, col=j)
            cap = pg.LabelItem("", size="9pt")
            self.view.addItem(cap, row=1, col=j)
            self.view.ci.layout.setColumnStretchFactor(j, 1)  # equal panels, whatever they hold
            self.panels.append(p)
            self.captions.append(cap)

    def _on_inspection_changed(self, _ins) -> None:
        self.schedule()

    def refresh(self) -> None:
        self._build_panels()
        ins = self.state.inspection
        if self.snapshots is None or ins is None or not ins.complete:  # partials: wait for the end
            return
        key = (ins.text, ins.config.replace(forced_prefix=()))
        if key != self._asked:  # a what-if or a re-selection does not re-run every snapshot
            self._asked = key
            self.runner.request(*key)
        else:
            self._draw()

    def _on_result(self, _rid: int, decodes, _ms: float) -> None:
        self.decodes = tuple(decodes)
        self._draw()

    def _on_error(self, message: str) -> None:
        self.detail.setText(f"<span style='color:{theme.current().forced}'>{html.escape(message)}</span>")

    # -- user -> view --------------------------------------------------------------------
    def _on_choice_changed(self, _i: int) -> None:
        if self.sender() is self.kind_box:
            self._fill_heads()
        self._draw()

    def _on_slider_changed(self, _v: int) -> None:
        self._draw()

    def _draw(self) -> None:
        kind, layer, head = self.kind_box.currentData(), self.layer_box.currentData(), self.head_box.currentData()
        if layer is None or not self.decodes:
            return
        self._build_panels()
        t, sel = theme.current(), self.slider.value()
        for j, (p, cap, d) in enumerate(zip(self.panels, self.captions, self.decodes, strict=False)):
            m = head_matrix(d, kind, layer, head)
            if m is None:
                p.image.clear()
            else:
                p.set_matrix(m, (0.0, 1.0))
                q, k = ad.labels(d.inspection, d.inspection.best, kind)
                p.set_labels(q, k)
            loss = f"loss {d.loss:.2f}" if d.loss is not None else "loss —"
            color = t.accent if j == sel else t.text
            p.setTitle(f"<b>{html.escape(d.label)}</b><br>{loss}", color=color, size="9pt")
            p.highlight_row(None)
            text = d.inspection.translation if d.inspection is not None else d.error
            # elided: a label sizes its column to its text, and an early snapshot babbles
            cap.setText(html.escape(elide(text or "∅", CAPTION_CHARS)), color=color, size="9pt")
        self._describe(sel)

    def _describe(self, j: int) -> None:
        if not 0 <= j < len(self.decodes):
            return
        d = self.decodes[j]
        m, parts = d.info.meta, [f"<b>{html.escape(d.label)}</b>"]
        if d.loss is not None:
            parts.append(f"probe loss {d.loss:.3f}")
        if isinstance(m.get("train_loss"), (int, float)):
            parts.append(f"train loss {m['train_loss']:.3f} (step {m.get('train_loss_step')})")
        valid = m.get("valid") or {}
        if "bleu" in valid:
            parts.append(f"BLEU {valid['bleu']:.1f} · exact {100 * valid.get('exact_match', 0):.0f} % "
                         f"(valid, step {valid.get('step')})")
        if m.get("best_head"):
            layer, head = m["best_head"]
            parts.append(f"best AER {m['best_aer']:.2f} (L{layer + 1} H{head + 1})")
        if m.get("quantization"):
            parts.append("8-bit")
        text = d.inspection.translation if d.inspection is not None else d.error
        self.detail.setText(" · ".join(parts) + f"<br>→ {html.escape(text or '∅')}")

    def apply_theme(self) -> None:
        theme.style_widget(self.view)
        self._draw()

    def shutdown(self) -> None:
        self.runner.shutdown()


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel
    from attnscope.app.testing import FakeSnapshotSet

    def make(state: AppState) -> EvolutionView:
        v = EvolutionView(state)
        v.set_snapshots(FakeSnapshotSet())
        return v

    sys.exit(run_panel(make, (1300, 420), ready=lambda v: bool(cast(EvolutionView, v).decodes)))
