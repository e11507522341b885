"""Faults and hostile input: NaN loss, a kill during a checkpoint write, arbitrary text."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attnscope.core.config import DecodeConfig
from attnscope.core.runlog import read_metrics
from attnscope.core.train import TrainingError, train

FAST = {"pairs": 1500, "log_every": 1, "valid_every": 1000, "checkpoint_every": 4, "batch_tokens": 512}


def losses(run: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_metrics(run) if r["kind"] == "train"}


def test_nan_loss_stops_with_a_message_and_keeps_the_checkpoint(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import attnscope.core.train as tr

    real = tr.LabelSmoothingLoss.forward
    calls = {"n": 0}

    def poisoned(self, logits, target):  # noqa: ANN001, ANN202
        calls["n"] += 1
        out = real(self, logits, target)
        return out * float("nan") if calls["n"] == 6 else out

    monkeypatch.setattr(tr.LabelSmoothingLoss, "forward", poisoned)
    run = tmp_path / "run"
    with pytest.raises(TrainingError, match="loss became nan at step 6"):
        train("tiny", run, max_steps=10, progress=False, overrides=FAST)
    assert json.loads((run / "latest.json").read_text())["step"] == 4
    assert (run / "ckpt-4" / "model.safetensors").exists()


def test_kill_during_checkpoint_write_keeps_the_last_good_one(tmp_path: Path) -> None:
    run = tmp_path / "run"
    # Die (SIGKILL) half-way through writing the second checkpoint's weights.
    script = textwrap.dedent(f"""
        import os, signal
        import attnscope.core.checkpoint as ck
        real = ck.save_file
        seen = []
        def dying(tensors, path, *a, **k):
            seen.append(path)
            if len(seen) == 3:  # ckpt-4: model, optimizer; ckpt-8: model -> die mid-write
                with open(path, "wb") as f:
                    f.write(b"half a file")
                os.kill(os.getpid(), signal.SIGKILL)
            return real(tensors, path, *a, **k)
        ck.save_file = dying
        from attnscope.core.train import train
        train("tiny", {str(run)!r}, max_steps=12, progress=False, overrides={FAST!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-1500:]
    assert json.loads((run / "latest.json").read_text())["step"] == 4
    train("tiny", run, max_steps=12, progress=False, overrides=FAST, resume=True)
    straight = tmp_path / "straight"
    train("tiny", straight, max_steps=12, progress=False, overrides=FAST)
    a, b = losses(straight), losses(run)
    for step in range(5, 13):
        assert a[step] == pytest.approx(b[step], rel=1e-6, abs=1e-7), step


text_strategy = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(categories=("Mn", "Cc", "Cf", "Zs", "So")), max_size=50),
    st.sampled_from(["", " ", "\t\n", "I love you 🦄", "שלום עולם", "e\u0301\u0301\u0301", "\u202eevil",
                     "x" * 10_000, "사랑 " * 400]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=text_strategy, strategy=st.sampled_from(["greedy", "beam", "sample"]))
def test_inspect_survives_any_text(tiny_engine, text: str, strategy: str) -> None:  # noqa: ANN001
    ins = tiny_engine.inspect(text, DecodeConfig(strategy=strategy, max_len=6))
    if not text.strip():
        assert ins.is_empty
        return
    m = tiny_engine.model_config
    assert len(ins.source_pieces) <= m.max_len
    assert ins.truncated_input == (len(tiny_engine.tokenizer.encode(text)) > m.max_len - 1)
    np.testing.assert_allclose(ins.encoder_attention.sum(-1), 1.0, atol=1e-4)
    if ins.target_pieces:
        np.testing.assert_allclose(ins.cross_attention.sum(-1), 1.0, atol=1e-4)
        np.testing.assert_allclose(ins.decoder_attention.sum(-1), 1.0, atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=300))
def test_tokenizer_loses_no_character(text: str) -> None:
    from attnscope.core.bundle import DEFAULT_BUNDLE
    from attnscope.core.tokenizer import Tokenizer

    if not (DEFAULT_BUNDLE / "spm.model").exists():
        pytest.skip("no default bundle")
    tok = _tok(DEFAULT_BUNDLE / "spm.model")
    ids = tok.encode(text)
    assert 1 not in ids  # byte fallback: never <unk>
    # sentencepiece normalises (NFKC, whitespace); what comes back is that normal form.
    assert tok.decode(ids) == tok.sp.decode(tok.sp.encode(text))
    del Tokenizer


_TOK: dict[Path, object] = {}


def _tok(path: Path):  # noqa: ANN202
    from attnscope.core.tokenizer import Tokenizer

    if path not in _TOK:
        _TOK[path] = Tokenizer.load(path)
    return _TOK[path]
