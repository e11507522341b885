"""`attnscope import --verify`: the bundle against transformers, one model in memory at a time.

First the bundle decodes every sentence through onnxruntime and keeps only what is compared
(tokens, the chosen path's attention and logits); the sessions are then released, and only
after that is the Hugging Face model loaded to run generate() and its forward pass.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

DEFAULT_SENTENCES = ["Hello world.", "The cat sat on the mat.", "How are you today?",
                     "This is a short sentence.", "Where is the train station?"]


def verify_import(bundle: Path, folder: Path, sentences: list[str] | None = None,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from attnscope.core.inference.engine import Engine

    say = progress or (lambda _msg: None)
    from attnscope.core.inference.logits import max_abs_diff

    texts = sentences or DEFAULT_SENTENCES
    engine = Engine.load(bundle, device="cpu")
    cfg = engine.decode_defaults()
    ours = []
    for text in texts:
        for beams in (1, cfg.beam_size):
            run = cfg.replace(strategy="greedy") if beams == 1 else cfg
            ins = engine.inspect(text, run)
            b = ins.best
            ours.append((text, beams, ins.source_ids.copy(), b.target_ids.tolist(), ins.encoder_attention,
                         b.decoder_self_attention, b.cross_attention, b.step_logits))
    start, forced_bos = engine.special.decoder_start, cfg.forced_bos_id
    say("verify: bundle decoded")
    del engine, ins
    gc.collect()
    say("verify: bundle released")

    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(folder, attn_implementation="eager").eval()
    say("verify: transformers loaded")
    eos = model.config.eos_token_id
    worst = {"logits": 0.0, "encoder_attention": 0.0, "self_attention": 0.0, "cross_attention": 0.0}
    same = {"greedy": 0, "beam": 0}
    extra = {"forced_bos_token_id": forced_bos} if forced_bos >= 0 else {}
    for _text, beams, src, got, enc, dself, cross, logits in ours:
        ids = torch.from_numpy(src[None].astype(np.int64))
        with torch.no_grad():
            seq = model.generate(ids, num_beams=beams, do_sample=False, **extra)[0].tolist()[1:]
            want = seq[: seq.index(eos) + 1] if eos in seq else seq
            same["greedy" if beams == 1 else "beam"] += int(got == want)
            o = model(input_ids=ids, decoder_input_ids=torch.tensor([[start] + got[:-1]]), output_attentions=True)
        # Above 64k pieces the Inspection keeps the top logits and log Z: those are compared.
        worst["logits"] = max(worst["logits"], max_abs_diff(logits, o.logits[0].numpy()))
        for key, a, b in (("encoder_attention", enc, o.encoder_attentions),
                          ("self_attention", dself, o.decoder_attentions),
                          ("cross_attention", cross, o.cross_attentions)):
            theirs = np.stack([x[0].numpy() for x in b])
            worst[key] = max(worst[key], float(np.abs(a - theirs).max()))
    n = len(texts)
    ok = all(v <= 1e-4 for v in worst.values()) and same["greedy"] == n and same["beam"] == n
    return {"sentences": n, "max_abs_diff": worst, "identical_greedy": same["greedy"],
            "identical_beam": same["beam"], "verified": ok}
