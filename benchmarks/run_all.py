"""`make bench`: run every benchmark, then write the summary table in benchmarks/README.md.

Long training runs are a separate target (`make bench-train`); this reports the last
recorded training result beside the others.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import RESULTS

HERE = Path(__file__).resolve().parent
BENCHES = [
    ["benchmarks.bench_train", "--throughput", "80"],
    ["benchmarks.bench_inference"],
    ["benchmarks.bench_contributions"],
    ["benchmarks.bench_real_size"],
    ["benchmarks.bench_gpu"],
    ["benchmarks.bench_nllb_size", "--verify"],
    ["benchmarks.bench_app"],
    ["benchmarks.stress_inspect"],
]


def _get(d: dict, path: str) -> object:
    for part in path.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def table() -> str:
    rows = []

    def load(name: str) -> dict:
        f = RESULTS / f"{name}.json"
        return json.loads(f.read_text()) if f.exists() else {}

    inf, app, tr, st = load("inference"), load("app"), load("train_default"), load("stress")
    gpu = load("gpu")
    co = load("contributions")
    rs = load("real_size")
    nl = load("nllb_size")
    t1, t2 = "systems.threads_1", "systems.threads_2"
    d12 = "default_model_beam4_full_inspection.threads_1.12_words"
    rows += [
        ("Full inspection, default model, 12 words, beam 4 (1 thread)", _get(inf, f"{d12}.p50_ms"),
         _get(inf, f"{d12}.p95_ms"), "p50 ≤ 10 ms"),
        ("  … 4 words", _get(inf, "default_model_beam4_full_inspection.threads_1.4_words.p50_ms"),
         _get(inf, "default_model_beam4_full_inspection.threads_1.4_words.p95_ms"), ""),
        ("  … 30 words", _get(inf, "default_model_beam4_full_inspection.threads_1.30_words.p50_ms"),
         _get(inf, "default_model_beam4_full_inspection.threads_1.30_words.p95_ms"), ""),
        ("Norm-based attention: added to a 12-word beam-4 inspection", _get(co, "norms_overhead"), None, "≤ 0.10"),
        ("ALTI+ contributions: added to a 12-word beam-4 inspection", _get(co, "alti_overhead_vs_norms"), None,
         "≤ 0.50"),
        ("Base size: onnxruntime / torch eager, same decode and capture", _get(inf, "base_size.ort_over_torch_p50"),
         None, "≤ 0.3"),
        ("Base decode step @60 / @5 (beam 4)", _get(inf, "base_size.step_scaling.ratio_60_over_5"), None, "≤ 1.5"),
        ("Base decode step: bandwidth floor / step time", _get(inf, "base_size.bandwidth.fraction_of_floor"),
         None, "≥ 0.6"),
        ("Marian-base shape, 12 words, beam 4, every attention (ms, 1 / 2 threads)",
         _get(rs, f"{t1}.attnscope_full_inspection.p50_ms"), _get(rs, f"{t2}.attnscope_full_inspection.p50_ms"), ""),
        ("  … over transformers eager generate with attentions (1 / 2 threads)",
         _get(rs, f"{t1}.ratio_vs_transformers"), _get(rs, f"{t2}.ratio_vs_transformers"), "≤ 0.35"),
        ("  … over CTranslate2 fp32 (1 / 2 threads)", _get(rs, f"{t1}.ratio_vs_ctranslate2_fp32"),
         _get(rs, f"{t2}.ratio_vs_ctranslate2_fp32"), "≤ 0.35"),
        ("  … 8-bit mode over CTranslate2 int8 (1 thread)", _get(rs, f"{t1}.ratio_8bit_vs_ctranslate2_int8"),
         None, "≤ 1.0"),
        ("  … decode step: bandwidth floor / step time", _get(rs, "decode_step.fraction_of_floor"), None, "≥ 0.6"),
        ("  … keystroke → first paint in the window (ms)", _get(rs, "window.first_paint.p50_ms"),
         _get(rs, "window.first_paint.p95_ms"), "p50 ≤ 60"),
        ("  … keystroke → complete / inspection time", _get(rs, "window.complete_over_inspection"), None, "≤ 1.2"),
        ("  … memory per inspection (MB)", _get(rs, "memory_per_inspection.total_mb"), None, ""),
        ("  … on CUDA, cache on the device (ms) / speedup over the CPU at 2 threads"
         + (f" ({gpu['skipped']})" if gpu.get("skipped") else ""),
         _get(gpu, "systems.cuda_cache_on_device.p50_ms"), _get(gpu, "systems.cuda_cache_on_device.speedup_vs_cpu"),
         ""),
        ("NLLB-600M shape (vocabulary 256 206): import time (s) / peak RSS of the import (MB)",
         _get(nl, "import.report.import_s"), _get(nl, "import.peak_rss_mb"), "< 24 GB"),
        ("NLLB-1.3B shape: import time (s) / peak RSS of the import (MB), external-data graphs",
         _get(load("nllb_1.3b_import"), "import.report.import_s"),
         _get(load("nllb_1.3b_import"), "import.peak_rss_mb"),
         "< 24 GB"),
        ("NLLB-600M shape: 12 words, beam 4, every attention (ms, 2 threads)", _get(nl, "inspection.p50_ms"),
         _get(nl, "inspection.p95_ms"), ""),
        ("  … memory per inspection (MB) / what whole logit rows would take (MB)",
         _get(nl, "memory_per_inspection.total"), _get(nl, "memory_per_inspection.full_logits_would_be_mb"),
         "bounded"),
        ("  … in the window, ALTI+ on: keystroke → first paint / → complete (ms)",
         _get(nl, "window.first_paint.p50_ms"), _get(nl, "window.complete.p50_ms"), ""),
        ("  … keystroke → complete / the same inspection without the window", _get(nl, "window.complete_over_inspection"),
         None, ""),
        ("  … 8-bit mode: first load with quantising (s) / its peak RSS (MB)", _get(nl, "int8.first_load_s"),
         _get(nl, "int8.peak_rss_mb"), "< 24 GB"),
        ("  … 8-bit mode: inspection with ALTI+ (ms, 2 threads) / attention |Δ| to float, mean",
         _get(nl, "int8.inspection_with_alti.p50_ms"), _get(nl, "int8.attention_difference.mean"), ""),
        ("Keystroke → every visible view repainted (ms)", _get(app, "keystroke_to_repaint.p50_ms"),
         _get(app, "keystroke_to_repaint.p95_ms"), "p50 ≤ 33, p95 ≤ 66"),
        ("Start to first frame (ms)", _get(app, "start_to_first_frame.p50_ms"), None, "≤ 1500"),
        ("RSS growth over the soak", _get(app, "soak.growth"), None, "< 0.10"),
        ("Stress: generated inputs through inspect (greedy, beam, sample)", _get(st, "inputs"), None, "≥ 10 000"),
        ("  … failures (exception, rows not summing to 1, wrong truncation flag)", _get(st, "failures"), None, "0"),
        ("Training, default preset: target tokens/s (80-step probe, make bench)",
         _get(load("train_throughput_default"), "tokens_per_s_median"), None, ""),
        ("Training, default preset: target tokens/s (whole shipped run)", _get(tr, "tokens_per_s_median"), None, ""),
        ("Training wall time to 98 % valid exact match (s)", _get(tr, "time_to.valid_exact_98.wall_s"), None, ""),
        ("Training wall time to 99 % valid exact match (s)", _get(tr, "time_to.valid_exact_99.wall_s"), None, ""),
        ("Training wall time, whole default preset with validation (s)", _get(tr, "train_wall_s"), None, "≤ 900"),
        ("Test split exact match after training", _get(tr, "test_split.exact_match"), None, "≥ 0.99"),
    ]
    machine = inf.get("machine") or app.get("machine") or {}
    lines = ["| measure | p50 / value | p95 | goal |", "|---|---|---|---|"]
    for name, a, b, goal in rows:
        lines.append(f"| {name} | {'—' if a is None else a} | {'' if b is None else b} | {goal} |")
    lines.append("")
    lines.append(f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
                 f"{machine.get('memory_gib', '?')} GiB, GPU: {machine.get('gpu') or 'none'}; "
                 f"onnxruntime {machine.get('onnxruntime', '?')}.")
    return "\n".join(lines)


def write_readme() -> None:
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    start, end = "<!-- summary:start -->", "<!-- summary:end -->"
    block = f"{start}\n{table()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    readme.write_text(text)


def main() -> int:
    t = time.perf_counter()
    failed = []
    for cmd in BENCHES:
        print(f"== {' '.join(cmd)}", flush=True)
        if subprocess.run([sys.executable, "-m", *cmd]).returncode != 0:
            failed.append(cmd[0])
    write_readme()
    print(table())
    print(f"benchmarks took {time.perf_counter() - t:.0f} s" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
