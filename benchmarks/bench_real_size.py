"""Real size: a Marian-base-shaped model through AttnScope, transformers and CTranslate2.

The model has the shape of a Marian base model (d512, 6+6 layers, 8 heads, FFN 2048, a
58 101-piece vocabulary) and random weights, exported by our own exporter. transformers
runs a ``MarianMTModel`` of the same shape, and CTranslate2 (the optional ``[bench]``
extra) converts that model's folder. Every system decodes the same 12-word sentence with
beam 4 for 12 steps, in the same process, with the same thread count; figures are medians.

Also measured in the same run: a decode step against the memory-bandwidth floor, the
8-bit mode against CTranslate2 int8, and keystroke -> first paint / complete in the window.

Run: .venv/bin/python -m benchmarks.bench_real_size [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import interleaved, settle_window, summary, timeit, write

SENTENCE = "The teacher reads a new book and the child drinks the milk."  # 12 words, 12 pieces
STEPS = 12
VOCAB = 58101
SHAPE = {"d_model": 512, "n_heads": 8, "n_encoder_layers": 6, "n_decoder_layers": 6, "d_ff": 2048}


ROUND_NOTE = "systems timed in turn, 3 calls each a round (after 3 untimed), medians over all rounds"
TORCH = ("transformers_eager_generate",)  # torch's OpenMP workers keep spinning after its calls


def word_tokenizer(out: Path) -> Path:
    """A sentencepiece *word* model with exactly VOCAB pieces (trains in a fraction of a second)."""
    import sentencepiece as spm

    from attnscope.core.tokenizer import BOS, EOS, PAD, UNK

    words = list(dict.fromkeys(SENTENCE.split()))
    words += [f"w{i}" for i in range(VOCAB - 4 - len(words))]
    lines = [" ".join(words[i:i + 40]) for i in range(0, len(words), 40)]
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buf, vocab_size=VOCAB,
                                   model_type="word", pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
                                   character_coverage=1.0, num_threads=1, minloglevel=2)
    path = out / "spm.model"
    path.write_bytes(buf.getvalue())
    return path


def attnscope_bundle(out: Path) -> tuple[Any, Any, float]:
    """(ModelConfig, Bundle, export seconds): random weights through our own exporter."""
    import torch

    from attnscope.core.bundle import Bundle
    from attnscope.core.config import ModelConfig
    from attnscope.core.model import Transformer
    from attnscope.core.onnx_export import export_graphs

    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=VOCAB, dropout=0.0, max_len=256, **SHAPE)
    model = Transformer(cfg).eval()
    t0 = time.perf_counter()
    export_graphs(model, out, {})
    export_s = time.perf_counter() - t0
    word_tokenizer(out)
    return cfg, Bundle(out, {}, cfg), export_s


def model_description(cfg: Any) -> str:
    return (f"Marian-base shape: d{cfg.d_model}, {cfg.n_encoder_layers}+{cfg.n_decoder_layers} layers, "
            f"{cfg.n_heads} heads, FFN {cfg.d_ff}, vocabulary {cfg.vocab_size}, random weights")


def marian_folder(out: Path) -> Path:
    """A transformers MarianMTModel folder of the same shape (random weights, safetensors)."""
    import torch
    from transformers import MarianConfig, MarianMTModel

    torch.manual_seed(0)
    cfg = MarianConfig(vocab_size=VOCAB, d_model=SHAPE["d_model"], encoder_layers=SHAPE["n_encoder_layers"],
                       decoder_layers=SHAPE["n_decoder_layers"], encoder_attention_heads=SHAPE["n_heads"],
                       decoder_attention_heads=SHAPE["n_heads"], encoder_ffn_dim=SHAPE["d_ff"],
                       decoder_ffn_dim=SHAPE["d_ff"], max_position_embeddings=256, activation_function="swish",
                       pad_token_id=VOCAB - 1, eos_token_id=0, decoder_start_token_id=VOCAB - 1)
    cfg._attn_implementation = "eager"  # every attention returned, as AttnScope does
    MarianMTModel(cfg).eval().save_pretrained(out)
    return out


class _Vocabulary:
    """What CTranslate2's Marian loader reads from a tokenizer: the pieces and two specials."""

    eos_token, unk_token = "</s>", "<unk>"

    def get_vocab(self) -> dict[str, int]:
        pieces = ["</s>", "<unk>"] + [f"p{i}" for i in range(VOCAB - 3)] + ["<pad>"]
        return {p: i for i, p in enumerate(pieces)}


def ctranslate2_model(marian: Path, out: Path, quantization: str | None) -> Path | None:
    """Convert the Marian folder (None when CTranslate2 is not installed)."""
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError:
        return None

    class Converter(TransformersConverter):
        def load_tokenizer(self, *_args: Any, **_kwargs: Any) -> _Vocabulary:  # no tokenizer files needed
            return _Vocabulary()

    Converter(str(marian)).convert(str(out), quantization=quantization, force=True)
    return out


def bandwidth_floor(step_bytes: int, repeat: int, step: Any = None) -> dict[str, Any]:
    """The fastest a step can be: its weight bytes at the best streaming rate measured now.

    With ``step`` (a callable running one decoder step) the step and the two streaming
    probes take turns in blocks, so a machine that speeds up or slows down during the run
    moves both sides of the ratio alike; the step's own summary is returned as well. Blocks,
    not single samples: BLAS threads keep spinning after a mat-vec and would slow the step
    timed right after it, so every block starts with untimed calls."""
    w = np.random.default_rng(1).standard_normal((step_bytes // 4 // 4096, 4096)).astype(np.float32)
    x = np.ones((4096,), np.float32)
    probes = {"matvec": lambda: w @ x, "sum": lambda: w.sum(axis=0)}  # BLAS mat-vec (every core); one-core sum
    if step is not None:
        probes["step"] = step
    blocks = 4
    times = interleaved(probes, repeat, per_round=max(1, repeat // blocks), warmup=0, warmup_each_round=3)
    mv, sm = (float(np.median(times[k])) / 1e3 for k in ("matvec", "sum"))
    bw = w.nbytes / min(mv, sm)
    out: dict[str, Any] = {
        "step_weight_mb": round(step_bytes / 1e6, 1), "matvec_gb_s": round(w.nbytes / mv / 1e9, 2),
        "sum_gb_s": round(w.nbytes / sm / 1e9, 2), "best_gb_s": round(bw / 1e9, 2),
        "floor_ms": round(step_bytes / bw * 1e3, 2)}
    if step is not None:
        out["step"] = summary(times["step"])
    return out


def decoder_step_bytes(cfg: Any) -> int:
    """Float32 weights one decoder step reads: the decoder (cross K/V are computed once per
    sentence by the encoder graph) and the output projection."""
    d, f, layers = cfg.d_model, cfg.d_ff, cfg.n_decoder_layers
    per_layer = 4 * (d * d + d) + 2 * (d * d + d) + (d * f + f + f * d + d) + 3 * 2 * d  # self, cross q/o, FFN, norms
    return 4 * (layers * per_layer + cfg.vocab_size * d + cfg.vocab_size)


def inspection_bytes(ins: Any) -> dict[str, float]:
    """What one Inspection holds (nbytes of its arrays; core.inference.logits keeps whole
    rows up to 64k pieces, so at this vocabulary the per-step logits dominate)."""
    from attnscope.core.inference.inspection import inspection_nbytes

    parts = inspection_nbytes(ins)
    rows = sum(len(r.node_ids) for r in ins.steps)
    return {**{f"{k}_mb": round(v / 1e6, 2) for k, v in parts.items()}, "logit_rows": rows}


def window_latency(engine: Any, keys: int, decode: dict[str, Any] | None = None) -> dict[str, Any]:
    """Type the sentence key by key into the real window: keystroke -> first paint / complete.

    ``decode``: the window's decode settings (default beam 4, STEPS steps)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from attnscope.app import theme
    from attnscope.app.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    theme.apply("dark", app)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(engine, settings)
    window.resize(1280, 800)
    window.show()
    ctrl = window.controller
    ctrl.set_config(ctrl.config.replace(**(decode or {"strategy": "beam", "beam_size": 4, "max_len": STEPS})))

    def settle() -> None:
        settle_window(app, window, 30)

    start = "The teacher"
    window.start(start)
    settle()
    edit = window.sentence.source
    edit.setFocus()
    first, complete, engine_ms, alone = [], [], [], []
    while len(complete) < keys:
        if len(edit.text()) >= len(SENTENCE):  # start again: the next keystrokes extend it anew
            edit.setText(start)
            settle()
        n_first, n_done = len(ctrl.first_paint_ms), len(ctrl.latencies_ms)
        QTest.keyClick(edit, SENTENCE[len(edit.text())])
        settle()
        if len(ctrl.latencies_ms) > n_done and len(ctrl.first_paint_ms) > n_first:
            first.append(ctrl.first_paint_ms[-1])
            complete.append(ctrl.latencies_ms[-1])
            engine_ms.append(window.state.inspection.timings_ms.get("total", 0.0))
            # The same decode with no window around it, right now: the ratio's other side.
            cfg, text = ctrl.config.replace(forced_prefix=()), edit.text()
            alone += timeit(lambda c=cfg, t=text: engine.inspect(t, c), 1, warmup=0)
    ctrl.shutdown()
    window.close()
    return {"first_paint": summary(first), "complete": summary(complete), "engine_total": summary(engine_ms),
            "inspection_alone": summary(alone),
            "complete_over_inspection": round(float(np.median(complete)) / float(np.median(alone)), 3),
            "window": "1280x800 offscreen, dark theme, default panels; each keystroke followed by the same "
                      "inspection without the window (inspection_alone), the ratio's denominator"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    repeat = 5 if a.quick else 15
    import torch

    from attnscope.core.config import DecodeConfig
    from attnscope.core.inference.engine import Engine, OrtRunner
    from attnscope.core.snapshot_export import quantize_8bit
    from attnscope.core.tokenizer import Tokenizer

    tmp = Path(tempfile.mkdtemp(prefix="attnscope-real-size-"))
    (tmp / "float").mkdir()
    cfg, bundle, export_s = attnscope_bundle(tmp / "float")
    tok = Tokenizer.load(tmp / "float" / "spm.model")
    q8 = tmp / "int8"
    q8.mkdir()
    from attnscope.core.inference.int8 import weights_for_this_cpu

    weights8 = weights_for_this_cpu()  # what the window's 8-bit mode quantises to here
    for name in ("encoder.onnx", "decoder.onnx"):
        quantize_8bit(tmp / "float" / name, q8 / name, weights8)
    (q8 / "spm.model").write_bytes((tmp / "float" / "spm.model").read_bytes())
    from attnscope.core.bundle import Bundle

    bundle8 = Bundle(q8, {}, cfg)
    marian = marian_folder(tmp / "marian")
    ct2 = {q: ctranslate2_model(marian, tmp / f"ct2-{q}", None if q == "float32" else q) for q in ("float32", "int8")}
    from transformers import MarianMTModel

    hf = MarianMTModel.from_pretrained(marian, attn_implementation="eager").eval()
    dcfg = DecodeConfig(strategy="beam", beam_size=4, max_len=STEPS)
    src_ids = torch.tensor([tok.encode(SENTENCE) + [3]])
    res: dict[str, Any] = {
        "model": model_description(cfg),
        "task": f"{len(SENTENCE.split())} words ({src_ids.shape[1]} source pieces with EOS), beam 4, {STEPS} steps",
        "export_s": round(export_s, 2), "int8_weights": weights8, "load_average_at_start": round(os.getloadavg()[0], 2), "systems": {}}
    engines = {}
    for threads in (1, 2):
        # Each round: onnxruntime float and 8-bit, CTranslate2, then transformers, whose torch
        # OpenMP workers keep spinning after its calls (``interleaved`` pauses after it).
        eng = Engine(bundle, tok, OrtRunner(bundle, threads, want_cuda=False), "CPU")
        engines[threads] = eng
        ins = eng.inspect(SENTENCE, dcfg)
        res["memory_per_inspection"] = inspection_bytes(ins)
        eng8 = Engine(bundle8, tok, OrtRunner(bundle8, threads, want_cuda=False), "CPU")
        systems: dict[str, Any] = {"attnscope_full_inspection": lambda e=eng: e.inspect(SENTENCE, dcfg),
                                   "attnscope_8bit": lambda e=eng8: e.inspect(SENTENCE, dcfg)}
        steps = {"attnscope_full_inspection": len(ins.steps)}
        for q, path in ct2.items():
            if path is None:
                continue
            import ctranslate2

            tr = ctranslate2.Translator(str(path), device="cpu", compute_type=q, intra_threads=threads,
                                        inter_threads=1)
            tokens = [[f"p{i - 2}" for i in src_ids[0, :-1].tolist()]]

            def run(t=tr, s=tokens) -> Any:
                return t.translate_batch(s, beam_size=4, max_decoding_length=STEPS, min_decoding_length=STEPS,
                                         return_attention=True, return_scores=True)
            systems[f"ctranslate2_{q}"] = run
            steps[f"ctranslate2_{q}"] = len(run()[0].hypotheses[0])
        torch.set_num_threads(threads)

        def generate() -> Any:
            with torch.inference_mode():
                return hf.generate(input_ids=src_ids, attention_mask=torch.ones_like(src_ids), num_beams=4,
                                   max_new_tokens=STEPS, min_new_tokens=STEPS, do_sample=False,
                                   output_attentions=True, output_scores=True, return_dict_in_generate=True)
        systems["transformers_eager_generate"] = generate
        steps["transformers_eager_generate"] = len(generate().cross_attentions)
        times = interleaved(systems, repeat, pause_after=TORCH)
        row: dict[str, Any] = {name: {**summary(ms), **({"steps": steps[name]} if name in steps else {})}
                               for name, ms in times.items()}
        ours = row["attnscope_full_inspection"]["p50_ms"]
        row["ratio_vs_transformers"] = round(ours / row["transformers_eager_generate"]["p50_ms"], 3)
        if "ctranslate2_float32" in row:
            row["ratio_vs_ctranslate2_fp32"] = round(ours / row["ctranslate2_float32"]["p50_ms"], 3)
        if "ctranslate2_int8" in row:
            row["ratio_8bit_vs_ctranslate2_int8"] = round(row["attnscope_8bit"]["p50_ms"]
                                                          / row["ctranslate2_int8"]["p50_ms"], 3)
        row["interleaved"] = ROUND_NOTE
        res["systems"][f"threads_{threads}"] = row
        print(json.dumps({f"threads_{threads}": row}), flush=True)

    # The 8-bit graphs' attention against float, on the float decode's own path.
    ref = engines[1].inspect(SENTENCE, dcfg)
    forced = dcfg.replace(forced_prefix=tuple(int(t) for t in ref.best.target_ids))
    q = Engine(bundle8, tok, OrtRunner(bundle8, 1, want_cuda=False), "CPU").inspect(SENTENCE, forced)
    diffs = {k: np.abs(getattr(ref, a) - getattr(q, a)) for k, a in
             (("encoder", "encoder_attention"), ("decoder", "decoder_attention"), ("cross", "cross_attention"))}
    res["int8_attention_difference"] = {k: {"mean": float(f"{d.mean():.3g}"), "max": float(f"{d.max():.3g}")}
                                        for k, d in diffs.items()}

    # A decode step (beam 4, prefix 5) against the memory-bandwidth floor.
    best_t = min((1, 2), key=lambda t: res["systems"][f"threads_{t}"]["attnscope_full_inspection"]["p50_ms"])
    run = engines[best_t].runner
    s = np.array([tok.encode(SENTENCE) + [3]], np.int64)
    enc = run.encode(s, np.ones_like(s))
    k = 4
    ck, cv = np.repeat(enc.cross_k, k, 1), np.repeat(enc.cross_v, k, 1)
    mask = np.ones((k, s.shape[1]), np.int64)
    tok4 = np.full((k, 1), 10, np.int64)
    past = np.random.default_rng(0).standard_normal((cfg.n_decoder_layers, k, cfg.n_heads, 5, cfg.d_k)).astype(np.float32)
    floor = bandwidth_floor(decoder_step_bytes(cfg), repeat * 4,
                            step=lambda: run.step(tok4, np.array([5], np.int64), mask, ck, cv, past, past))
    step = floor.pop("step")
    res["decode_step"] = {"threads": best_t, **step, **floor, "interleaved": True,
                          "fraction_of_floor": round(floor["floor_ms"] / step["p50_ms"], 3)}

    # The window on this model: keystroke -> first paint and -> complete.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    res["window"] = window_latency(engines[best_t], 8 if a.quick else 24)
    res["goals"] = {"ratio_vs_transformers": 0.35, "ratio_vs_ctranslate2_fp32": 0.35, "fraction_of_floor": 0.6,
                    "ratio_8bit_vs_ctranslate2_int8_1_thread": 1.0, "first_paint_p50_ms": 60,
                    "complete_over_inspection": 1.2}
    res["load_average_at_end"] = round(os.getloadavg()[0], 2)  # other work on the machine skews all of it
    res["nllb_600m_shape"] = "see nllb_size.json (benchmarks/bench_nllb_size.py)"
    path = write("real_size", res)
    print(path.read_text())


if __name__ == "__main__":
    sys.exit(main())
