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

POSITIONS = {"sinusoidal": "sinusoidal (interleaved sin/cos)", "sinusoidal_half": "sinusoidal (sin half, cos half)",
             "sinusoidal_fairseq": "sinusoidal (fairseq half-split)", "learned": "learned table"}


Stage = tuple[str, str, str, list]  # (stage, shape, note, children)


def stages(cfg: ModelConfig, s: int, t: int) -> list[Stage]:
    """(stage, shape, note, children) for batch 1, S source and T target pieces, as the
    model's architecture spec builds them (norm position, heads and widths per stack, …)."""
    d, v = cfg.d_model, cfg.vocab_size
    act = {"relu": "ReLU", "gelu": "GELU", "swish": "SiLU"}[cfg.activation]
    pre = cfg.norm == "pre"

    def sublayer(name: str, shape: str, note: str, width: int) -> list[Stage]:
        norm: Stage = ("LayerNorm", f"[1, {width}, {d}]", "pre-norm: before the sub-layer", [])
        add: Stage = ("Add & norm", f"[1, {width}, {d}]", "post-norm residual", []) if not pre \
            else ("+ residual", f"[1, {width}, {d}]", "", [])
        return [norm, (name, shape, note, []), add] if pre else [(name, shape, note, []), add]

    def ffn(width: int, inner: int) -> list[Stage]:
        return sublayer("Feed-forward", f"[1, {width}, {inner}] → [1, {width}, {d}]", f"{act}, position-wise", width)

    def enc_layer(i: int) -> Stage:
        h = cfg.n_heads
        return (f"Encoder layer {i + 1}", f"[1, {s}, {d}]", "", [
            *sublayer("Multi-head self-attention", f"[1, {h}, {s}, {s}]", f"{h} heads × d_k={cfg.d_k}", s),
            *ffn(s, cfg.d_ff)])

    def dec_layer(i: int) -> Stage:
        h = cfg.decoder_n_heads
        return (f"Decoder layer {i + 1}", f"[1, {t}, {d}]", "", [
            *sublayer("Masked self-attention", f"[1, {h}, {t}, {t}]",
                      f"{h} heads × d_k={cfg.decoder_d_k}, future positions masked", t),
            *sublayer("Cross-attention", f"[1, {h}, {t}, {s}]", "queries: decoder, keys/values: encoder", t),
            *ffn(t, cfg.decoder_ffn)])

    scale = f"× √{d}" if cfg.scale_embedding else "unscaled"
    vocab = f"shared {v}-piece vocabulary" if cfg.shared_embeddings else f"{v}-piece vocabulary"
    positions: Stage = ("+ Positions", f"[1, {s}, {d}]", POSITIONS.get(cfg.positions, cfg.positions)
                 + (f", from row {cfg.position_offset}" if cfg.position_offset else ""), [])
    embed_norm: list[Stage] = [("LayerNorm (embeddings)", f"[1, {s}, {d}]", "", [])] if cfg.embed_norm else []
    final = cfg.has_final_norm
    output = "tied to the target embedding" if cfg.tied_output else "its own matrix"
    return [
        ("Source tokens", f"[1, {s}]", "piece ids, with the source framing (language code, EOS)", []),
        ("Token embeddings", f"[1, {s}, {d}]", f"{scale} ({vocab})", []),
        positions, *embed_norm,
        *[enc_layer(i) for i in range(cfg.n_encoder_layers)],
        *([("Final LayerNorm (encoder)", f"[1, {s}, {d}]", "", [])] if final else []),
        ("Encoder output (memory)", f"[1, {s}, {d}]", "keys/values of every cross-attention", []),
        ("Target tokens (shifted right)", f"[1, {t}]", "decoder start, y1 … y(T-1)", []),
        ("Embeddings + positions", f"[1, {t}, {d}]", "with a LayerNorm" if cfg.embed_norm else "", []),
        *[dec_layer(i) for i in range(cfg.n_decoder_layers)],
        *([("Final LayerNorm (decoder)", f"[1, {t}, {d}]", "", [])] if final else []),
        ("Output projection (logits)", f"[1, {t}, {v}]", f"{output}{' + logits bias' if cfg.logits_bias else ''}; "
         "softmax → next-piece distribution", []),
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
        n_dec, h_dec = ins.steps[0].cross_attention.shape[:2] if ins.steps else (n_enc, h)
        vocab = ins.steps[0].logits.vocab_size if ins.steps else 1
        return ModelConfig(vocab_size=vocab, n_heads=h, n_encoder_layers=n_enc, decoder_heads=h_dec,
                           n_decoder_layers=n_dec, d_model=h * h_dec * 8)

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
