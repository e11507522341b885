"""ALTI+ layer-wise contributions in torch (Ferrando et al. 2022), exported as ``contributions.onnx``.

"Towards Opening the Black Box of Neural Machine Translation: Source and Target
Contributions to the Model's Predictions" (EMNLP 2022) extends ALTI (Ferrando et al.
2022, "Measuring the Mixing of Contextual Information in the Transformer"): every
attention block's output y_i is split into one term per input token,

    y_i = sum_j T_i(x_j) + bias_i,

each term's contribution is c_ij = max(0, ||y_i||_1 - ||y_i - T_i(x_j)||_1), normalised
over j, and the layer matrices are rolled out from the output down to the input tokens
(done by ``core.inference.contributions``, in numpy).

Why a graph: the app and ``core.inference`` run without torch, and the decomposition
needs every layer's hidden states, values and norms. Reimplementing the forward pass in
numpy would have to follow every architecture the model spec covers; tracing the model's
own modules into one extra graph (source ids and the chosen target prefix in, teacher
forced, the three stacks of layer matrices out) keeps one definition of the model, runs
in one onnxruntime call per sentence, and leaves the cheap rollout to numpy.

Where this differs from the reference code (mt-upc/transformer-contributions-nmt,
``wrappers/transformer_wrapper.py``), and why:

* post-LN: the reference divides by ``(x + eps).std(-1)``, the *unbiased* standard
  deviation with eps added to the values. LayerNorm divides by sqrt(biased var + eps), so
  we use exactly that: the terms then sum back to the real block output (to 1e-5, tested)
  instead of approximately.
* the reference handles LayerNorm only (with centring); an RMSNorm (T5-style, no
  centring, no beta) is handled here by its own linear part.
* pre-LN: as in the reference, the residual stream is left un-normalised (the next
  block's LayerNorm acts on the sum, not on each term), and the values are computed from
  LN(x_j), a function of x_j alone.
* the feed-forward blocks are token-wise and, as in the paper, leave a token's
  contributions where they are; the final encoder/decoder LayerNorm of pre-LN stacks too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

from attnscope.core.model import NEG_INF, MultiHeadAttention, Transformer

# Which sub-layer connection wraps which attention, per layer kind: the one place that
# knows the layers' attribute names.
ENCODER_BLOCKS = (("sub1", "self_attn"),)
DECODER_BLOCKS = (("sub1", "self_attn"), ("sub2", "cross_attn"))
ENCODER_FFN, DECODER_FFN = ("sub2", "ffn"), ("sub3", "ffn")  # token-wise: contributions pass through


@dataclass(frozen=True)
class BlockDecomposition:
    """One attention block (attention + residual + norm) split into per-token terms."""

    terms: Tensor  # (B, T, N, D): T_i(x_j); for cross-attention the last column is the residual stream
    bias: Tensor  # (B, T, D): what no token owns (b_O, and LayerNorm's share of it plus beta)
    output: Tensor  # (B, T, D): the block's output as the model computes it


def norm_linear(norm: nn.Module, y: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
    """The norm as an affine map frozen at the statistics of ``y`` [..., D]: (L(z), constant).

    LayerNorm(y) = gamma * (y - mean(y)) / sqrt(var(y) + eps) + beta is linear in y once its
    standard deviation is fixed, so LN(sum_j z_j) = sum_j L(z_j) + beta. ``z`` carries one
    more axis than ``y`` (the per-token terms)."""
    weight = getattr(norm, "weight", None)
    eps_attr = getattr(norm, "eps", None)
    eps = float(eps_attr) if eps_attr is not None else float(torch.finfo(y.dtype).eps)  # nn.RMSNorm's default
    const: Tensor
    if isinstance(norm, nn.LayerNorm):
        sigma = torch.sqrt(y.var(dim=-1, unbiased=False, keepdim=True) + eps)  # (..., 1) as LayerNorm
        out = (z - z.mean(dim=-1, keepdim=True)) / sigma.unsqueeze(-2)
        const = norm.bias if norm.bias is not None else torch.zeros_like(y[..., 0, None])
    elif "rms" in type(norm).__name__.lower():
        rms = torch.sqrt(y.pow(2).mean(dim=-1, keepdim=True) + eps)
        out = z / rms.unsqueeze(-2)
        const = torch.zeros_like(y[..., 0, None])
    else:
        raise NotImplementedError(f"ALTI+: no linear form for {type(norm).__name__}")
    if weight is not None:
        out = out * weight
    return out, const


def decompose_block(sub: Any, attn: MultiHeadAttention, x: Tensor, memory: Tensor | None,
                    mask: Tensor | None) -> BlockDecomposition:
    """Split ``sub``'s output for residual stream ``x`` (B, T, D) into per-token terms.

    Self-attention (``memory`` None): terms over the T tokens of ``x``, the residual adding
    x_i to its own term. Cross-attention: terms over the S memory positions, plus the
    residual x_i as column S (ALTI+ treats it as one more contributor)."""
    h = sub.inp(x)  # (B, T, D): LN(x) for pre-LN, x for post-LN
    k, v = attn.project_kv(h if memory is None else memory)  # (B, H, N, d_k)
    a, probs = attn.attend(h, k, v, mask)  # the model's own attention: (B, T, D), (B, H, T, N)
    w_o = attn.w_o.weight.t().reshape(attn.n_heads, attn.d_k, -1)  # (H, d_k, D)
    fv = v @ w_o  # (B, H, N, D): f_h(x_j) = (x_j W_V^h + b_V^h) W_O^h
    # sum over heads of alpha_ij f_h(x_j), as one batched MatMul (onnxruntime's Einsum is slow):
    mixed = (probs.permute(0, 3, 2, 1) @ fv.transpose(1, 2)).transpose(1, 2)  # (B,N,T,H)@(B,N,H,D) -> (B,T,N,D)
    b_o = attn.w_o.bias if attn.w_o.bias is not None else torch.zeros_like(x[0, 0])
    if memory is None:
        idx = torch.arange(x.size(1), device=x.device)  # a traced length, so the graph stays dynamic
        eye = (idx[:, None] == idx[None, :]).to(x.dtype)  # (T, T)
        terms = mixed + eye[None, :, :, None] * x[:, None, :, :]  # residual x_i into term (i, i)
    else:
        terms = torch.cat([mixed, x.unsqueeze(2)], dim=2)  # (B, T, S+1, D)
    output = sub.out(x, a)
    bias = b_o.expand_as(x)
    if not sub.pre_norm:  # post-LN: push every term through the norm's linear part
        pre = x + a  # what the norm saw
        terms, const = norm_linear(sub.norm, pre, terms)
        lin_b, _ = norm_linear(sub.norm, pre, b_o.expand_as(x).unsqueeze(2))
        bias = lin_b.squeeze(2) + const
    return BlockDecomposition(terms, bias, output)


def alti_matrix(dec: BlockDecomposition) -> Tensor:
    """(B, T, N) contributions: max(0, ||y||_1 - ||y - T_j||_1), rows normalised to sum 1."""
    y = dec.terms.sum(dim=2) + dec.bias  # (B, T, D), equal to dec.output (tested)
    dist = (y.unsqueeze(2) - dec.terms).abs().sum(dim=-1)  # (B, T, N)
    c = (y.abs().sum(dim=-1, keepdim=True) - dist).clamp(min=0.0)
    return c / c.sum(dim=-1, keepdim=True).clamp(min=1e-12)


def decompositions(model: Transformer, src: Tensor, tgt_in: Tensor
                   ) -> tuple[list[BlockDecomposition], list[tuple[BlockDecomposition, BlockDecomposition]]]:
    """Teacher-force ``tgt_in`` (B, T) on ``src`` (B, S): every encoder layer's self-attention
    block and every decoder layer's (self, cross) blocks, each split into per-token terms.

    The stream between blocks is the model's own sub-layers applied to each block's real
    output (``sub.out``), never the sum of the terms, so a wrong decomposition cannot leak
    into the next layer's input."""
    mask = model.src_mask(src)
    x = model.pos(model.embed_scaled(src))  # (B, S, D), as Transformer.encode
    enc: list[BlockDecomposition] = []
    for layer in model.encoder:
        (sub_name, attn_name), = ENCODER_BLOCKS
        d = decompose_block(getattr(layer, sub_name), getattr(layer, attn_name), x, None, mask)
        enc.append(d)
        x = _feed_forward(layer, ENCODER_FFN, d.output)
    memory = model.enc_norm(x)
    t = tgt_in.size(1)
    causal = torch.triu(torch.full((t, t), NEG_INF, device=tgt_in.device), diagonal=1)[None, None]
    y = model.embed_target(tgt_in)  # (B, T, D), as Transformer.decode (its own embedding and positions)
    dec: list[tuple[BlockDecomposition, BlockDecomposition]] = []
    for layer in model.decoder:
        (s_sub, s_attn), (c_sub, c_attn) = DECODER_BLOCKS
        d_self = decompose_block(getattr(layer, s_sub), getattr(layer, s_attn), y, None, causal)
        d_cross = decompose_block(getattr(layer, c_sub), getattr(layer, c_attn), d_self.output, memory, mask)
        dec.append((d_self, d_cross))
        y = _feed_forward(layer, DECODER_FFN, d_cross.output)
    return enc, dec


def _feed_forward(layer: nn.Module, names: tuple[str, str], x: Tensor) -> Tensor:
    """The layer's feed-forward sub-layer with its residual and norm, as the layer runs it."""
    sub, ffn = getattr(layer, names[0]), getattr(layer, names[1])
    return cast(Tensor, sub.out(x, ffn(sub.inp(x))))


class ContributionsGraph(nn.Module):
    """src_ids [1, S], tgt_ids [1, T] (decoder inputs: start piece, y_1 .. y_{T-1}) →
    enc_alti [L, S, S], dec_self_alti [L, T, T], cross_alti [L, T, S+1] (rows sum to 1;
    the last cross column is the decoder's own residual stream)."""

    def __init__(self, model: Transformer) -> None:
        super().__init__()
        self.model = model

    def forward(self, src_ids: Tensor, tgt_ids: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        enc, dec = decompositions(self.model, src_ids, tgt_ids)
        return (torch.stack([alti_matrix(d)[0] for d in enc]),
                torch.stack([alti_matrix(s)[0] for s, _ in dec]),
                torch.stack([alti_matrix(c)[0] for _, c in dec]))


CONTRIB_INPUTS = ["src_ids", "tgt_ids"]
CONTRIB_OUTPUTS = ["enc_alti", "dec_self_alti", "cross_alti"]
