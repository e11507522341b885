"""The Transformer of "Attention Is All You Need" (Vaswani et al. 2017), one readable file.

Every attention returns its probabilities as a value passed down the call, never
stashed on a module, so the ONNX graphs can output each matrix. The same layer code
serves training (whole sequences) and the exported one-step decoder (key/value cache).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnscope.core.config import ModelConfig

NEG_INF = -1e9  # additive mask value: finite so a fully masked row stays NaN-free


def sinusoid_table(max_len: int, d_model: int) -> Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...) (section 3.5)."""
    pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)  # (P, 1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe  # (P, D)


def position_table(kind: str, rows: int, d_model: int, pad_id: int = -1) -> Tensor:
    """The fixed (P, D) position table of a layout (see config.Positions); "learned" starts at zero."""
    if kind == "sinusoidal":
        return sinusoid_table(rows, d_model)
    if kind == "sinusoidal_half":  # Marian: the paper's sin columns first, then its cos columns
        pe = sinusoid_table(rows, d_model)
        return torch.cat([pe[:, 0::2], pe[:, 1::2]], dim=1)  # (P, D)
    if kind == "sinusoidal_fairseq":  # M2M100/NLLB: frequencies 10000^(-i/(D/2-1)), pad row zero
        half = d_model // 2
        freq = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000.0) / (half - 1)))
        ang = torch.arange(rows, dtype=torch.float32)[:, None] * freq[None, :]  # (P, D/2)
        pe = torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)
        if 0 <= pad_id < rows:
            pe[pad_id] = 0.0
        return pe
    if kind == "learned":
        return torch.zeros(rows, d_model)
    raise ValueError(f"unknown position layout {kind!r}")


class PositionalEncoding(nn.Module):
    """Adds the position table (row ``offset + position``) to scaled embeddings, then dropout."""

    pe: Tensor  # (P, D) buffer for sinusoids, a parameter when learned

    def __init__(self, d_model: int, max_len: int, dropout: float, kind: str = "sinusoidal",
                 offset: int = 0, pad_id: int = -1, norm: nn.Module | None = None) -> None:
        super().__init__()
        table = position_table(kind, max_len + offset, d_model, pad_id)
        if kind == "learned":
            self.pe = nn.Parameter(table)
        else:
            self.register_buffer("pe", table, persistent=False)
        self.offset = offset
        self.norm = norm if norm is not None else nn.Identity()  # BART's layernorm_embedding
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, start: Tensor | int = 0) -> Tensor:
        # x: (B, T, D); start: first position (the decoder step passes its cache length)
        t = x.size(1)
        if isinstance(start, Tensor):
            pos = self.pe.index_select(0, start.reshape(1) + self.offset + torch.arange(t, device=x.device))
        else:
            pos = self.pe[self.offset + start:self.offset + start + t]
        return self.dropout(self.norm(x + pos.unsqueeze(0)))


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1..head_h) W^O, returning the attention probabilities."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads, self.d_k = n_heads, d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def split(self, x: Tensor) -> Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.d_k).transpose(1, 2)  # (B, H, T, d_k)

    def project_kv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of ``x``, computed once (the decoder caches them)."""
        return self.split(self.w_k(x)), self.split(self.w_v(x))  # (B, H, S, d_k) each

    def attend(self, query: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.attend_heads(self.split(self.w_q(query)), k, v, mask)

    def weights(self, q: Tensor, k: Tensor, mask: Tensor | None) -> Tensor:
        """softmax(Q K^T / sqrt(d_k) + mask) of projected queries q (B, H, T, d_k): (B, H, T, S)."""
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)  # (B, H, T, S)
        if mask is not None:
            scores = scores + mask  # additive: 0 where allowed, NEG_INF where not
        return scores.softmax(dim=-1)

    def attend_heads(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """``attend`` after the query projection: q (B, H, T, d_k) -> ((B, T, D), probabilities)."""
        probs = self.weights(q, k, mask)  # (B, H, T, S)
        out = self.dropout(probs) @ v  # (B, H, T, d_k)
        b, _, t, _ = out.shape
        out = out.transpose(1, 2).reshape(b, t, self.n_heads * self.d_k)  # (B, T, D)
        return self.w_o(out), probs

    def forward(self, query: Tensor, key_value: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        k, v = self.project_kv(key_value)
        return self.attend(query, k, v, mask)

    def value_norms(self, v: Tensor) -> Tensor:
        """||f_h(x_j)|| = ||(x_j W_V^h + b_V^h) W_O^h|| of every head's values (Kobayashi et al. 2020).

        The norm-based attention of head h is alpha_ij * value_norms[h, j]: what token j adds to i.
        """
        w_o = self.w_o.weight.t().reshape(self.n_heads, self.d_k, -1)  # (H, d_k, D): W_O^h stacked
        return torch.linalg.vector_norm(v @ w_o, dim=-1)  # (B, H, S, d_k) @ (H, d_k, D) -> (B, H, S)


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu, "swish": F.silu}


class PositionwiseFeedForward(nn.Module):
    """FFN(x) = max(0, x W1 + b1) W2 + b2 (section 3.3); imported families use GELU or swish."""

    def __init__(self, d_model: int, d_ff: int, activation: str = "relu") -> None:
        super().__init__()
        self.w_1, self.w_2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.act = ACTIVATIONS[activation]
        # No dropout on the inner activation: the paper drops only sub-layer outputs, and
        # dropout on the 4x wider inner tensor costs a quarter of a CPU training step.

    def forward(self, x: Tensor) -> Tensor:
        return self.w_2(self.act(self.w_1(x)))


class SublayerConnection(nn.Module):
    """Residual around a sub-layer: post-LN LN(x + f(x)) (the paper) or pre-LN x + f(LN(x))."""

    def __init__(self, d_model: int, dropout: float, pre_norm: bool, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm, self.dropout, self.pre_norm = nn.LayerNorm(d_model, eps=eps), nn.Dropout(dropout), pre_norm

    def inp(self, x: Tensor) -> Tensor:
        return self.norm(x) if self.pre_norm else x

    def out(self, x: Tensor, fx: Tensor) -> Tensor:
        y = x + self.dropout(fx)
        return y if self.pre_norm else self.norm(y)


class EncoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        pre, eps = cfg.norm == "pre", cfg.layer_norm_eps
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.attn_dropout)
        self.ffn = PositionwiseFeedForward(cfg.d_model, cfg.d_ff, cfg.activation)
        self.sub1 = SublayerConnection(cfg.d_model, cfg.dropout, pre, eps)
        self.sub2 = SublayerConnection(cfg.d_model, cfg.dropout, pre, eps)

    def value_norms(self, x: Tensor) -> Tensor:
        """(B, H, S) norms of the self-attention's transformed values for layer input ``x``."""
        h = self.sub1.inp(x)
        return self.self_attn.value_norms(self.self_attn.project_kv(h)[1])

    def forward(self, x: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor]:
        h = self.sub1.inp(x)
        a, probs = self.self_attn(h, h, src_mask)
        x = self.sub1.out(x, a)
        x = self.sub2.out(x, self.ffn(self.sub2.inp(x)))
        return x, probs  # (B, S, D), (B, H, S, S)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        pre, eps, h = cfg.norm == "pre", cfg.layer_norm_eps, cfg.decoder_n_heads
        self.self_attn = MultiHeadAttention(cfg.d_model, h, cfg.attn_dropout)
        self.cross_attn = MultiHeadAttention(cfg.d_model, h, cfg.attn_dropout)
        self.ffn = PositionwiseFeedForward(cfg.d_model, cfg.decoder_ffn, cfg.activation)
        self.sub1 = SublayerConnection(cfg.d_model, cfg.dropout, pre, eps)
        self.sub2 = SublayerConnection(cfg.d_model, cfg.dropout, pre, eps)
        self.sub3 = SublayerConnection(cfg.d_model, cfg.dropout, pre, eps)

    def forward(
        self,
        y: Tensor,  # (B, T, D) new positions
        cross_k: Tensor,  # (B, H, S, d_k) keys of the encoder memory
        cross_v: Tensor,
        src_mask: Tensor,  # (B, 1, 1, S) additive
        self_mask: Tensor | None,  # (1, 1, T, P+T) additive causal mask, None for one new step
        past_k: Tensor | None = None,  # (B, H, P, d_k) cached self-attention keys
        past_v: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        h = self.sub1.inp(y)
        k, v = self.self_attn.project_kv(h)  # (B, H, T, d_k)
        if past_k is not None and past_v is not None:
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)  # (B, H, P+T, d_k)
        a, self_probs = self.self_attn.attend(h, k, v, self_mask)
        y = self.sub1.out(y, a)
        c, cross_probs = self.cross_attn.attend(self.sub2.inp(y), cross_k, cross_v, src_mask)
        y = self.sub2.out(y, c)
        y = self.sub3.out(y, self.ffn(self.sub3.inp(y)))
        return y, k, v, self_probs, cross_probs


class Transformer(nn.Module):
    """Encoder–decoder; by default one embedding serves source, target and the output projection.

    ``cfg`` also carries the architecture spec of imported families (core.convert): norm
    position, final norms, embedding norm and scale, position layout, activation, logits
    bias, and separate embeddings or output projection. The defaults are the paper's model.
    """

    logits_bias: Tensor  # (V,) buffer, only when cfg.logits_bias

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, eps = cfg.d_model, cfg.layer_norm_eps
        self.embed = nn.Embedding(cfg.vocab_size, d, padding_idx=cfg.pad_id)
        # Target side: the same embedding unless the family keeps two (never an alias: state_dict).
        self.tgt_embed = None if cfg.shared_embeddings else nn.Embedding(cfg.vocab_size, d, padding_idx=cfg.pad_id)

        def positions() -> PositionalEncoding:
            norm = nn.LayerNorm(d, eps=eps) if cfg.embed_norm else None
            return PositionalEncoding(d, cfg.max_len, cfg.dropout, cfg.positions, cfg.position_offset, cfg.pad_id, norm)

        self.pos = positions()
        # A fixed table is shared; learned tables and embedding norms are per stack (BART).
        self.tgt_pos = None if cfg.positions != "learned" and not cfg.embed_norm else positions()
        self.encoder = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_decoder_layers))
        # Pre-LN leaves the residual stream un-normalised: close each stack with a LayerNorm.
        final = cfg.has_final_norm
        self.enc_norm = nn.LayerNorm(d, eps=eps) if final else nn.Identity()
        self.dec_norm = nn.LayerNorm(d, eps=eps) if final else nn.Identity()
        self.out_proj = None if cfg.tied_output else nn.Linear(d, cfg.vocab_size, bias=False)
        if cfg.logits_bias:
            self.register_buffer("logits_bias", torch.zeros(cfg.vocab_size))
        self.embed_scale = math.sqrt(d) if cfg.scale_embedding else 1.0
        self._init_weights()

    def _init_weights(self) -> None:
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        nn.init.normal_(self.embed.weight, std=self.cfg.d_model ** -0.5)
        with torch.no_grad():
            self.embed.weight[self.cfg.pad_id].zero_()

    def embed_scaled(self, ids: Tensor) -> Tensor:
        return self.embed(ids) * self.embed_scale  # (B, T, D), section 3.4

    def embed_target(self, ids: Tensor, start: Tensor | int = 0) -> Tensor:
        """Decoder input: target embeddings, scaled, plus positions from ``start``."""
        emb = self.embed if self.tgt_embed is None else self.tgt_embed
        pos = self.pos if self.tgt_pos is None else self.tgt_pos
        return pos(emb(ids) * self.embed_scale, start)  # (B, T, D)

    def src_mask(self, src: Tensor) -> Tensor:
        return ((src == self.cfg.pad_id).float() * NEG_INF)[:, None, None, :]  # (B, 1, 1, S)

    def encode(self, src: Tensor, src_mask: Tensor,
               value_norms: list[Tensor] | None = None) -> tuple[Tensor, list[Tensor]]:
        """``value_norms``, when given, receives each layer's (B, H, S) value norms."""
        x = self.pos(self.embed_scaled(src))
        attns = []
        for layer in self.encoder:
            if value_norms is not None:
                value_norms.append(cast(EncoderLayer, layer).value_norms(x))
            x, p = layer(x, src_mask)
            attns.append(p)
        return self.enc_norm(x), attns  # (B, S, D), L x (B, H, S, S)

    def cross_kv(self, memory: Tensor) -> list[tuple[Tensor, Tensor]]:
        return [cast(DecoderLayer, layer).cross_attn.project_kv(memory) for layer in self.decoder]

    def generator(self, y: Tensor) -> Tensor:
        if self.out_proj is None:
            emb = self.embed if self.tgt_embed is None else self.tgt_embed
            logits = y @ emb.weight.t()  # tied output projection, (B, T, V)
        else:
            logits = self.out_proj(y)
        return logits + self.logits_bias if self.cfg.logits_bias else logits

    def decode(
        self, tgt_in: Tensor, memory: Tensor, src_mask: Tensor
    ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        t = tgt_in.size(1)
        causal = torch.triu(torch.full((t, t), NEG_INF, device=tgt_in.device), diagonal=1)[None, None]
        y = self.embed_target(tgt_in)
        self_attns, cross_attns = [], []
        for layer, (ck, cv) in zip(self.decoder, self.cross_kv(memory), strict=True):
            y, _, _, sp, cp = layer(y, ck, cv, src_mask, causal)
            self_attns.append(sp)
            cross_attns.append(cp)
        return self.generator(self.dec_norm(y)), self_attns, cross_attns  # (B, T, V)

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        mask = self.src_mask(src)
        memory, _ = self.encode(src, mask)
        logits, _, _ = self.decode(tgt_in, memory, mask)
        return logits


class LabelSmoothingLoss(nn.Module):
    """Cross-entropy against (1 - eps) on the target and eps spread over the other pieces."""

    def __init__(self, vocab_size: int, pad_id: int, smoothing: float) -> None:
        super().__init__()
        self.vocab_size, self.pad_id, self.smoothing = vocab_size, pad_id, smoothing

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        # logits: (N, V), target: (N,); mean over non-pad positions. PAD gets no mass.
        logp = logits.float().log_softmax(dim=-1)
        off = self.smoothing / (self.vocab_size - 2)
        true = torch.full_like(logp, off)
        true[:, self.pad_id] = 0.0
        true.scatter_(1, target.unsqueeze(1), 1.0 - self.smoothing)
        keep = target != self.pad_id
        loss = -(true * logp).sum(dim=-1)
        return loss[keep].sum() / keep.sum().clamp(min=1)


def noam_rate(step: int, d_model: int, factor: float, warmup: int) -> float:
    """lrate = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5) (eq. 3)."""
    step = max(step, 1)
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def count_parameters(model: nn.Module) -> int:
    """Distinct trainable parameters (the tied embedding counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
