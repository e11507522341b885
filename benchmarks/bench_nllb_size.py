"""NLLB-600M size: import time, peak memory, inspection time, memory per inspection,
keystroke -> first paint / complete in the window, and the 8-bit mode's first load.

The model has the shape of NLLB-200-distilled-600M (d1024, 12+12 layers, 16 heads, FFN
4096, a 256 206-piece vocabulary) and random weights, built offline from ``M2M100Config``
with a word-level ``tokenizer.json`` that covers every id. It is built once into a cache
folder outside the repository (``$ATTNSCOPE_BENCH_CACHE``, default
``~/.cache/attnscope-bench``), then ``attnscope import`` runs in a child process whose peak
resident memory is read from the kernel (``ru_maxrss`` of the child).

Run: .venv/bin/python -m benchmarks.bench_nllb_size [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import summary, timeit, write

SENTENCE = "The teacher reads a new book and the child drinks the milk."  # 12 words
VOCAB = 256_206
SHAPES = {  # NLLB-200-distilled-600M, and NLLB-200-1.3B (the size the import must fit in 24 GB)
    "600m": {"d_model": 1024, "encoder_layers": 12, "decoder_layers": 12, "encoder_attention_heads": 16,
             "decoder_attention_heads": 16, "encoder_ffn_dim": 4096, "decoder_ffn_dim": 4096},
    "1.3b": {"d_model": 1024, "encoder_layers": 24, "decoder_layers": 24, "encoder_attention_heads": 16,
             "decoder_attention_heads": 16, "encoder_ffn_dim": 8192, "decoder_ffn_dim": 8192},
}
LANGS = ("eng_Latn", "deu_Latn", "fra_Latn", "kor_Hang")
CACHE = Path(os.environ.get("ATTNSCOPE_BENCH_CACHE") or Path.home() / ".cache" / "attnscope-bench")


def word_tokenizer(folder: Path) -> None:
    """A word-level tokenizer.json with exactly VOCAB pieces: specials, the sentence's words,
    filler words, and NLLB's language codes as added tokens at the end."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    words = ["▁" + w for w in dict.fromkeys(SENTENCE.replace(".", " .").split())]
    fill = VOCAB - len(specials) - len(words) - len(LANGS) - 1  # - <mask>
    vocab = {p: i for i, p in enumerate(specials + words + [f"▁w{i}" for i in range(fill)])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.add_special_tokens([*specials, *LANGS, "<mask>"])
    assert tok.get_vocab_size(with_added_tokens=True) == VOCAB
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "NllbTokenizer", "src_lang": "eng_Latn", "tgt_lang": "deu_Latn", "bos_token": "<s>",
        "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>"}))


def nllb_folder(size: str = "600m", shards: bool = True) -> Path:
    """The Hugging Face folder (built once, then reused from the cache)."""
    folder = CACHE / f"nllb-{size}-shape"
    if (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file():
        return folder
    import torch
    from transformers import GenerationConfig, M2M100Config, M2M100ForConditionalGeneration

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    torch.manual_seed(0)
    cfg = M2M100Config(vocab_size=VOCAB, max_position_embeddings=1024, pad_token_id=1, bos_token_id=0,
                       eos_token_id=2, decoder_start_token_id=2, activation_function="relu", dropout=0.0,
                       scale_embedding=True, tie_word_embeddings=True, **SHAPES[size])
    model = M2M100ForConditionalGeneration(cfg).eval()
    # max_length 16, not the published 200: random weights rarely end a sentence, and
    # `--verify` would run generate() for 200 steps per sentence.
    model.generation_config = GenerationConfig(decoder_start_token_id=2, bos_token_id=0, eos_token_id=2,
                                               pad_token_id=1, max_length=16, num_beams=4)
    # Sharded like the published checkpoints once over a size, so the index path is measured.
    model.save_pretrained(partial, max_shard_size="1GB" if shards else "100GB")
    del model
    word_tokenizer(partial)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


# Runs in a fresh process: the import with a progress callback that notes the resident
# memory at every phase (current from /proc/self/statm, peak from getrusage).
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from attnscope.core.convert.importer import import_hf
phases, t0 = [], time.perf_counter()
def say(msg):
    with open("/proc/self/statm") as f:
        cur = int(f.read().split()[1]) * resource.getpagesize()
    phases.append({"phase": msg, "at_s": round(time.perf_counter() - t0, 1), "rss_mb": round(cur / 2**20),
                   "peak_rss_mb_so_far": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)})
report = import_hf(sys.argv[1], Path(sys.argv[2]), verify=sys.argv[3] == "1", progress=say,
                   sentences=sys.argv[4:] or None)
say("done")
print("RESULT " + json.dumps({"report": report, "phases": phases}))
"""


# The 8-bit mode from a cold cache, in a fresh process: quantising, loading both engines and
# measuring the attention difference, then inspections with ALTI+ (what the window runs).
CHILD_INT8 = r"""
import json, os, resource, sys, tempfile, time
cache = tempfile.mkdtemp(prefix="attnscope-int8-bench-")
os.environ["XDG_CACHE_HOME"] = cache
from attnscope.core.inference.engine import Engine
t0 = time.perf_counter()
engine = Engine.load(sys.argv[1], precision="int8", device="cpu", threads=2)
load_s = time.perf_counter() - t0
cfg = engine.decode_defaults().replace(strategy="beam", beam_size=4, max_len=12, min_length=13)
engine.inspect(sys.argv[2], cfg)
ms = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    engine.inspect(sys.argv[2], cfg)
    ms.append((time.perf_counter() - t) * 1e3)
import shutil
shutil.rmtree(cache, ignore_errors=True)
print("RESULT " + json.dumps({"load_s": load_s, "ms": ms, "difference": engine.int8_difference,
                              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_int8(bundle: Path, repeat: int) -> dict[str, Any]:
    """The 8-bit mode in a fresh process with an empty cache: the first load (quantising
    included), its peak resident memory, and inspections with ALTI+ on two threads."""
    proc = subprocess.run([sys.executable, "-P", "-c", CHILD_INT8, str(bundle), SENTENCE, str(repeat)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"8-bit load failed: {proc.stderr.strip().splitlines()[-3:]}")
    res = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[7:])
    d = res["difference"]
    return {"first_load_s": round(res["load_s"], 1), "peak_rss_mb": round(res["peak_rss_mb"]),
            "inspection_with_alti": {**summary(res["ms"]), "threads": 2},
            "attention_difference": {"mean": round(d["mean"], 5), "max": round(d["max"], 4)},
            "note": "fresh process, empty cache: the first load quantises both graphs, opens the float and "
                    "8-bit engines and measures their attention difference on probe sentences"}


def run_import(folder: Path, out: Path, verify: bool, sentences: list[str] | None = None) -> dict[str, Any]:
    """`import_hf` in a fresh process: wall time, resident memory per phase and its peak."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-P", "-c", CHILD, str(folder), str(out), "1" if verify else "0",
                           *(sentences or [])], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"import failed: {proc.stderr.strip().splitlines()[-3:]}")
    res = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[7:])
    return {"wall_s": round(wall, 1), "peak_rss_mb": max(p["peak_rss_mb_so_far"] for p in res["phases"]),
            "phases": res["phases"], "report": res["report"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--verify", action="store_true", help="import with --verify (then loads transformers)")
    ap.add_argument("--size", choices=sorted(SHAPES), default="600m",
                    help="600m: the recorded benchmark; 1.3b: the import only, its time and memory")
    a = ap.parse_args()
    repeat = 3 if a.quick else 7
    t0 = time.perf_counter()
    # Built in a child process: a forked child starts with its parent's peak RSS (ru_maxrss),
    # so this process stays small for the import's peak to be the import's own.
    subprocess.run([sys.executable, "-c", f"from benchmarks.bench_nllb_size import nllb_folder; "
                    f"nllb_folder({a.size!r})"], check=True)
    folder = nllb_folder(a.size)
    build_s = time.perf_counter() - t0
    out = CACHE / f"nllb-{a.size}-shape.bundle"
    res: dict[str, Any] = {
        "model": f"NLLB-{a.size.upper()} shape: {json.dumps(SHAPES[a.size])}, vocabulary {VOCAB}, random "
                 "weights (M2M100Config), sharded safetensors",
        "machine_note": "load averages at start and end: above about 1 on 2 cores, other work shared the "
                        "machine and the times are upper bounds",
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "hf_folder_bytes": sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
        "hf_folder_build_s": round(build_s, 1)}
    # With --verify the same run goes on to `import --verify` (the bundle against transformers);
    # its phases show the resident memory before and after the bundle is released.
    res["import"] = run_import(folder, out, verify=a.verify, sentences=[SENTENCE, "The child reads."])
    res["bundle_files_mb"] = {p.name: round(p.stat().st_size / 1e6, 1) for p in sorted(out.iterdir()) if p.is_file()}
    if a.size != "600m":  # the import is what is measured at this size
        print(write(f"nllb_{a.size}_import", res).read_text())
        return

    from attnscope.core.inference.engine import Engine

    t1 = time.perf_counter()
    engine = Engine.load(out, device="cpu", threads=2)
    res["engine_load_s"] = round(time.perf_counter() - t1, 1)
    engine.with_contributions = False  # ALTI+ is timed on its own below
    dcfg = engine.decode_defaults().replace(strategy="beam", beam_size=4, max_len=12, min_length=13)
    ins = engine.inspect(SENTENCE, dcfg)
    res["inspection"] = {**summary(timeit(lambda: engine.inspect(SENTENCE, dcfg), repeat, warmup=1)),
                         "source_pieces": len(ins.source_ids), "steps": len(ins.steps), "threads": 2}
    res["memory_per_inspection"] = inspection_memory(ins)
    src, tgt = ins.source_ids, ins.best.target_ids
    res["alti_contributions"] = summary(timeit(lambda: engine.contributions(src, tgt), repeat, warmup=1))

    # The window on this model, ALTI+ on as a user gets it: keystroke -> first paint (the
    # encoder and step 1) and -> complete, against the same inspection without the window.
    from benchmarks.bench_real_size import window_latency

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    engine.with_contributions = True
    res["window"] = {**window_latency(engine, 6 if a.quick else 16,
                                      {"strategy": "beam", "beam_size": 4, "max_len": 12, "min_length": 13}),
                     "alti_contributions": True}
    engine = None  # released: the 8-bit run below has the machine's memory to itself
    gc.collect()
    res["int8"] = run_int8(out, repeat)
    res["load_average_at_end"] = round(os.getloadavg()[0], 2)
    path = write("nllb_size", res)
    print(path.read_text())


def inspection_memory(ins: Any) -> dict[str, Any]:
    """The arrays one Inspection holds, by kind (nbytes, not RSS)."""
    from attnscope.core.inference.inspection import inspection_nbytes

    parts = inspection_nbytes(ins)
    rows = sum(len(r.node_ids) for r in ins.steps)
    vocab = ins.steps[0].logits.vocab_size if ins.steps else 0
    return {**{k: round(v / 1e6, 3) for k, v in parts.items()}, "unit": "MB", "logit_rows": rows,
            "full_logits_would_be_mb": round(rows * vocab * 4 / 1e6, 1)}


if __name__ == "__main__":
    sys.exit(main())
