"""`attnscope import`: a local Hugging Face model folder → a model bundle.

The weights stream into one ``Transformer`` (built on the meta device, so no random
initialisation is ever allocated), the same ONNX export as our own runs writes the graphs,
and the tokenizer files, special ids and generation defaults go into config.json.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from attnscope.core.bundle import FORMAT_VERSION, read_bundle
from attnscope.core.checkpoint import atomic_write_json
from attnscope.core.config import ModelConfig, to_dict
from attnscope.core.convert.families import FAMILIES, Family, family, tensor_map
from attnscope.core.convert.hf import ConvertError, Tensors, read_json, resolve_source
from attnscope.core.model import Transformer, position_table
from attnscope.core.onnx_export import OPSET, export_graphs
from attnscope.core.tokenizer import LANG, SpecialIds

Progress = Callable[[str], None]


def build_model(cfg: ModelConfig, tensors: Tensors) -> Transformer:
    """Our Transformer holding the folder's weights (one tensor read at a time)."""
    with torch.device("meta"):
        model = Transformer(cfg)
    model = model.to_empty(device="cpu")
    rows = cfg.max_len + cfg.position_offset
    for pe in (model.pos, model.tgt_pos):
        if pe is not None and cfg.positions != "learned":
            pe.pe.copy_(position_table(cfg.positions, rows, cfg.d_model, cfg.pad_id))
    state = model.state_dict()
    names = tensor_map(cfg)
    missing = set(state) - set(names)
    if missing:
        raise ConvertError(f"no mapping for {sorted(missing)[:3]} (converter incomplete)")
    with torch.no_grad():
        for ours, theirs in names.items():
            found = next((n for n in theirs if n in tensors), None)
            if found is None and ours == "logits_bias":
                t = torch.zeros(cfg.vocab_size)  # transformers starts a missing final_logits_bias at zero
            elif found is None:
                raise ConvertError(f"{tensors.folder}: the weights lack {theirs[0]}")
            else:
                t = tensors.get(found)
            target = state[ours]
            if t.numel() != target.numel() or (t.dim() == target.dim() and t.shape != target.shape):
                raise ConvertError(f"{tensors.where[found] if found else tensors.folder}: {found} has shape "
                                   f"{tuple(t.shape)}, config.json implies {tuple(target.shape)}")
            target.copy_(t.reshape(target.shape))
    return model.eval()


def generation_defaults(gen: dict[str, Any], config: dict[str, Any], cfg: ModelConfig) -> dict[str, Any]:
    """generation_config.json (else config.json) as DecodeConfig fields, generate()'s semantics."""
    def get(key: str, default: Any) -> Any:
        v = gen.get(key, config.get(key))
        return default if v is None else v

    beams = int(get("num_beams", 1))
    stop = get("early_stopping", False)
    return {
        "strategy": "beam" if beams > 1 else "greedy", "beam_size": max(beams, 1),
        "length_penalty": float(get("length_penalty", 1.0)), "length_penalty_kind": "hf",
        "early_stopping": "never" if stop == "never" else ("true" if stop else "false"),
        "min_length": int(get("min_length", 0)), "no_repeat_ngram_size": int(get("no_repeat_ngram_size", 0)),
        "max_len": max(1, min(int(get("max_length", 20)), cfg.max_len) - 1),  # max_length counts the start
        "forced_bos_id": int(get("forced_bos_token_id", -1)), "forced_eos_id": int(get("forced_eos_token_id", -1)),
    }


def _bad_words(gen: dict[str, Any], config: dict[str, Any]) -> tuple[int, ...]:
    bad = gen.get("bad_words_ids", config.get("bad_words_ids")) or []
    return tuple(sorted({int(w[0]) for w in bad if isinstance(w, list) and len(w) == 1}))


def _marian_tokenizer(folder: Path, staging: Path, config: dict[str, Any], gen: dict[str, Any],
                      cfg: ModelConfig) -> dict[str, Any]:
    for name in ("source.spm", "target.spm", "vocab.json"):
        if not (folder / name).is_file():
            raise ConvertError(f"{folder / name}: missing (a Marian model needs source.spm, target.spm, vocab.json)")
    vocab = read_json(folder / "vocab.json")
    if "<unk>" not in vocab:
        raise ConvertError(f"{folder / 'vocab.json'}: has no <unk> piece")
    top = max(int(i) for i in vocab.values()) + 1
    if top > cfg.vocab_size:
        raise ConvertError(f"{folder / 'vocab.json'}: ids up to {top - 1}, but config.json's vocab_size "
                           f"is {cfg.vocab_size} (tokenizer and model do not match)")
    import sentencepiece as spm

    for name in ("source.spm", "target.spm"):
        try:
            spm.SentencePieceProcessor(model_proto=(folder / name).read_bytes())
        except RuntimeError as e:
            raise ConvertError(f"{folder / name}: not a sentencepiece model ({e})") from e
        shutil.copyfile(folder / name, staging / name)
    shutil.copyfile(folder / "vocab.json", staging / "vocab.json")
    start = int(gen.get("decoder_start_token_id", config.get("decoder_start_token_id", cfg.pad_id)))
    special = SpecialIds(pad=cfg.pad_id, unk=int(vocab["<unk>"]), bos=start, eos=cfg.eos_id,
                         decoder_start=start, source_prefix=(), source_suffix=(cfg.eos_id,),
                         banned=_bad_words(gen, config))
    return {"type": "marian", "files": ["source.spm", "target.spm", "vocab.json"], "vocab_size": top,
            **special.to_config()}


# Language codes as the multilingual families write them: NLLB "eng_Latn", M2M100 "__en__",
# mBART-50 "en_XX".
LANGUAGE_CODE = re.compile(r"^(?:[a-z]{3}_[A-Z][a-z]{3}|__[a-z]{2,3}(?:_[A-Za-z]+)?__|[a-z]{2}_[A-Z]{2})$")


def _json_tokenizer(folder: Path, staging: Path, config: dict[str, Any], gen: dict[str, Any],
                    cfg: ModelConfig) -> dict[str, Any]:
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ConvertError(f"{path}: missing (this family's tokenizer is read from tokenizer.json)")
    from tokenizers import Tokenizer as HFTokenizer

    try:
        tok = HFTokenizer.from_file(str(path))
    except Exception as e:  # the tokenizers library raises its own Exception subclass
        raise ConvertError(f"{path}: not a readable tokenizer.json ({e})") from e
    size = tok.get_vocab_size(with_added_tokens=True)
    if size > cfg.vocab_size:
        raise ConvertError(f"{path}: {size} pieces, but config.json's vocab_size is {cfg.vocab_size} "
                           f"(tokenizer and model do not match)")
    shutil.copyfile(path, staging / "tokenizer.json")
    tc = read_json(folder / "tokenizer_config.json", required=False)
    vocab = tok.get_vocab(with_added_tokens=True)
    languages = {p: int(i) for p, i in vocab.items() if LANGUAGE_CODE.match(p)}
    kind = config.get("model_type")
    start = int(gen.get("decoder_start_token_id", config.get("decoder_start_token_id", cfg.eos_id)))
    eos, bos = cfg.eos_id, int(config.get("bos_token_id", 0) or 0)
    unk = vocab.get(str(tc.get("unk_token", "<unk>")), vocab.get("<unk>", cfg.pad_id))
    prefix: tuple[int, ...]
    suffix: tuple[int, ...]
    target_as_start = False
    if kind == "bart":
        prefix, suffix = (bos,), (eos,)
    elif kind == "mbart" and not _language_first(tc, path):
        # mBART-cc25: "X </s> [src_lang]", and the decoder starts with the target language code.
        prefix, suffix, target_as_start = (), (eos, LANG), True
    elif tc.get("legacy_behaviour"):
        prefix, suffix = (), (eos, LANG)  # NLLB's legacy framing
    else:
        prefix, suffix = (LANG,), (eos,)  # NLLB, M2M100: language code first
    if not languages:
        prefix = tuple(i for i in prefix if i != LANG)
        suffix = tuple(i for i in suffix if i != LANG)
    src = languages.get(str(tc.get("src_lang") or ("en_XX" if kind == "mbart" else "")), -1)
    special = SpecialIds(pad=cfg.pad_id, unk=int(unk), bos=bos, eos=eos, decoder_start=start,
                         source_prefix=prefix, source_suffix=suffix, banned=_bad_words(gen, config),
                         languages=languages, source_lang=src)
    return {"type": "tokenizer.json", "files": ["tokenizer.json"], "vocab_size": size,
            "target_lang": None if target_as_start else tc.get("tgt_lang"),
            **({"target_as": "decoder_start"} if target_as_start and languages else {}), **special.to_config()}


def _language_first(tc: dict[str, Any], path: Path) -> bool:
    """mBART-50 frames "[src_lang] X </s>", mBART-cc25 "X </s> [src_lang]": the tokenizer class
    says which, else the template tokenizer.json's post-processor was saved with."""
    cls = str(tc.get("tokenizer_class") or "")
    if cls.startswith("MBart50"):
        return True
    if cls.startswith("MBart"):
        return False
    post = read_json(path).get("post_processor") or {}
    single = post.get("single") if isinstance(post, dict) else None
    return not (isinstance(single, list) and single and "Sequence" in single[0])


TOKENIZERS = {"marian": _marian_tokenizer, "tokenizer.json": _json_tokenizer}


def _with_target(gen: dict[str, Any], tok: dict[str, Any], target_lang: str | None) -> dict[str, Any]:
    """A multilingual model's default target language becomes the forced first piece."""
    code = target_lang or tok.get("target_lang")
    langs = tok.get("languages", {})
    if target_lang and target_lang not in langs:
        raise ConvertError(f"--target-lang {target_lang!r}: not a language of this model "
                           f"(known: {', '.join(sorted(langs)) or 'none'})")
    if tok.get("target_as") == "decoder_start":  # mBART-cc25: the code is the decoder's first input
        if target_lang:
            tok["decoder_start_id"] = int(langs[target_lang])
        return gen
    if code in langs:
        gen = {**gen, "forced_bos_id": int(langs[code])}
    return gen


def import_hf(src: str, out: Path, verify: bool = False, name: str | None = None,
              progress: Progress | None = None, sentences: list[str] | None = None,
              target_lang: str | None = None) -> dict[str, Any]:
    """Write a bundle from a local Hugging Face folder (or a repo id in the local cache)."""
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    folder = resolve_source(src)
    config = read_json(folder / "config.json")
    fam: Family = family(config, str(folder / "config.json"))
    gen = read_json(folder / "generation_config.json", required=False)
    try:
        cfg = fam.spec(config)
    except (ConvertError, KeyError, TypeError, ValueError) as e:
        what = f"lacks {e}" if isinstance(e, KeyError) else str(e).removeprefix("config.json: ")
        raise ConvertError(f"{folder / 'config.json'}: {what}") from e
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        say("tokenizer")
        tok = TOKENIZERS[fam.tokenizer](folder, staging, config, gen, cfg)
        say("weights")
        model = build_model(cfg, Tensors(folder))
        bundle_config = {
            "format_version": FORMAT_VERSION,
            "name": name or folder.name,
            "languages": {"source": "src", "target": "tgt"},
            "model": to_dict(cfg),
            "tokenizer": tok,
            "generation": _with_target(generation_defaults(gen, config, cfg), tok, target_lang),
            "onnx": {"opset": OPSET},
            "provenance": {"imported_from": str(folder), "family": config.get("model_type"),
                           "architectures": config.get("architectures"), "torch": torch.__version__,
                           "imported": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")},
        }
        say("graphs")
        meta = {"attnscope_config": json.dumps({k: bundle_config[k] for k in ("format_version", "model", "tokenizer")})}
        export_graphs(model, staging, meta)
        from safetensors.torch import save_file

        say("weights.safetensors")
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(staging / "weights.safetensors"))
        del model  # --verify must never hold two copies of a big model
        atomic_write_json(staging / "config.json", bundle_config)
        read_bundle(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    report: dict[str, Any] = {"bundle": str(out), "family": fam.name, "import_s": round(time.perf_counter() - t0, 2),
                              "bytes": sum(p.stat().st_size for p in out.rglob("*") if p.is_file())}
    if verify:
        from attnscope.core.convert.verify import verify_import

        say("verify")
        report["verify"] = verify_import(out, folder, sentences, progress=say)
        report["verified"] = report["verify"]["verified"]
    return report


__all__ = ["import_hf", "build_model", "generation_defaults", "FAMILIES", "ConvertError"]
