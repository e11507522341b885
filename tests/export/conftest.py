"""Fixtures for the figure export: a deterministic FakeEngine inspection, a synthetic
training log, and (for the few end-to-end tests) a tiny model trained in seconds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from attnscope.core.config import DecodeConfig

SENTENCE = "I love you."  # in the generated grammar; the FakeEngine translates it as the gold does


@pytest.fixture(scope="session")
def fake_engine():
    from attnscope.app.testing import FakeEngine

    return FakeEngine()


@pytest.fixture(scope="session")
def ins(fake_engine):
    """Beam-4 inspection of SENTENCE from the seeded FakeEngine: identical on every run."""
    return fake_engine.inspect(SENTENCE, DecodeConfig(strategy="beam", beam_size=4))


def write_metrics(path: Path, steps: int = 40) -> Path:
    """A deterministic metrics.jsonl: a start line, train lines, valid lines, a resume and
    a half-written last line (as while training runs)."""
    lines = [{"kind": "start", "step": 0, "time": 0.0, "preset": "tiny"}]
    for s in range(1, steps + 1):
        step = 10 * s
        lines.append({"kind": "train", "step": step, "loss": 6.0 * math.exp(-step / 120) + 1.0,
                      "ppl": math.exp(6.0 * math.exp(-step / 120) + 1.0),
                      "lr": 1e-3 * min(step / 100, (100 / step) ** 0.5), "grad_norm": 3.0 / (1 + step / 50),
                      "layer_grad_norm": {"embed": 1.0 / (1 + step / 80), "encoder.0": 0.5 / (1 + step / 90),
                                          "decoder.0": 0.7 / (1 + step / 70)},
                      "update_ratio": 1e-3 if step > 10 else None, "tokens_per_s": 5000.0, "time": float(step)})
        if step % 100 == 0:
            lines.append({"kind": "valid", "step": step, "bleu": 90 * (1 - math.exp(-step / 150)),
                          "chrf": 95 * (1 - math.exp(-step / 120)),
                          "exact_match": 0.9 * (1 - math.exp(-step / 200)),
                          "valid_loss": 5.0 * math.exp(-step / 150) + 1.5, "time": float(step)})
        if step == 200:
            lines.append({"kind": "start", "step": 200, "time": 200.0, "resumed": True})
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(json.dumps(rec) for rec in lines) + '\n{"kind": "train", "st'
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def metrics_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding only the synthetic metrics.jsonl."""
    run = tmp_path_factory.mktemp("metrics") / "run"
    write_metrics(run / "metrics.jsonl")
    return run



CORPUS = ("I love you.", "She eats an apple.", "The dog sees the cat.", "He reads a book.")


def source_for(view: str, ins, metrics_run: Path, fake_engine=None):
    """What each view draws from: the inspection, the synthetic run, the shipped bundle's
    heads.json, a few FakeEngine sentences, or the inspection as three "snapshots"."""
    from attnscope.export.figures import REGISTRY

    source = REGISTRY[view].source
    if source == "run":
        return metrics_run
    if source == "heads":
        return None  # the shipped bundle
    if source == "corpus":
        from attnscope.app.testing import FakeEngine

        engine = fake_engine or FakeEngine()
        return [engine.inspect(s, DecodeConfig(strategy="greedy", beam_size=1)) for s in CORPUS]
    if source == "snapshots":
        return [("step 0", ins), ("step 120", ins), ("step 1200", ins)]
    if view == "contributions":  # ALTI+ needs a real model's contributions.onnx: the shipped one
        from attnscope.core.inference.engine import Engine

        return Engine.load(None).inspect(SENTENCE, DecodeConfig(strategy="beam", beam_size=4))
    return ins


@pytest.fixture(scope="session")
def source_of(ins, metrics_run, fake_engine):
    """``source_of(view)``: the source every test draws that view from."""
    cache: dict[str, object] = {}

    def get(view: str):
        if view not in cache:
            cache[view] = source_for(view, ins, metrics_run, fake_engine)
        return cache[view]

    return get
