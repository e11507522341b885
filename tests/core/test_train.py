"""Training: exact resume, data-parallel equivalence, checkpoints, clear errors."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from attnscope.core.runlog import read_metrics
from attnscope.core.train import TrainingError, train


def losses(run: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_metrics(run) if r["kind"] == "train"}


FAST = {"pairs": 1500, "log_every": 1, "valid_every": 1000, "checkpoint_every": 6, "batch_tokens": 512}


def test_resume_continues_with_the_same_loss(tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    train("tiny", straight, max_steps=9, progress=False, overrides=FAST)
    stopped = tmp_path / "stopped"
    train("tiny", stopped, max_steps=6, progress=False, overrides=FAST)
    assert json.loads((stopped / "latest.json").read_text())["step"] == 6
    train("tiny", stopped, max_steps=9, progress=False, overrides=FAST, resume=True)
    a, b = losses(straight), losses(stopped)
    for step in (7, 8, 9):
        assert a[step] == pytest.approx(b[step], rel=1e-6, abs=1e-7), step


def test_sigterm_stops_after_the_step_with_a_checkpoint_and_resume_matches(tmp_path: Path) -> None:
    """What the app's Stop does: SIGTERM mid-run saves a checkpoint at that very step (not
    the last multiple of checkpoint_every), and resuming gives the uninterrupted losses."""
    fast = {**FAST, "checkpoint_every": 100}
    straight = tmp_path / "straight"
    train("tiny", straight, max_steps=9, progress=False, overrides=fast)
    run = tmp_path / "stopped"
    handler = signal.getsignal(signal.SIGTERM)

    def on_log(rec: dict) -> None:
        if rec["kind"] == "train" and rec["step"] == 5:
            os.kill(os.getpid(), signal.SIGTERM)  # handled by train(): no exit

    result = train("tiny", run, max_steps=9, progress=False, overrides=fast, on_log=on_log)
    assert result["stopped"] == "SIGTERM" and result["step"] == 5
    assert json.loads((run / "latest.json").read_text())["step"] == 5
    assert not (run / "weights.safetensors").exists()  # a stopped run is not a finished one
    stops = [r for r in read_metrics(run) if r["kind"] == "stopped"]
    assert stops == [{"kind": "stopped", "step": 5, "signal": "SIGTERM", "time": stops[0]["time"]}]
    assert signal.getsignal(signal.SIGTERM) is handler  # the caller's handler is back
    train("tiny", run, max_steps=9, progress=False, overrides=fast, resume=True)
    a, b = losses(straight), losses(run)
    for step in (6, 7, 8, 9):
        assert a[step] == pytest.approx(b[step], rel=1e-6, abs=1e-7), step
    assert (run / "weights.safetensors").exists()


def test_a_run_folder_is_not_overwritten_without_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train("tiny", run, max_steps=6, progress=False, overrides=FAST)
    with pytest.raises(TrainingError, match="--resume"):
        train("tiny", run, max_steps=6, progress=False, overrides=FAST)


def test_unwritable_run_folder_fails_before_training(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TrainingError, match="not a folder"):
        train("tiny", blocker, max_steps=2, progress=False, overrides=FAST)
    out = subprocess.run([sys.executable, "-m", "attnscope", "train", "--preset", "tiny",
                          "--out", str(blocker), "--max-steps", "2"], capture_output=True, text=True)
    assert out.returncode == 2 and "not a folder" in out.stderr and "Traceback" not in out.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_process_ddp_matches_one_process(tmp_path: Path) -> None:
    one = tmp_path / "one"
    train("tiny", one, max_steps=4, progress=False, overrides=FAST)
    two = tmp_path / "two"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
           "-m", "attnscope", "train", "--preset", "tiny", "--device", "cpu", "--out", str(two),
           "--max-steps", "4", "--pairs", "1500", "--batch-tokens", "512"]
    # log/checkpoint cadence come from the preset; only the loss at each logged step is compared
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = losses(one), losses(two)
    common = sorted(set(a) & set(b))
    assert common and 1 in common
    for step in common:
        assert a[step] == pytest.approx(b[step], rel=1e-4), step


def test_validation_logs_loss_head_statistics_and_gradient_flow(tiny_run: Path) -> None:
    rows = [json.loads(x) for x in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    start = next(r for r in rows if r["kind"] == "start")
    assert start["max_steps"] == 60
    valid = [r for r in rows if r["kind"] == "valid"]
    assert valid, "no validation line"
    v = valid[-1]
    for key in ("bleu", "exact_match", "valid_loss", "valid_ppl", "lr", "grad_norm", "update_ratio"):
        assert isinstance(v[key], float), key
    assert v["valid_ppl"] == pytest.approx(math.exp(v["valid_loss"]), rel=1e-6)
    cfg = json.loads((tiny_run / "config.json").read_text())["model"]
    for stat in ("entropy", "distance"):
        for kind, n_layers in (("encoder", cfg["n_encoder_layers"]), ("decoder", cfg["n_decoder_layers"]),
                               ("cross", cfg["n_decoder_layers"])):
            grid = v["head_stats"][stat][kind]
            assert len(grid) == n_layers and len(grid[0]) == cfg["n_heads"], (stat, kind)
    assert all(0.0 <= e <= 1.0 for row in v["head_stats"]["entropy"]["cross"] for e in row)
    layers = set(v["layer_grad_norm"])
    assert {"embed", "encoder.0", "decoder.0"} <= layers and all(x >= 0 for x in v["layer_grad_norm"].values())
