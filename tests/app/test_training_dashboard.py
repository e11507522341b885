"""The training dashboard driven through the app's TrainingRun: a real tiny run gives live
curves and snapshots; a killed process is reported; attaching follows a growing log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from attnscope.app.gradient_flow import GradientFlow
from attnscope.app.training_dashboard import TrainingDashboard
from attnscope.app.training_run import TrainingRun, describe_exit

FAST = ["--pairs", "1500", "--batch-tokens", "512", "--log-every", "3", "--valid-every", "10"]


@pytest.fixture
def dashboard(qtbot):
    run = TrainingRun(poll_ms=100)
    w = TrainingDashboard(run)
    qtbot.addWidget(w)
    w.show()
    yield w
    if run.running:
        run.process.kill()
        run.process.waitForFinished(5000)


def _points(w: TrainingDashboard, key: str) -> int:
    x, _ = w.curves.curves[key].getData()
    return 0 if x is None else len(x)


def test_tiny_run_gives_live_curves_and_snapshots(dashboard, qtbot, tmp_path: Path) -> None:
    run, live = dashboard.run, []
    run.records_added.connect(lambda recs: live.append((run.running, len(recs))))
    run.start(tmp_path / "run", "tiny", max_steps=30, extra=FAST)
    assert run.state == "running" and not dashboard.start_btn.isEnabled()
    qtbot.waitUntil(lambda: run.state != "running", timeout=180_000)
    assert run.state == "finished", (run.message, list(run.stderr_tail))
    assert any(running for running, _ in live), "no record arrived while the process ran"
    assert _points(dashboard, "train_loss") >= 5 and _points(dashboard, "lr") >= 5
    assert _points(dashboard, "valid_loss") == 3 and _points(dashboard, "bleu") == 3  # steps 10, 20, 30
    assert _points(dashboard, "layer:encoder.0") >= 5
    for kind in ("encoder", "decoder", "cross"):  # head statistics of each validation
        assert _points(dashboard, f"entropy:{kind}") == 3 and _points(dashboard, f"distance:{kind}") == 3
    loss = run.series.train["loss"]
    assert loss[-1] < loss[0]
    # tiny, 30 steps at the default fractions: snapshots at steps 0, 1, 3, 9, 30
    assert run.snapshots >= 3 and "snapshots: 5" in dashboard.snap_label.text()
    assert dashboard.progress.value() == dashboard.progress.maximum() == 30
    assert "finished" in dashboard.status_label.text()
    flow = GradientFlow()
    qtbot.addWidget(flow)
    flow.set_series(run.series)
    assert flow.layers[0] == "embed" and len(flow.bars.opts["height"]) == len(flow.layers)


def test_killing_the_training_process_is_reported(dashboard, qtbot, tmp_path: Path) -> None:
    run = dashboard.run
    run.start(tmp_path / "run", "tiny", max_steps=5000, extra=FAST)
    qtbot.waitUntil(lambda: run.series.step >= 3, timeout=120_000)
    os.kill(run.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: run.state != "running", timeout=20_000)
    assert run.state == "killed" and "SIGKILL" in run.message
    assert "killed" in dashboard.status_label.text() and "SIGKILL" in dashboard.status_label.text()
    assert dashboard.resume_btn.isEnabled() and dashboard.start_btn.isEnabled()


def test_stop_resume_and_a_refused_start(dashboard, qtbot, tmp_path: Path) -> None:
    run = dashboard.run
    run.start(tmp_path / "run", "tiny", max_steps=5000, extra=FAST + ["--checkpoint-every", "4"])
    qtbot.waitUntil(lambda: run.series.step >= 6, timeout=120_000)
    dashboard.stop_btn.click()
    qtbot.waitUntil(lambda: run.state != "running", timeout=20_000)
    assert run.state == "stopped" and "Resume" in run.message and dashboard.resume_btn.isEnabled()
    # Stop lets the process finish its step and save a checkpoint there (not at the last
    # multiple of --checkpoint-every), and the message names that step.
    checkpoint = json.loads((tmp_path / "run" / "latest.json").read_text())["step"]
    assert run.series.stops and run.series.stops[-1]["step"] == checkpoint
    assert f"at step {checkpoint}" in run.message
    target = max(run.series.step, checkpoint) + 6
    run.resume(max_steps=target)
    qtbot.waitUntil(lambda: run.state != "running", timeout=120_000)
    assert run.state == "finished", (run.message, list(run.stderr_tail))
    resumed = [s for s in run.series.starts if s.get("resumed")]
    assert resumed and resumed[-1]["step"] == checkpoint >= 4  # from its last checkpoint
    assert run.series.step == target
    # Start (not Resume) into a folder that holds a run: the CLI refuses, the app says why
    run.start(tmp_path / "run", "tiny", max_steps=10, extra=FAST)
    qtbot.waitUntil(lambda: run.state != "running", timeout=60_000)
    assert run.state == "failed" and "exit code 2" in run.message and "--resume" in run.message


def test_attach_follows_a_run_folder(dashboard, qtbot, tmp_path: Path) -> None:
    run_dir = tmp_path / "external"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"train": {"max_steps": 100}}))
    log = run_dir / "metrics.jsonl"
    log.write_text(json.dumps({"kind": "start", "step": 0, "time": 0.0}) + "\n")
    dashboard.attach(run_dir)
    assert dashboard.run.state == "attached"
    with open(log, "a") as f:
        for step in (10, 20, 30):
            f.write(json.dumps({"kind": "train", "step": step, "loss": 5.0 - step / 10, "lr": 1e-3,
                                "time": float(step)}) + "\n")
    qtbot.waitUntil(lambda: _points(dashboard, "train_loss") == 3, timeout=5000)
    np.testing.assert_allclose(dashboard.curves.curves["train_loss"].getData()[1], [4.0, 3.0, 2.0])
    assert dashboard.progress.maximum() == 100 and dashboard.progress.value() == 30


def test_exit_descriptions() -> None:
    assert describe_exit(0, False, False, "")[0] == "finished"
    assert describe_exit(1, False, False, "boom") == ("failed", "training failed with exit code 1: boom")
    state, msg = describe_exit(int(signal.SIGSEGV), True, False, "")
    assert state == "killed" and "SIGSEGV" in msg
    assert describe_exit(15, True, True, "")[0] == "stopped"
    assert describe_exit(143, False, True, "", stopped_at=7) == (
        "stopped", "stopped by you at step 7, checkpoint saved; Resume continues from there")


def _external_run(run_dir: Path, pid: int, extra: list[dict] | None = None) -> None:
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"train": {"max_steps": 100}}))
    recs = [{"kind": "start", "step": 0, "time": 1.0, "pid": pid, "host": socket.gethostname()},
            {"kind": "train", "step": 10, "loss": 4.0, "lr": 1e-3, "time": 2.0}] + (extra or [])
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_attach_sees_the_process_die_or_stop(dashboard, qtbot, tmp_path: Path) -> None:
    """Not "stalled" after minutes: a run whose process is gone, or that logged its stop,
    says so at once."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _external_run(tmp_path / "dead", dead.pid)
    dashboard.attach(tmp_path / "dead")
    qtbot.waitUntil(lambda: dashboard.run.state == "ended", timeout=5000)
    assert f"pid {dead.pid}" in dashboard.run.message and "step 10" in dashboard.run.message
    assert "ended" in dashboard.status_label.text()
    _external_run(tmp_path / "stopped", os.getpid(),
                  [{"kind": "stopped", "step": 10, "signal": "SIGTERM", "time": 3.0}])
    dashboard.attach(tmp_path / "stopped")
    qtbot.waitUntil(lambda: dashboard.run.state == "stopped", timeout=5000)
    assert "step 10" in dashboard.run.message
    _external_run(tmp_path / "alive", os.getpid())  # this process: alive, so still followed
    dashboard.attach(tmp_path / "alive")
    qtbot.wait(500)
    assert dashboard.run.state == "attached"
