"""Stress: generated hostile inputs through Engine.inspect with every decoding strategy.

No exception, every attention row still a distribution, truncation flagged exactly when
the input is longer than the model allows. The count and any failures go to
results/stress.json. Run: .venv/bin/python -m benchmarks.stress_inspect [--n 10000]
"""

from __future__ import annotations

import argparse
import random
import time
import traceback

import numpy as np

from attnscope.core.config import DecodeConfig
from attnscope.core.data import generate_pairs
from benchmarks.common import write

ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,?!'",
    "가나다라마바사아자차카타파하 사랑 학교 ",
    "שלום עולם مرحبا بالعالم ",  # right to left
    "e\u0301a\u0308o\u0303\u0327 ",  # combining marks
    "😀🦄👍🏽🇰🇷 ",  # emoji, modifiers, flags
    "\x00\x07\x1b\t\r\n\u200b\u200f\u202e\ufeff ",  # control and format characters
    "中文日本語한국어 Ελληνικά Кириллица ",
]


def make_inputs(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    real = [p.en for p in generate_pairs(min(2000, n), seed)]
    out = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            out.append(rng.choice(real))
        elif kind == 1:  # a real sentence with junk spliced in
            s = rng.choice(real)
            k = rng.randrange(len(s) + 1)
            out.append(s[:k] + "".join(rng.choice(rng.choice(ALPHABETS)) for _ in range(rng.randint(1, 8))) + s[k:])
        elif kind == 2:
            alpha = rng.choice(ALPHABETS)
            out.append("".join(rng.choice(alpha) for _ in range(rng.randint(0, 60))))
        elif kind == 3:
            out.append(rng.choice(["", " ", "\n", "\t \t", "."]) * rng.randint(1, 3))
        else:  # long: past the model's maximum length
            out.append(" ".join(rng.choice(real) for _ in range(rng.randint(5, 40))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    from attnscope.core.inference.engine import Engine

    engine = Engine.load()
    limit = engine.model_config.max_len - 1
    configs = [DecodeConfig(strategy="greedy", max_len=24), DecodeConfig(strategy="beam", beam_size=4, max_len=24),
               DecodeConfig(strategy="sample", temperature=1.3, top_k=20, top_p=0.9, max_len=24)]
    failures: list[dict[str, str]] = []
    counts = {"inputs": 0, "empty": 0, "truncated": 0}
    t0 = time.perf_counter()
    for i, text in enumerate(make_inputs(a.n, a.seed)):
        cfg = configs[i % len(configs)].replace(seed=i)
        counts["inputs"] += 1
        try:
            ins = engine.inspect(text, cfg)
            if ins.is_empty:
                counts["empty"] += 1
                assert not text.strip() or not engine.tokenizer.encode(text), "non-empty text gave nothing"
                continue
            long = len(engine.tokenizer.encode(text)) > limit
            assert ins.truncated_input == long, "truncation flag wrong"
            counts["truncated"] += int(long)
            for name, att in (("encoder", ins.encoder_attention), ("cross", ins.cross_attention),
                              ("decoder", ins.decoder_attention)):
                if att.size:
                    assert np.allclose(att.sum(-1), 1.0, atol=1e-4), f"{name} rows do not sum to 1"
        except Exception as e:  # noqa: BLE001 - every failure is recorded, none stops the run
            failures.append({"input": repr(text[:200]), "strategy": cfg.strategy,
                             "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc(limit=3)})
    result = {**counts, "strategies": [c.strategy for c in configs], "failures": len(failures),
              "first_failures": failures[:10], "seconds": round(time.perf_counter() - t0, 1)}
    path = write("stress", result)
    print(path.read_text())
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
