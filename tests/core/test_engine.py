"""The onnxruntime engine: no torch, the Inspection's shapes and numbers, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from attnscope.core.config import DecodeConfig


def test_importing_the_engine_does_not_import_torch(tiny_bundle: Path) -> None:
    code = ("import sys; from attnscope.core.inference.engine import Engine; "
            f"e = Engine.load({str(tiny_bundle)!r}); e.inspect('I love you'); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("strategy", ["greedy", "beam", "sample"])
def test_inspection_shapes_and_distributions(tiny_bundle: Path, strategy: str) -> None:
    from attnscope.core.inference.engine import Engine

    engine = Engine.load(tiny_bundle)
    assert engine.provider in ("CPU", "CUDA")
    m = engine.model_config
    ins = engine.inspect("The dog runs in the park.", DecodeConfig(strategy=strategy, max_len=10))
    s, t = len(ins.source_pieces), len(ins.target_pieces)
    assert ins.source_pieces[-1] == "</s>" and s == len(ins.source_ids)
    assert ins.encoder_attention.shape == (m.n_encoder_layers, m.n_heads, s, s)
    assert ins.decoder_attention.shape == (m.n_decoder_layers, m.n_heads, t, t)
    assert ins.cross_attention.shape == (m.n_decoder_layers, m.n_heads, t, s)
    assert ins.step_logits.dense_values().shape == (t, m.vocab_size)
    for a in (ins.encoder_attention, ins.cross_attention):
        np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
    # Decoder self-attention is causal: the graph's own row at step t has exactly the t + 1
    # keys fed so far and sums to 1 over them (test_oracles checks every value).
    for step, rec in enumerate(ins.steps):
        assert rec.self_attention.shape[-1] == step + 1
        np.testing.assert_allclose(rec.self_attention.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(ins.decoder_attention.sum(-1), 1.0, atol=1e-5)
    # The tree holds the chosen hypothesis: following parents from it spells its pieces.
    best = ins.hypotheses[0]
    assert list(best.tokens) == ins.best.target_ids.tolist()
    assert all(n.parent < n.id for n in ins.nodes[1:])
    assert ins.timings_ms["total"] > 0


def test_every_tree_node_reaches_its_attention(tiny_bundle: Path) -> None:
    from attnscope.core.inference.engine import Engine

    ins = Engine.load(tiny_bundle).inspect("I love you", DecodeConfig(beam_size=3, max_len=8))
    for node in ins.nodes[1:]:
        path = ins.path(node.id)
        assert len(path.target_pieces) == node.step
        assert path.cross_attention.shape[2] == node.step
        # The logits row that chose this node gives it the recorded log-probability.
        row = path.step_logits.dense_values()[-1].astype(np.float64)
        logp = row[node.token] - (np.log(np.exp(row - row.max()).sum()) + row.max())
        assert abs(logp - node.logprob) < 1e-4


def test_forced_prefix_is_honoured(tiny_bundle: Path) -> None:
    from attnscope.core.inference.engine import Engine

    engine = Engine.load(tiny_bundle)
    forced = engine.tokenizer.encode("너는")[-1]
    for strategy in ("greedy", "beam", "sample"):
        cfg = DecodeConfig(strategy=strategy, forced_prefix=(forced,), max_len=6)
        ins = engine.inspect("I love you", cfg)
        assert int(ins.best.target_ids[0]) == forced
        assert ins.target_pieces[0] == engine.piece(forced)
        assert ins.nodes[1].forced


def test_bad_input_never_raises(tiny_bundle: Path) -> None:
    from attnscope.core.inference.engine import Engine

    engine = Engine.load(tiny_bundle)
    empty = engine.inspect("", DecodeConfig())
    assert empty.translation == "" and empty.is_empty and not empty.truncated_input
    assert engine.inspect("   \t ", DecodeConfig()).is_empty
    long = engine.inspect("dog " * 500, DecodeConfig(max_len=4))
    assert long.truncated_input and len(long.source_pieces) == engine.model_config.max_len
    odd = engine.inspect("I love 🦄 you\u200f\u0301 ünïcode 中文 \x07", DecodeConfig(max_len=4))
    # Byte fallback: no piece is <unk>, every character survives as pieces or bytes.
    assert "<unk>" not in odd.source_pieces
    assert any(p.startswith("<0x") for p in odd.source_pieces)


def test_inspect_cli_prints_the_json_keys(tiny_bundle: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "attnscope", "inspect", "--bundle", str(tiny_bundle),
                          "I love you", "--beam", "2", "--max-len", "5", "--json"],
                         capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    for key in ("translation", "source_pieces", "target_pieces", "encoder_self_attention",
                "decoder_self_attention", "cross_attention", "beam_tree", "step_logits", "timings_ms"):
        assert key in data
    assert len(data["beam_tree"]) >= 2 and data["beam_tree"][0]["parent"] == -1


def test_translate_cli_one_line_per_input(tiny_bundle: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "attnscope", "translate", "--bundle", str(tiny_bundle),
                          "--max-len", "5"], input="I love you\n\nShe eats an apple.\n",
                         capture_output=True, text=True, check=True)
    assert len(out.stdout.splitlines()) == 3


def test_a_finished_inspection_leaves_no_thread_spinning() -> None:
    """The sessions' pool threads may spin between a run's kernels, never after it: an idle
    engine (a window between keystrokes, a notebook between cells) takes no CPU time.
    onnxruntime's own default spins on for tens of milliseconds after every run. Measured
    in a fresh process: this one holds other tests' threads."""
    code = """
import time
from attnscope.core.inference.engine import Engine
engine = Engine.load(None, threads=2)
for _ in range(3):
    engine.inspect("The teacher reads a new book and the child drinks the milk.")
cpu = time.process_time()
time.sleep(0.4)
print(time.process_time() - cpu)
"""
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert float(out.stdout.strip()) < 0.02


def test_threads_follow_the_model_size_and_never_exceed_the_cores(monkeypatch) -> None:
    """One thread for a small model, two from base size on, but one where the process may
    run on a single core (a one-CPU container): checked in a process pinned to one core."""
    from attnscope.core.inference.engine import default_threads

    monkeypatch.delenv("ATTNSCOPE_THREADS", raising=False)  # the defaults, not a user's choice
    assert default_threads(256) == 1
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "from attnscope.core.inference.engine import default_threads; "
            "print(default_threads(256), default_threads(512), default_threads(1024))")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         env={k: v for k, v in os.environ.items() if k != "ATTNSCOPE_THREADS"})
    assert out.stdout.split() == ["1", "1", "1"]
    if len(os.sched_getaffinity(0)) >= 2:
        assert default_threads(512) == default_threads(1024) == 2


def test_the_thread_count_can_be_set_and_a_bad_one_is_one_line(tiny_bundle: Path, monkeypatch) -> None:
    """``ATTNSCOPE_THREADS`` sets every engine's intra-op threads (a machine with more cores
    than the defaults were measured on); a value that is not a count stops with one line."""
    from attnscope.core.inference.engine import Engine

    monkeypatch.setenv("ATTNSCOPE_THREADS", "3")
    engine = Engine.load(tiny_bundle)
    sessions = [engine.runner.encoder, engine.runner.decoder]  # type: ignore[attr-defined]
    assert [s.get_session_options().intra_op_num_threads for s in sessions] == [3, 3]
    for bad in ("two", "0", "-1", "1.5"):
        env = {**os.environ, "ATTNSCOPE_THREADS": bad}
        out = subprocess.run([sys.executable, "-m", "attnscope", "translate", "--bundle", str(tiny_bundle)],
                             input="I love you\n", capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 2 and out.stdout == ""
        assert out.stderr.strip().count("\n") == 0 and "ATTNSCOPE_THREADS" in out.stderr, out.stderr
