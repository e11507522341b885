"""A tiny random-weight model with NLLB's 256 206-piece vocabulary, as a bundle (built here,
nothing downloaded): d16, one layer each side, a word-level tokenizer.json covering every id.

Also the oracle the tests compare against: the full logits of a path, teacher-forced through
decoder.onnx directly with onnxruntime (batch 1, no search, no Inspection)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

VOCAB = 256_206
WORDS = "the cat sees a dog near river house small big old new red green book".split()
SENTENCE = "the small cat sees a big dog near the old house"


def build(folder: Path, external_over: int | None = None, seed: int = 0) -> Path:
    """Write the bundle to ``folder`` (graphs inline, or external data over ``external_over``)."""
    import torch
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    from attnscope.core.bundle import FORMAT_VERSION
    from attnscope.core.config import ModelConfig, to_dict
    from attnscope.core.model import Transformer
    from attnscope.core.onnx_export import EXTERNAL_DATA_OVER, export_graphs
    from attnscope.core.tokenizer import SpecialIds

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["<pad>", "<unk>", "<s>", "</s>"]  # ids 0-3 as ours: PAD, UNK, BOS, EOS
    words = ["▁" + w for w in WORDS]
    vocab = {p: i for i, p in enumerate(specials + words + [f"▁w{i}" for i in range(VOCAB - 4 - len(words))])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.add_special_tokens(specials)
    tok.save(str(folder / "tokenizer.json"))
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=VOCAB, d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=32,
                      dropout=0.0, max_len=32)
    model = Transformer(cfg).eval()
    with torch.no_grad():  # a peaked head: a few pieces stand out, as in a trained model
        model.embed.weight.mul_(4.0)
    export_graphs(model, folder, {}, external_over=EXTERNAL_DATA_OVER if external_over is None else external_over)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "weights.safetensors"))
    special = SpecialIds()
    (folder / "config.json").write_text(json.dumps({
        "format_version": FORMAT_VERSION, "name": "big-vocab", "model": to_dict(cfg),
        "tokenizer": {"type": "tokenizer.json", "files": ["tokenizer.json"], "vocab_size": VOCAB,
                      **special.to_config()}}), encoding="utf-8")
    return folder


def teacher_forced_logits(bundle: Path, source_ids: np.ndarray, target_ids: np.ndarray, start: int) -> np.ndarray:
    """[T, V] float64 logits of ``target_ids`` given ``source_ids``, straight from the graphs."""
    import onnxruntime as ort

    enc = ort.InferenceSession(str(bundle / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(bundle / "decoder.onnx"), providers=["CPUExecutionProvider"])
    src = np.asarray(source_ids, np.int64)[None]
    mask = np.ones_like(src)
    _, _, ck, cv, *_ = enc.run(None, {"src_ids": src, "src_mask": mask})
    past_k = np.zeros((ck.shape[0], 1, ck.shape[2], 0, ck.shape[4]), np.float32)
    past_v = past_k
    rows = []
    for t, token in enumerate([start, *list(target_ids[:-1])]):
        out = dec.run(None, {"token": np.array([[token]], np.int64), "position": np.array([t], np.int64),
                             "src_mask": mask, "cross_k": ck, "cross_v": cv, "past_k": past_k, "past_v": past_v})
        rows.append(out[0][0].astype(np.float64))
        past_k, past_v = out[1], out[2]
    return np.stack(rows)
