"""`attnscope export-hf`: a model trained here as a Marian model folder for ``transformers``.

Our model is Marian's (post-LN, no final or embedding norms, sinusoidal positions from
row 0, embeddings scaled by sqrt(d_model), tied output) except for one layout: the paper
interleaves sin and cos across the hidden dimensions, Marian puts every sin first and
every cos after. Permuting the hidden dimensions is an exact reparametrisation: every
weight that reads the residual stream has its input columns permuted, every weight that
writes it has its output rows (and bias) permuted, LayerNorm gains and biases follow, and
attention scores, probabilities and logits stay the same numbers. What Marian cannot
represent (pre-LN, learned positions, an embedding LayerNorm …) stops with one line.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from attnscope.core.checkpoint import atomic_write_json, latest_checkpoint
from attnscope.core.config import DecodeConfig, ModelConfig, from_dict
from attnscope.core.convert.families import tensor_map
from attnscope.core.convert.hf import ConvertError, read_json
from attnscope.core.model import Transformer
from attnscope.core.tokenizer import SpecialIds

MARIAN_ACTIVATIONS = {"relu": "relu", "gelu": "gelu", "swish": "swish"}  # Marian's activation_function


@dataclass(frozen=True)
class Source:
    """A run or bundle folder: its spec, where its weights are, its tokenizer and defaults."""

    folder: Path
    cfg: ModelConfig
    weights: Path
    tokenizer: dict[str, Any]  # config.json's "tokenizer" section
    special: SpecialIds
    decode: DecodeConfig
    languages: dict[str, str]


def read_source(path: Path) -> Source:
    """A run folder (weights.safetensors or its latest checkpoint) or a bundle folder."""
    if not path.is_dir():
        raise ConvertError(f"{path}: no such run or bundle folder")
    config = read_json(path / "config.json")
    if not isinstance(config.get("model"), dict):
        raise ConvertError(f"{path / 'config.json'}: no \"model\" section (not a run or bundle folder)")
    try:
        cfg = from_dict(ModelConfig, config["model"])
    except (TypeError, ValueError) as e:
        raise ConvertError(f"{path / 'config.json'}: bad \"model\" section ({e})") from e
    weights = path / "weights.safetensors"
    if not weights.is_file():
        ck = latest_checkpoint(path)
        if ck is None:
            raise ConvertError(f"{weights}: missing (and no checkpoint named by latest.json)")
        weights = ck / "model.safetensors"
    section = config.get("tokenizer")
    tok: dict[str, Any] = section if isinstance(section, dict) else {"type": "sentencepiece"}
    gen = config.get("generation")
    decode = from_dict(DecodeConfig, gen) if isinstance(gen, dict) else DecodeConfig()
    langs = config.get("languages")
    if not isinstance(langs, dict):
        generated = (config.get("data") or {}).get("kind") == "generated"
        langs = {"source": "en", "target": "ko"} if generated else {}
    return Source(path, cfg, weights, tok, SpecialIds.from_config(tok), decode, langs)


def check_marian(src: Source) -> None:
    """One line naming config.json for every spec field Marian cannot represent exactly."""
    c, where = src.cfg, src.folder / "config.json"
    problems = []
    if c.norm != "post":
        problems.append(f"norm {c.norm!r} (Marian is post-LN)")
    if c.has_final_norm:
        problems.append("a final LayerNorm after each stack (Marian has none)")
    if c.embed_norm:
        problems.append("an embedding LayerNorm (Marian has none)")
    if c.positions not in ("sinusoidal", "sinusoidal_half") or c.position_offset:
        problems.append(f"positions {c.positions!r} from row {c.position_offset} (Marian: sinusoids from row 0)")
    if c.activation not in MARIAN_ACTIVATIONS:
        problems.append(f"activation {c.activation!r}")
    if c.layer_norm_eps != 1e-5:
        problems.append(f"layer_norm_eps {c.layer_norm_eps} (Marian's LayerNorm uses 1e-5)")
    if c.d_model % 2:
        problems.append(f"an odd d_model {c.d_model}")
    sp = src.special
    if sp.source_prefix or sp.source_suffix != (sp.eos,):
        problems.append(f"source framing {list(sp.source_prefix)} … {list(sp.source_suffix)} "
                        f"(Marian appends only </s>)")
    if sp.languages:
        problems.append("language codes (Marian marks a target language with a >>xx<< piece)")
    if problems:
        raise ConvertError(f"{where}: cannot be written as a Marian model exactly: {'; '.join(problems)}")


def permutation(cfg: ModelConfig) -> torch.Tensor:
    """Hidden-dimension order that turns our position table into Marian's (sin half, cos half)."""
    d = cfg.d_model
    if cfg.positions == "sinusoidal":  # interleaved: columns 0, 2, 4 … are sin, 1, 3, 5 … cos
        return torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])
    return torch.arange(d)  # already half-split


def residual_axis(name: str) -> int | None:
    """Which axis of parameter ``name`` indexes the residual stream (None: it does not)."""
    if name in ("embed.weight", "tgt_embed.weight", "out_proj.weight"):
        return 1  # (V, D)
    if name == "logits_bias":
        return None
    module, kind = name.split(".")[-2:]
    if module in ("w_q", "w_k", "w_v", "w_1"):
        return 1 if kind == "weight" else None  # reads the stream: (out, D); bias lives in head space
    if module in ("w_o", "w_2"):
        return 0  # writes the stream: (D, in) and its bias (D,)
    if module in ("norm", "enc_norm", "dec_norm"):
        return 0  # LayerNorm gain and bias (D,)
    raise ConvertError(f"no residual-stream rule for parameter {name!r}")


def marian_tensors(src: Source) -> dict[str, torch.Tensor]:
    """The Marian state dict: our weights under Hugging Face names, hidden dimensions permuted."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    cfg = src.cfg
    with torch.device("meta"):
        expected = Transformer(cfg).state_dict()
    try:
        ours = load_file(str(src.weights))
    except (SafetensorError, OSError) as e:
        raise ConvertError(f"{src.weights}: not a readable safetensors file ({e})") from e
    missing = sorted(set(expected) - set(ours))
    if missing:
        raise ConvertError(f"{src.weights}: lacks {missing[0]} (and {len(missing) - 1} more) that "
                           f"config.json's model needs")
    for name, t in expected.items():
        if tuple(ours[name].shape) != tuple(t.shape):
            raise ConvertError(f"{src.weights}: {name} has shape {tuple(ours[name].shape)}, "
                               f"config.json implies {tuple(t.shape)}")
    perm = permutation(cfg)
    names = tensor_map(cfg)
    out: dict[str, torch.Tensor] = {}
    for name in expected:
        t = ours[name].float()
        axis = residual_axis(name)
        if axis is not None:
            t = t.index_select(axis, perm)
        hf = names[name][0]
        out[hf] = t.reshape(1, -1) if name == "logits_bias" else t  # final_logits_bias is (1, V)
    out.setdefault("final_logits_bias", torch.zeros(1, cfg.vocab_size))
    return {k: v.contiguous() for k, v in out.items()}


def marian_config(src: Source) -> dict[str, Any]:
    """MarianConfig's fields for our spec and special ids."""
    c, sp = src.cfg, src.special
    return {
        "vocab_size": c.vocab_size, "decoder_vocab_size": c.vocab_size, "d_model": c.d_model,
        "encoder_layers": c.n_encoder_layers, "decoder_layers": c.n_decoder_layers,
        "encoder_attention_heads": c.n_heads, "decoder_attention_heads": c.decoder_n_heads,
        "encoder_ffn_dim": c.d_ff, "decoder_ffn_dim": c.decoder_ffn,
        "activation_function": MARIAN_ACTIVATIONS[c.activation], "max_position_embeddings": c.max_len,
        "scale_embedding": c.scale_embedding, "share_encoder_decoder_embeddings": c.shared_embeddings,
        "tie_word_embeddings": c.tied_output, "dropout": 0.0, "attention_dropout": 0.0,
        "activation_dropout": 0.0, "pad_token_id": sp.pad, "eos_token_id": sp.eos,
        "bos_token_id": sp.bos, "decoder_start_token_id": sp.decoder_start, "forced_eos_token_id": None,
        "architectures": ["MarianMTModel"],
    }


def generation_config(src: Source) -> dict[str, Any]:
    """The bundle's decoding defaults in generate()'s terms (the length penalty's form is
    transformers' score / n^alpha there, ours ((5 + n) / 6)^alpha by default)."""
    d, sp = src.decode, src.special
    beams = d.beam_size if d.strategy == "beam" else 1
    # Ours ("") stops once beam_size hypotheses finished: generate()'s early_stopping=True.
    stop: bool | str = "never" if d.early_stopping == "never" else d.early_stopping != "false"
    gen: dict[str, Any] = {
        "decoder_start_token_id": sp.decoder_start, "eos_token_id": sp.eos, "pad_token_id": sp.pad,
        "bad_words_ids": [[int(i)] for i in sp.banned] or None, "num_beams": beams,
        "max_length": min(d.max_len + 1, src.cfg.max_len), "length_penalty": d.length_penalty,
        "early_stopping": stop, "min_length": d.min_length, "no_repeat_ngram_size": d.no_repeat_ngram_size,
    }
    if d.forced_bos_id >= 0:
        gen["forced_bos_token_id"] = d.forced_bos_id
    if d.forced_eos_id >= 0:
        gen["forced_eos_token_id"] = d.forced_eos_id
    return gen


def write_tokenizer(src: Source, out: Path) -> dict[str, str]:
    """source.spm, target.spm and vocab.json; our one shared sentencepiece model serves as both."""
    import sentencepiece as spm

    kind = src.tokenizer.get("type", "sentencepiece")
    if kind == "marian":  # an imported Marian bundle: its own files
        for name in ("source.spm", "target.spm", "vocab.json"):
            if not (src.folder / name).is_file():
                raise ConvertError(f"{src.folder / name}: missing (the bundle's Marian tokenizer)")
            shutil.copyfile(src.folder / name, out / name)
        vocab = read_json(out / "vocab.json")
        inverse = {int(i): p for p, i in vocab.items()}
    elif kind == "sentencepiece":
        model = src.folder / str(src.tokenizer.get("file", "spm.model"))
        if not model.is_file():
            raise ConvertError(f"{model}: missing (the tokenizer the model was trained with)")
        try:
            sp = spm.SentencePieceProcessor(model_proto=model.read_bytes())
        except RuntimeError as e:
            raise ConvertError(f"{model}: not a sentencepiece model ({e})") from e
        if sp.get_piece_size() > src.cfg.vocab_size:
            raise ConvertError(f"{model}: {sp.get_piece_size()} pieces, but config.json's vocab_size is "
                               f"{src.cfg.vocab_size} (tokenizer and model do not match)")
        inverse = {i: str(sp.id_to_piece(i)) for i in range(sp.get_piece_size())}
        for name in ("source.spm", "target.spm"):
            shutil.copyfile(model, out / name)
        atomic_write_json(out / "vocab.json", {p: i for i, p in inverse.items()})
    else:
        raise ConvertError(f"{src.folder / 'config.json'}: a {kind!r} tokenizer cannot be written as "
                           f"Marian's sentencepiece files")
    sp_ids = src.special
    tokens = {}
    for key, i in (("unk_token", sp_ids.unk), ("eos_token", sp_ids.eos), ("pad_token", sp_ids.pad)):
        if i not in inverse:
            raise ConvertError(f"{src.folder / 'config.json'}: special id {i} ({key}) is not in the vocabulary")
        tokens[key] = inverse[i]
    return tokens


def export_hf(source: Path, out: Path) -> dict[str, Any]:
    """Write ``out`` as a Marian model folder that MarianMTModel and MarianTokenizer load offline."""
    from transformers import GenerationConfig, MarianConfig

    src = read_source(source)
    check_marian(src)
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        tokens = write_tokenizer(src, staging)
        tensors = marian_tensors(src)
        from safetensors.torch import save_file

        save_file(tensors, str(staging / "model.safetensors"), metadata={"format": "pt"})
        MarianConfig(**marian_config(src)).save_pretrained(staging)
        GenerationConfig(**generation_config(src)).save_pretrained(staging)
        atomic_write_json(staging / "tokenizer_config.json", {
            "tokenizer_class": "MarianTokenizer", "source_lang": src.languages.get("source"),
            "target_lang": src.languages.get("target"), "model_max_length": src.cfg.max_len,
            "separate_vocabs": False, "clean_up_tokenization_spaces": False, **tokens})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return {"folder": str(out), "from": str(source), "weights": str(src.weights),
            "permuted": src.cfg.positions == "sinusoidal",
            "files": {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}}


__all__ = ["export_hf", "read_source", "check_marian", "permutation", "ConvertError"]
