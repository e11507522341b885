"""GPU: the Marian-base-shaped model of bench_real_size on onnxruntime's CUDA provider.

Three engines decode the same 12-word sentence with beam 4 for 12 steps and every attention
kept: CUDA with the key/value cache on the device (IO binding, what ``Engine.load`` picks
when CUDA really runs), CUDA with the cache copied to the host every step, and the CPU at
two threads. Figures are medians; the CUDA decode is checked against the CPU one (same
translation, logits and attention within a tolerance).

Where onnxruntime lists no CUDA provider, or lists one whose libraries do not load
(onnxruntime-gpu on a machine without CUDA), the result says so and nothing is timed.

Run: .venv/bin/python -m benchmarks.bench_gpu [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import summary, timeit, write


def parity(a: Any, b: Any) -> dict[str, Any]:
    """How far inspection ``b`` is from ``a`` (same decode on two devices)."""
    same = a.translation == b.translation and [n.token for n in a.nodes] == [n.token for n in b.nodes]
    out: dict[str, Any] = {"same_tree": bool(same)}
    if same:
        out["logits_max_abs_diff"] = max(float(np.abs(x.logits.dense_values() - y.logits.dense_values()).max())
                                         for x, y in zip(a.steps, b.steps, strict=True))
        for key in ("encoder_attention", "decoder_attention", "cross_attention"):
            out[f"{key}_max_abs_diff"] = float(np.abs(getattr(a, key) - getattr(b, key)).max())
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cpu-check", action="store_true",
                    help="run the same three paths with the cache bound on the CPU device: checks this script "
                         "where there is no GPU; prints, records nothing")
    a = ap.parse_args()
    repeat = 5 if a.quick else 20
    import onnxruntime as ort

    res: dict[str, Any] = {"available_providers": ort.get_available_providers()}
    if "CUDAExecutionProvider" not in res["available_providers"] and not a.cpu_check:
        res["skipped"] = "onnxruntime lists no CUDA execution provider (install onnxruntime-gpu)"
        print(write("gpu", res).read_text())
        return 0

    from attnscope.core.config import DecodeConfig
    from attnscope.core.inference.engine import Engine, OrtRunner
    from attnscope.core.inference.iobinding import IoBindingRunner
    from attnscope.core.tokenizer import Tokenizer
    from benchmarks.bench_real_size import SENTENCE, STEPS, attnscope_bundle, model_description

    tmp = Path(tempfile.mkdtemp(prefix="attnscope-gpu-"))
    cfg, bundle, export_s = attnscope_bundle(tmp)
    tok = Tokenizer.load(tmp / "spm.model")
    cuda = OrtRunner(bundle, 2, want_cuda=not a.cpu_check)
    res["model"] = model_description(cfg)
    res["export_s"] = round(export_s, 2)
    if cuda.provider != "CUDA" and not a.cpu_check:
        res["skipped"] = ("onnxruntime lists CUDA but the session fell back to the CPU "
                          "(the CUDA libraries are missing or no GPU is visible)")
        print(write("gpu", res).read_text())
        return 0
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    res["gpu"] = None
    if smi:
        query = [smi, "--query-gpu=name,memory.total", "--format=csv,noheader"]
        res["gpu"] = subprocess.run(query, capture_output=True, text=True, check=False).stdout.strip() or None
    dcfg = DecodeConfig(strategy="beam", beam_size=4, max_len=STEPS)
    engines = {
        "cuda_cache_on_device": Engine(bundle, tok, IoBindingRunner(cuda, "cpu" if a.cpu_check else None), "CUDA"),
        "cuda_cache_via_host": Engine(bundle, tok, cuda, "CUDA"),
        "cpu_2_threads": Engine(bundle, tok, OrtRunner(bundle, 2, want_cuda=False), "CPU"),
    }
    out = {name: e.inspect(SENTENCE, dcfg) for name, e in engines.items()}
    res["parity_vs_cpu"] = {name: parity(out["cpu_2_threads"], ins) for name, ins in out.items()
                            if name != "cpu_2_threads"}
    res["systems"] = {}
    for name, e in engines.items():
        timeit(lambda e=e: e.inspect(SENTENCE, dcfg), 0, warmup=3)
        ms, per_step = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            ins = e.inspect(SENTENCE, dcfg)
            ms.append((time.perf_counter() - t0) * 1e3)
            per_step.append(ins.timings_ms["decode"] / max(1, len(ins.steps)))  # model call and search
        res["systems"][name] = {**summary(ms), "steps": len(out[name].steps),
                                "decode_per_step_p50_ms": round(float(np.median(per_step)), 3)}
    cpu = res["systems"]["cpu_2_threads"]["p50_ms"]
    for name in ("cuda_cache_on_device", "cuda_cache_via_host"):
        res["systems"][name]["speedup_vs_cpu"] = round(cpu / res["systems"][name]["p50_ms"], 2)
    if a.cpu_check:
        import json

        print(json.dumps({**res, "cpu_check": "the 'cuda' engines ran on the CPU; not a GPU measurement"}, indent=1))
        return 0
    print(write("gpu", res).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
