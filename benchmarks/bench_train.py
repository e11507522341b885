"""Training: throughput of a preset on this machine, wall time to 98 % and 99 % exact match,
and the final model on the held-out test split and the required pairs.

    .venv/bin/python -m benchmarks.bench_train --run runs/default          # report on a finished run
    .venv/bin/python -m benchmarks.bench_train --train --out runs/bench    # train the default preset, then report
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from attnscope.core.runlog import read_metrics
from benchmarks.common import write


def report(run: Path, wall_s: float | None) -> dict[str, object]:
    import torch

    from attnscope.core.data import required_pairs, required_variants
    from attnscope.core.data.corpus import load_corpus
    from attnscope.core.train import evaluate, load_run_model

    rows = read_metrics(run)
    start = next((r["time"] for r in rows if r["kind"] == "start"), None)
    train_rows = [r for r in rows if r["kind"] == "train"]
    valid = [r for r in rows if r["kind"] == "valid"]
    if start is None and train_rows:
        start = train_rows[0]["time"]
    reach = {}
    for goal in (0.98, 0.99):
        hit = next((r for r in valid if r["exact_match"] >= goal), None)
        reach[f"valid_exact_{round(goal * 100)}"] = None if hit is None else {
            "step": hit["step"], "wall_s": round(hit["time"] - start, 1) if start else None}
    model, tok, cfg = load_run_model(run)
    corpus = load_corpus(None if cfg["data"].get("kind") == "generated" else cfg["data"].get("folder"),
                         run / "data", pairs=cfg["train"]["pairs"], seed=cfg["train"]["seed"])
    t = time.perf_counter()
    test = evaluate(model, tok, corpus.test, torch.device("cpu")) if corpus.test else {}
    req = evaluate(model, tok, [(p.en, p.ko) for p in required_pairs() + required_variants()], torch.device("cpu"))
    return {
        "run": str(run), "preset": cfg.get("preset"), "parameters": cfg.get("parameters"),
        "steps": train_rows[-1]["step"] if train_rows else 0,
        "train_wall_s": round(wall_s, 1) if wall_s else (round(rows[-1]["time"] - start, 1) if start else None),
        "tokens_per_s_median": round(statistics.median(r["tokens_per_s"] for r in train_rows[1:] or train_rows), 1),
        "time_to": reach, "valid_curve": [{k: r[k] for k in ("step", "exact_match", "bleu", "chrf")} for r in valid],
        "test_split": {**test, "sentences": len(corpus.test)}, "required_pairs_greedy": req,
        "eval_s": round(time.perf_counter() - t, 1),
        "goal": "default preset: >= 99 % exact match on the test split and every required pair, in <= 15 min",
    }


def throughput(preset: str, steps: int) -> dict[str, object]:
    """Train ``steps`` steps of a preset from scratch in a scratch folder; tokens/s from the log."""
    import tempfile

    from attnscope.core.train import train

    run = Path(tempfile.mkdtemp(prefix="attnscope-throughput-")) / "run"
    t = time.perf_counter()
    train(preset, run, max_steps=steps, progress=False, overrides={"valid_every": 10**9, "log_every": 10})
    wall = time.perf_counter() - t
    rows = read_metrics(run)
    tps = [r["tokens_per_s"] for r in rows if r["kind"] == "train"][1:]  # the first window includes start-up
    return {"preset": preset, "steps": steps, "wall_s_including_corpus_and_tokenizer": round(wall, 1),
            "tokens_per_s_median": round(statistics.median(tps), 1) if tps else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--throughput", type=int, metavar="STEPS",
                    help="only measure training throughput over STEPS steps (make bench)")
    ap.add_argument("--run", default="runs/default")
    ap.add_argument("--train", action="store_true", help="train the preset into --out first")
    ap.add_argument("--out", default="runs/bench-default")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    if a.throughput:
        path = write(f"train_throughput_{a.preset}", throughput(a.preset, a.throughput))
        print(path.read_text())
        return
    wall = None
    run = Path(a.run)
    if a.train:
        from attnscope.core.train import train

        run = Path(a.out)
        t = time.perf_counter()
        train(a.preset, run)
        wall = time.perf_counter() - t
    result = report(run, wall)
    result["note"] = a.note
    path = write(f"train_{a.preset}", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
