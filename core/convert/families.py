"""One converter per Hugging Face family: its config onto ``ModelConfig`` (the spec), its
tensor names onto ``Transformer``'s, its special ids and source framing.

All these families descend from fairseq and share the layer tensor names; what differs
is a handful of spec fields (CTranslate2's converters do the same).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from attnscope.core.config import ModelConfig
from attnscope.core.convert.hf import ConvertError

ACTIVATIONS = {"relu": "relu", "gelu": "gelu", "swish": "swish", "silu": "swish"}


def _common(c: dict[str, Any], **spec: Any) -> ModelConfig:
    act = str(c.get("activation_function", "relu"))
    if act not in ACTIVATIONS:
        raise ConvertError(f"config.json: activation_function {act!r} is not supported "
                           f"({', '.join(ACTIVATIONS)})")
    dec_vocab = c.get("decoder_vocab_size") or c["vocab_size"]
    if dec_vocab != c["vocab_size"]:
        raise ConvertError(f"config.json: decoder_vocab_size {dec_vocab} differs from vocab_size "
                           f"{c['vocab_size']} (separate vocabularies are not supported)")
    return ModelConfig(
        vocab_size=int(c["vocab_size"]), d_model=int(c["d_model"]),
        n_heads=int(c["encoder_attention_heads"]), decoder_heads=int(c["decoder_attention_heads"]),
        n_encoder_layers=int(c["encoder_layers"]), n_decoder_layers=int(c["decoder_layers"]),
        d_ff=int(c["encoder_ffn_dim"]), decoder_d_ff=int(c["decoder_ffn_dim"]),
        dropout=0.0, max_len=int(c["max_position_embeddings"]),
        pad_id=int(c.get("pad_token_id") or 0), eos_id=int(c.get("eos_token_id") or 0),
        bos_id=int(c["bos_token_id"]) if c.get("bos_token_id") is not None else int(c.get("pad_token_id") or 0),
        scale_embedding=bool(c.get("scale_embedding", False)), activation=ACTIVATIONS[act],  # type: ignore[arg-type]
        shared_embeddings=bool(c.get("share_encoder_decoder_embeddings", True)),
        tied_output=bool(c.get("tie_word_embeddings", True)), **spec,
    )


def marian(c: dict[str, Any]) -> ModelConfig:
    """Post-LN, half-split sinusoids from position 0, swish, final logits bias."""
    return _common(c, norm="post", final_norm=False, positions="sinusoidal_half", position_offset=0,
                   logits_bias=True)


def bart(c: dict[str, Any]) -> ModelConfig:
    """Post-LN with an embedding LayerNorm, learned positions from row 2, GELU."""
    return _common(c, norm="post", final_norm=False, embed_norm=True, positions="learned",
                   position_offset=2, logits_bias=True)


def mbart(c: dict[str, Any]) -> ModelConfig:
    """mBART and mBART-50: pre-LN with final norms and an embedding LayerNorm, learned
    positions from row 2, GELU, embedding scale as config.json says."""
    return _common(c, norm="pre", final_norm=True, embed_norm=True, positions="learned",
                   position_offset=2, logits_bias=True)


def m2m100(c: dict[str, Any]) -> ModelConfig:
    """M2M100 and dense NLLB-200: pre-LN, final norms, fairseq sinusoids from row pad + 1."""
    return _common(c, norm="pre", final_norm=True, positions="sinusoidal_fairseq",
                   position_offset=int(c.get("pad_token_id") or 1) + 1, logits_bias=False)


@dataclass(frozen=True)
class Family:
    name: str
    spec: Callable[[dict[str, Any]], ModelConfig]
    tokenizer: str  # "marian" | "tokenizer.json"


FAMILIES: dict[str, Family] = {
    "marian": Family("Marian (OPUS-MT)", marian, "marian"),
    "bart": Family("BART", bart, "tokenizer.json"),
    "mbart": Family("mBART / mBART-50", mbart, "tokenizer.json"),
    "m2m_100": Family("M2M100 / NLLB-200", m2m100, "tokenizer.json"),
}


def family(config: dict[str, Any], where: str) -> Family:
    """The family of a config.json, or a one-line error naming its model_type."""
    kind = config.get("model_type")
    if kind not in FAMILIES:
        raise ConvertError(f"{where}: model_type {kind!r} is not supported "
                           f"(supported: {', '.join(sorted(FAMILIES))})")
    return FAMILIES[kind]


def tensor_map(cfg: ModelConfig) -> dict[str, tuple[str, ...]]:
    """Our parameter name → the Hugging Face names it may be stored under (first found wins)."""
    out: dict[str, tuple[str, ...]] = {}
    emb = ("model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight",
           "lm_head.weight")
    out["embed.weight"] = emb if cfg.shared_embeddings else ("model.encoder.embed_tokens.weight", "model.shared.weight")
    if not cfg.shared_embeddings:
        out["tgt_embed.weight"] = ("model.decoder.embed_tokens.weight",)
    if not cfg.tied_output:
        out["out_proj.weight"] = ("lm_head.weight",)
    if cfg.logits_bias:
        out["logits_bias"] = ("final_logits_bias",)
    separate = cfg.positions == "learned" or cfg.embed_norm
    for ours, side in (("pos", "encoder"), ("tgt_pos" if separate else "", "decoder")):
        if not ours:
            continue
        if cfg.positions == "learned":
            out[f"{ours}.pe"] = (f"model.{side}.embed_positions.weight",)
        if cfg.embed_norm:
            for w in ("weight", "bias"):
                out[f"{ours}.norm.{w}"] = (f"model.{side}.layernorm_embedding.{w}",)
    attn = {"w_q": "q_proj", "w_k": "k_proj", "w_v": "v_proj", "w_o": "out_proj"}
    for w in ("weight", "bias"):
        for i in range(cfg.n_encoder_layers):
            hf = f"model.encoder.layers.{i}"
            for a, b in attn.items():
                out[f"encoder.{i}.self_attn.{a}.{w}"] = (f"{hf}.self_attn.{b}.{w}",)
            out[f"encoder.{i}.sub1.norm.{w}"] = (f"{hf}.self_attn_layer_norm.{w}",)
            out[f"encoder.{i}.ffn.w_1.{w}"] = (f"{hf}.fc1.{w}",)
            out[f"encoder.{i}.ffn.w_2.{w}"] = (f"{hf}.fc2.{w}",)
            out[f"encoder.{i}.sub2.norm.{w}"] = (f"{hf}.final_layer_norm.{w}",)
        for i in range(cfg.n_decoder_layers):
            hf = f"model.decoder.layers.{i}"
            for a, b in attn.items():
                out[f"decoder.{i}.self_attn.{a}.{w}"] = (f"{hf}.self_attn.{b}.{w}",)
                out[f"decoder.{i}.cross_attn.{a}.{w}"] = (f"{hf}.encoder_attn.{b}.{w}",)
            out[f"decoder.{i}.sub1.norm.{w}"] = (f"{hf}.self_attn_layer_norm.{w}",)
            out[f"decoder.{i}.sub2.norm.{w}"] = (f"{hf}.encoder_attn_layer_norm.{w}",)
            out[f"decoder.{i}.ffn.w_1.{w}"] = (f"{hf}.fc1.{w}",)
            out[f"decoder.{i}.ffn.w_2.{w}"] = (f"{hf}.fc2.{w}",)
            out[f"decoder.{i}.sub3.norm.{w}"] = (f"{hf}.final_layer_norm.{w}",)
        if cfg.has_final_norm:
            out[f"enc_norm.{w}"] = (f"model.encoder.layer_norm.{w}",)
            out[f"dec_norm.{w}"] = (f"model.decoder.layer_norm.{w}",)
    return out
