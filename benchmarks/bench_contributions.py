"""What norm-based attention and ALTI+ add to a full inspection of the shipped model.

Three engines on the same bundle, interleaved so machine noise hits all alike:
``baseline`` runs graphs whose value-norm outputs are removed (onnxruntime then drops the
nodes that computed them) with ALTI+ off, i.e. the inspection before these measures;
``norms`` the shipped graphs with ALTI+ off; ``full`` the shipped graphs with ALTI+ on.
Ratios are of medians within this one run.

Run: .venv/bin/python -m benchmarks.bench_contributions [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import onnx

from attnscope.core.bundle import DEFAULT_BUNDLE
from attnscope.core.config import DecodeConfig
from benchmarks.common import summary, write

TEXT_12 = "The teacher reads a new book and the child drinks the milk."  # 12 words, as bench_inference
EXTRA = {"encoder.onnx": {"enc_vnorm", "cross_vnorm"}, "decoder.onnx": {"self_vnorm"}}


def without_norms(dest: Path) -> Path:
    """A copy of the shipped bundle whose graphs do not output the value norms."""
    shutil.copytree(DEFAULT_BUNDLE, dest)
    for name, extra in EXTRA.items():
        proto = onnx.load(str(dest / name))
        keep = [o for o in proto.graph.output if o.name not in extra]
        del proto.graph.output[:]
        proto.graph.output.extend(keep)
        onnx.save(proto, str(dest / name))
    return dest


def main() -> None:
    from attnscope.core.inference.engine import Engine

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    rounds = 20 if a.quick else 100
    cfg = DecodeConfig(strategy="beam", beam_size=4)
    with tempfile.TemporaryDirectory() as tmp:
        base = Engine.load(without_norms(Path(tmp) / "b"), threads=1)
        base.with_contributions = False
        norms = Engine.load(None, threads=1)
        norms.with_contributions = False
        full = Engine.load(None, threads=1)
        engines = {"baseline": base, "norms": norms, "full": full}
        for e in engines.values():  # warm up
            for _ in range(3):
                e.inspect(TEXT_12, cfg)
        times: dict[str, list[float]] = {k: [] for k in engines}
        alti_ms: list[float] = []
        for _ in range(rounds):
            for name, e in engines.items():
                t = time.perf_counter()
                ins = e.inspect(TEXT_12, cfg)
                times[name].append((time.perf_counter() - t) * 1e3)
                if name == "full":
                    alti_ms.append(ins.timings_ms["contributions"])
        ins = full.inspect(TEXT_12, cfg)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "text": TEXT_12, "decode": "beam 4", "source_pieces": len(ins.source_pieces),
        "output_pieces": len(ins.target_pieces), "rounds": rounds,
        "inspect": {k: summary(v) for k, v in times.items()},
        "contributions_call": summary(alti_ms),
        "norms_overhead": round(med["norms"] / med["baseline"] - 1, 4),
        "alti_overhead_vs_norms": round(med["full"] / med["norms"] - 1, 4),
        "total_overhead": round(med["full"] / med["baseline"] - 1, 4),
        "goals": {"norms_overhead": "<= 0.10", "alti_overhead": "<= 0.50"},
    }
    print(write("contributions", result))
    for k in ("norms_overhead", "alti_overhead_vs_norms", "total_overhead"):
        print(k, result[k])
    print({k: round(v, 2) for k, v in med.items()}, "ALTI+ call p50", result["contributions_call"]["p50_ms"])


if __name__ == "__main__":
    main()
