"""The shape of every stage for the current input (the reference analysis's layer 1):
tokens → embeddings → positions → each encoder layer → each decoder layer → logits.

A tree whose rows are built once per model shape; a new input only rewrites the shape
texts in place. S = source pieces, T = target pieces, D = d_model.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from attnscope.app.lazy import LazyView
from attnscope.app.state import AppState
from attnscope.core.config import ModelConfig


def stages(cfg: ModelConfig, s: int, t: int) -> list[tuple[str, str, str, list]]:
    """(stage, shape, note, children) for batch 1, S source and T target pieces."""
    d, h, f, v = cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.vocab_size

    def enc_layer(i: int) -> tuple[str, str, str, list]:
        return (f"Encoder layer {i + 1}", f"[1, {s}, {d}]", "", [
            ("Multi-head self-attention", f"[1, {h}, {s}, {s}]", f"{h} heads × d_k={cfg.d_k}", []),
            ("Add & norm", f"[1, {s}, {d}]", f"{cfg.norm}-norm residual", []),
            ("Feed-forward", f"[1, {s}, {f}] → [1, {s}, {d}]", "ReLU, position-wise", []),
            ("Add & norm", f"[1, {s}, {d}]", "", [])])

    def dec_layer(i: int) -> tuple[str, str, str, list]:
        return (f"Decoder layer {i + 1}", f"[1, {t}, {d}]", "", [
            ("Masked self-attention", f"[1, {h}, {t}, {t}]", "future positions masked", []),
            ("Cross-attention", f"[1, {h}, {t}, {s}]", "queries: decoder, keys/values: encoder", []),
            ("Feed-forward", f"[1, {t}, {f}] → [1, {t}, {d}]", "", [])])

    return [
        ("Source tokens", f"[1, {s}]", "sentencepiece ids, EOS included", []),
        ("Token embeddings", f"[1, {s}, {d}]", f"× √{d} (shared {v}-piece vocabulary)", []),
        ("+ Positional encoding", f"[1, {s}, {d}]", "sinusoidal", []),
        *[enc_layer(i) for i in range(cfg.n_encoder_layers)],
        ("Encoder output (memory)", f"[1, {s}, {d}]", "keys/values of every cross-attention", []),
        ("Target tokens (shifted right)", f"[1, {t}]", "BOS, y1 … y(T-1)", []),
        ("Embeddings + positions", f"[1, {t}, {d}]", "", []),
        *[dec_layer(i) for i in range(cfg.n_decoder_layers)],
        ("Output projection (logits)", f"[1, {t}, {v}]", "softmax → next-piece distribution", []),
    ]


class DataFlow(LazyView, QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.model_config: ModelConfig | None = None
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["stage", "shape", "note"])
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setAlternatingRowColors(True)
        self._items: list[QTreeWidgetItem] = []
        self._layout_key: tuple | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.tree)
        state.inspection_changed.connect(self._on_data_changed)
        state.selection_changed.connect(self._on_data_changed)

    def set_model_config(self, cfg: ModelConfig | None) -> None:
        self.model_config = cfg
        self.schedule()

    def _on_data_changed(self, *_args) -> None:
        self.schedule()

    def _config(self) -> ModelConfig:
        if self.model_config is not None:
            return self.model_config
        ins = self.state.inspection  # derive what the Inspection itself shows
        if ins is None:
            return ModelConfig()
        n_enc, h = ins.encoder_attention.shape[:2]
        n_dec = ins.steps[0].cross_attention.shape[0] if ins.steps else n_enc
        vocab = ins.steps[0].logits.vocab_size if ins.steps else 1
        return ModelConfig(vocab_size=vocab, n_heads=h, n_encoder_layers=n_enc,
                           n_decoder_layers=n_dec, d_model=h * 32)

    def refresh(self) -> None:
        ins, path = self.state.inspection, self.state.path
        if ins is None or path is None:
            return
        rows = stages(self._config(), len(ins.source_pieces), len(path.target_pieces))
        key = tuple((r[0], len(r[3])) for r in rows)
        if key != self._layout_key:  # model shape changed: rebuild the rows once
            self._layout_key = key
            self.tree.clear()
            self._items = []
            for name, _shape, _note, children in rows:
                item = QTreeWidgetItem([name, "", ""])
                self.tree.addTopLevelItem(item)
                self._items.append(item)
                for child in children:
                    c = QTreeWidgetItem([child[0], "", ""])
                    item.addChild(c)
                    self._items.append(c)
            self.tree.expandToDepth(0)
        flat = [x for r in rows for x in (r, *r[3])]
        for item, (_name, shape, note, _children) in zip(self._items, flat, strict=True):
            item.setText(1, shape)
            item.setText(2, note)

    def shapes(self) -> list[tuple[str, str]]:
        """(stage, shape) of every row as shown (for tests)."""
        return [(i.text(0), i.text(1)) for i in self._items]


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    sys.exit(run_panel(DataFlow, (700, 500)))
