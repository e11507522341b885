"""Configuration as data: frozen dataclasses saved with runs, bundles and ONNX metadata."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Norm = Literal["post", "pre"]
Strategy = Literal["greedy", "beam", "sample"]
# Position tables: "sinusoidal" = the paper's interleaved sin/cos; "sinusoidal_half" = sin in the
# first half, cos in the second (Marian); "sinusoidal_fairseq" = half-split with fairseq's
# frequencies (M2M100, NLLB); "learned" = a trained table (BART, mBART).
Positions = Literal["sinusoidal", "sinusoidal_half", "sinusoidal_fairseq", "learned"]
Activation = Literal["relu", "gelu", "swish"]
LengthPenalty = Literal["gnmt", "hf"]


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the encoder–decoder Transformer (Vaswani et al. 2017, table 3)."""

    vocab_size: int = 1000  # shared source/target sentencepiece vocabulary
    d_model: int = 128  # width of every residual stream
    n_heads: int = 4  # attention heads per layer; d_k = d_model / n_heads
    n_encoder_layers: int = 3  # N in the paper, encoder side
    n_decoder_layers: int = 3  # N in the paper, decoder side
    d_ff: int = 512  # inner width of the position-wise feed-forward network
    dropout: float = 0.1  # P_drop on sub-layer outputs and embeddings (section 5.4)
    attn_dropout: float = 0.0  # dropout on attention probabilities (tensor2tensor's addition; slow on CPU)
    max_len: int = 128  # longest sequence (pieces incl. BOS/EOS) the positions cover
    norm: Norm = "post"  # "post" = the paper's LayerNorm(x + Sublayer(x)); "pre" = x + Sublayer(LN(x))
    pad_id: int = 0  # sentencepiece ids, fixed by the tokenizer trainer
    unk_id: int = 1
    bos_id: int = 2
    eos_id: int = 3
    # The architecture spec: the defaults are the paper's model; imported families set the rest.
    decoder_heads: int = 0  # heads per decoder layer (0 = n_heads)
    decoder_d_ff: int = 0  # decoder feed-forward width (0 = d_ff)
    final_norm: bool | None = None  # LayerNorm after each stack (None = exactly when norm is "pre")
    embed_norm: bool = False  # LayerNorm on embeddings + positions (BART's layernorm_embedding)
    scale_embedding: bool = True  # multiply embeddings by sqrt(d_model) (section 3.4)
    positions: Positions = "sinusoidal"  # position table layout, see Positions
    position_offset: int = 0  # table row of position 0 (BART/mBART 2, M2M100/NLLB pad_id + 1)
    activation: Activation = "relu"  # FFN non-linearity (Marian swish, BART gelu)
    logits_bias: bool = False  # a final bias on the logits (Marian/BART final_logits_bias)
    tied_output: bool = True  # the output projection is the target embedding (transposed)
    shared_embeddings: bool = True  # one embedding for source and target
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for h in (self.n_heads, self.decoder_n_heads):
            if self.d_model % h:
                raise ValueError(f"d_model {self.d_model} is not divisible by {h} heads")

    @property
    def d_k(self) -> int:
        return self.d_model // self.n_heads

    @property
    def decoder_n_heads(self) -> int:
        return self.decoder_heads or self.n_heads

    @property
    def decoder_d_k(self) -> int:
        return self.d_model // self.decoder_n_heads

    @property
    def decoder_ffn(self) -> int:
        return self.decoder_d_ff or self.d_ff

    @property
    def has_final_norm(self) -> bool:
        return self.norm == "pre" if self.final_norm is None else self.final_norm


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (section 5 of the paper), scaled to the machine."""

    optimizer: Literal["adam", "adamw"] = "adam"  # Adam as in the paper; AdamW decouples weight decay
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-9
    weight_decay: float = 0.0  # only used by AdamW
    lr_factor: float = 1.0  # Noam factor: lr = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)
    warmup: int = 4000  # Noam warm-up steps
    label_smoothing: float = 0.1  # epsilon_ls
    clip_norm: float = 1.0  # gradient clipping by global norm (0 = off)
    batch_tokens: int = 4096  # target tokens per batch (token-bucketed)
    max_steps: int = 100_000  # optimiser steps
    valid_every: int = 250  # steps between validations
    valid_sentences: int = 300  # sentences decoded at each validation
    log_every: int = 25  # steps between metrics.jsonl training lines
    checkpoint_every: int = 250  # steps between checkpoints
    seed: int = 0
    pairs: int = 60_000  # generated-corpus size when no --data is given
    vocab_size: int = 1000  # sentencepiece vocabulary to train
    snapshot_fractions: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)  # log-spaced snapshots


@dataclass(frozen=True)
class DecodeConfig:
    """How the engine decodes one sentence; temperature, top-k and top-p apply to sampling."""

    strategy: Strategy = "beam"  # "greedy" | "beam" | "sample"
    beam_size: int = 4  # hypotheses kept per step (beam only)
    length_penalty: float = 0.6  # GNMT alpha; 0 = raw log-probability
    n_best: int = 1  # finished hypotheses returned, best first
    temperature: float = 1.0  # sampling temperature (bars re-scale without re-running)
    top_k: int = 0  # sample only among the k most likely pieces (0 = off)
    top_p: float = 1.0  # nucleus sampling mass (1.0 = off)
    seed: int = 0  # sampling seed, so a sample is reproducible
    max_len: int = 64  # most generated pieces, EOS included
    forced_prefix: tuple[int, ...] = field(default=())  # piece ids forced at the first steps (what-if)
    # transformers' generate() semantics, for imported models (their bundle sets these defaults).
    length_penalty_kind: LengthPenalty = "gnmt"  # "gnmt" ((5+n)/6)^a, or "hf" n^a (score / length^a)
    early_stopping: str = ""  # "" = ours (stop at beam_size finished); "true" | "false" | "never" = transformers'
    min_length: int = 0  # EOS is masked until the decoder input (start token included) is this long
    no_repeat_ngram_size: int = 0  # no n-gram of the decoder input occurs twice (0 = off)
    forced_bos_id: int = -1  # the first generated piece, e.g. a target-language code (-1 = none)
    forced_eos_id: int = -1  # the piece forced at the last allowed step (-1 = none)

    def replace(self, **changes: Any) -> DecodeConfig:
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, tuple[ModelConfig, TrainConfig]] = {
    # Seconds on a CPU: for tests.
    "tiny": (
        ModelConfig(vocab_size=300, d_model=32, n_heads=2, n_encoder_layers=2,
                    n_decoder_layers=2, d_ff=64, dropout=0.0, max_len=64),
        TrainConfig(warmup=50, lr_factor=2.0, batch_tokens=1024, max_steps=200,
                    valid_every=100, valid_sentences=50, log_every=10,
                    checkpoint_every=100, pairs=4000, vocab_size=400, label_smoothing=0.1),
    ),
    # The model the app ships: trains to >= 99 % exact match on 2 CPU cores in minutes.
    "default": (
        # dropout 0: a generated grammar seen ~4 times does not overfit, and CPU dropout
        # (bernoulli) costs half of each step here (measured: 8.5k vs 4.0k target tokens/s).
        ModelConfig(vocab_size=1500, d_model=128, n_heads=4, n_encoder_layers=3,
                    n_decoder_layers=3, d_ff=512, dropout=0.0, max_len=128),
        TrainConfig(warmup=200, lr_factor=0.3, batch_tokens=4096, max_steps=1200,
                    valid_every=200, valid_sentences=300, log_every=25,
                    checkpoint_every=200, pairs=60_000, vocab_size=1500),
    ),
    # The paper's base model (table 3): ~65M parameters with a 37000-piece vocabulary.
    "base": (
        ModelConfig(vocab_size=37000, d_model=512, n_heads=8, n_encoder_layers=6,
                    n_decoder_layers=6, d_ff=2048, dropout=0.1, max_len=256),
        TrainConfig(warmup=4000, batch_tokens=25000, max_steps=100_000, vocab_size=37000),
    ),
}


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass."""
    d = dataclasses.asdict(cfg)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a config dataclass, ignoring unknown keys and restoring tuples."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in data.items():
        if k in names:
            kwargs[k] = tuple(v) if isinstance(v, list) else v
    return cls(**kwargs)
