"""Inference speed: full inspection with the shipped model, onnxruntime vs torch eager at
base size, decode-step scaling with prefix length, and the memory-bandwidth floor.

Run: .venv/bin/python -m benchmarks.bench_inference [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from attnscope.core.config import PRESETS, DecodeConfig
from benchmarks.common import summary, timeit, write

SENTENCES = {
    4: "She eats an apple.",
    12: "The teacher reads a new book and the child drinks the milk.",
    30: ("The kind doctor meets the student at the hospital every day and the small cat "
         "sleeps at home. Did the child help the mother? They did not open the big red door today."),
}


def default_model(repeat: int) -> dict[str, object]:
    from attnscope.core.inference.engine import Engine

    out: dict[str, object] = {}
    for threads in (1, 2):
        engine = Engine.load(None, threads=threads)
        rows = {}
        for words, text in SENTENCES.items():
            cfg = DecodeConfig(strategy="beam", beam_size=4)
            ins = engine.inspect(text, cfg)
            ms = timeit(lambda e=engine, t=text, c=cfg: e.inspect(t, c), repeat)
            rows[f"{words}_words"] = {**summary(ms), "source_pieces": len(ins.source_pieces),
                                      "output_pieces": len(ins.target_pieces), "steps": len(ins.steps),
                                      "translation": ins.translation}
        out[f"threads_{threads}"] = rows
    return out


def base_model(repeat: int) -> dict[str, object]:
    import torch

    from attnscope.core.bundle import Bundle
    from attnscope.core.inference.engine import OrtRunner, decode
    from attnscope.core.model import Transformer
    from attnscope.core.onnx_export import TorchRunner, export_graphs

    torch.manual_seed(0)
    torch.set_num_threads(2)
    cfg = replace(PRESETS["base"][0], vocab_size=8000, dropout=0.0)
    model = Transformer(cfg).eval()
    tmp = Path(tempfile.mkdtemp(prefix="attnscope-base-"))
    t0 = time.perf_counter()
    export_graphs(model, tmp, {})
    export_s = time.perf_counter() - t0
    bundle = Bundle(tmp, {}, cfg)
    src = np.array([list(range(100, 111)) + [3]], np.int64)  # 12 source pieces
    dcfg = DecodeConfig(strategy="beam", beam_size=4, max_len=12)
    res: dict[str, object] = {"export_s": round(export_s, 2), "model": "d512 8h 6+6 ffn2048 vocab8000 (random)"}
    # onnxruntime first: torch's OpenMP workers keep spinning after its calls and would
    # steal the second core from a two-thread onnxruntime measured right after them.
    runners = {f"ort_threads_{t}": OrtRunner(bundle, threads=t, want_cuda=False) for t in (1, 2)}
    times = {}
    for name, runner in runners.items():
        ms = timeit(lambda r=runner: decode(r, src, dcfg, cfg), repeat, warmup=2)
        times[name] = summary(ms)

    # Decode-step time against prefix length (beam 4), the cache being all that grows.
    runner = min((k for k in runners if k.startswith("ort")), key=lambda k: times[k]["p50_ms"])
    ort = runners[runner]
    enc = ort.encode(src, np.ones_like(src))
    k = 4
    ck, cv = np.repeat(enc.cross_k, k, 1), np.repeat(enc.cross_v, k, 1)
    mask = np.ones((k, src.shape[1]), np.int64)
    tok = np.full((k, 1), 10, np.int64)
    step = {}
    for p in (5, 60):
        past = np.random.default_rng(0).standard_normal((cfg.n_decoder_layers, k, cfg.n_heads, p, cfg.d_k)).astype(np.float32)
        ms = timeit(lambda pp=past, p=p: ort.step(tok, np.array([p], np.int64), mask, ck, cv, pp, pp), repeat * 2)
        step[f"prefix_{p}"] = summary(ms)
    res["step_scaling"] = {**step, "runner": runner,
                           "ratio_60_over_5": round(step["prefix_60"]["p50_ms"] / step["prefix_5"]["p50_ms"], 3)}

    # Memory-bandwidth floor: the weights one step must read, at numpy's mat-vec bandwidth.
    dec_params = sum(p.numel() for n, p in model.named_parameters()
                     if n.startswith("decoder") and "cross_attn.w_k" not in n and "cross_attn.w_v" not in n)
    dec_params += model.embed.weight.numel()
    step_bytes = dec_params * 4
    w = np.random.default_rng(1).standard_normal((step_bytes // 4 // 4096, 4096)).astype(np.float32)
    x = np.ones((4096,), np.float32)
    mv = timeit(lambda: w @ x, 15, warmup=3)
    bw = w.nbytes / (np.median(mv) / 1e3)
    floor_ms = step_bytes / bw * 1e3
    res["bandwidth"] = {"step_weight_mb": round(step_bytes / 1e6, 1), "numpy_matvec_gb_s": round(bw / 1e9, 2),
                        "floor_ms": round(floor_ms, 2), "step5_p50_ms": step["prefix_5"]["p50_ms"],
                        "fraction_of_floor": round(floor_ms / step["prefix_5"]["p50_ms"], 3)}

    torch_runner = TorchRunner(model)
    times["torch_eager"] = summary(timeit(lambda: decode(torch_runner, src, dcfg, cfg), repeat, warmup=2))
    res["beam4_12_tokens"] = times
    best_ort = min(times[k]["p50_ms"] for k in times if k.startswith("ort"))
    res["ort_over_torch_p50"] = round(best_ort / times["torch_eager"]["p50_ms"], 3)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    repeat = 15 if a.quick else 60
    result = {"default_model_beam4_full_inspection": default_model(repeat),
              "base_size": base_model(max(5, repeat // 6))}
    result["goals"] = {"default_12_words_p50_ms": 10.0, "ort_over_torch": 0.3, "step60_over_step5": 1.5,
                       "fraction_of_bandwidth_floor": 0.6}
    path = write("inference", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
