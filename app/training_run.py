"""One training run seen from the app: ``attnscope train`` in a subprocess, or a run folder
some other process is writing. Not a widget.

The process is a QProcess (never the GUI thread's work); a QTimer tails ``metrics.jsonl``
into a ``RunSeries`` and counts snapshots. How the run ended is reported, never hidden:
finished, stopped by the user, failed with an exit code and its last error line, or killed
by a signal.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from attnscope.app.subprocess_cli import cli_process, read_stderr, start_cli
from attnscope.core.runlog import MetricsTail, RunSeries

STALL_S = 120.0  # an attached run silent this long is reported as stalled
STOP_GRACE_MS = 30_000  # Stop: time to finish the step and save a checkpoint before a kill


def describe_exit(code: int, crashed: bool, stopped: bool, last_error: str,
                  stopped_at: int | None = None) -> tuple[str, str]:
    """(state, message) for a training process that ended; ``stopped_at`` is the step the
    process saved a checkpoint at when it was asked to stop (its "stopped" log line)."""
    if stopped:
        if stopped_at:
            return "stopped", (f"stopped by you at step {stopped_at}, checkpoint saved; "
                               "Resume continues from there")
        return "stopped", "stopped by you; Resume continues from the last checkpoint"
    if crashed:
        try:
            name = signal.Signals(code).name
        except ValueError:
            name = f"signal {code}"
        return "killed", f"the training process was killed ({name})" + (f": {last_error}" if last_error else "")
    if code != 0:
        return "failed", f"training failed with exit code {code}" + (f": {last_error}" if last_error else "")
    return "finished", "training finished"


class TrainingRun(QObject):
    records_added = Signal(list)  # new metrics records (dicts), in file order
    # idle | running | attached | stalled | ended | finished | stopped | failed | killed
    state_changed = Signal(str, str)
    snapshots_changed = Signal(int)  # snapshots written so far

    def __init__(self, parent: QObject | None = None, poll_ms: int = 400, python: str = sys.executable) -> None:
        super().__init__(parent)
        self.python = python
        self.process: QProcess | None = None
        self.run_dir: Path | None = None
        self.args: list[str] = []  # the attnscope command line of the last start ("train", ...)
        self.series = RunSeries()
        self.state, self.message = "idle", ""
        self.stderr_tail: deque[str] = deque(maxlen=40)
        self.snapshots = 0
        self._tail: MetricsTail | None = None
        self._stopping = False
        self._silent_s = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self._on_timer)

    # -- commands -------------------------------------------------------------
    def start(self, out: str | Path, preset: str = "tiny", data: str | None = None,
              max_steps: int | None = None, resume: bool = False, extra: list[str] | None = None) -> None:
        """Run ``attnscope train`` into ``out`` (a new run unless ``resume``)."""
        args = ["train", "--preset", preset, "--out", str(out)]
        if data:
            args += ["--data", str(data)]
        if max_steps:
            args += ["--max-steps", str(int(max_steps))]
        self._launch(Path(out), args + list(extra or []), resume)

    def resume(self, max_steps: int | None = None) -> None:
        """Start the last run again with ``--resume`` (continues from its checkpoint),
        optionally to a different ``max_steps``."""
        if not self.args or self.run_dir is None or self.running:
            return
        args = [a for a in self.args if a != "--resume"]
        if max_steps:
            if "--max-steps" in args:
                i = args.index("--max-steps")
                args = args[:i] + args[i + 2:]
            args += ["--max-steps", str(int(max_steps))]
            self.series.max_steps = int(max_steps)
        self._launch(self.run_dir, args, resume=True)

    def stop(self) -> None:
        """Ask the process to stop (SIGTERM): it finishes its step, saves a checkpoint and
        exits; killed only if it has not after STOP_GRACE_MS."""
        if self.process is None or not self.running:
            return
        self._stopping = True
        self.process.terminate()
        # Owned by the process object, so it goes with it; kill() on an ended process is a no-op.
        deadline = QTimer(self.process)
        deadline.setSingleShot(True)
        deadline.timeout.connect(self.process.kill)
        deadline.start(STOP_GRACE_MS)

    def attach(self, run_dir: str | Path) -> None:
        """Follow a run folder another process is writing (no process of ours)."""
        if self.running:
            raise RuntimeError("a training process is running; stop it first")
        self._reset(Path(run_dir))
        self._set_state("attached", f"following {run_dir}")
        self.timer.start()
        self._on_timer()

    def show_log(self, folder: str | Path) -> bool:
        """Show the finished training log of a bundle (or run) folder; False when it has
        none. Never replaces a run this window started or follows."""
        folder = Path(folder)
        if self.running or self.state in ("attached", "stalled") or not (folder / "metrics.jsonl").is_file():
            return False
        self.timer.stop()
        self._reset(folder)
        assert self._tail is not None
        recs = self._tail.poll()
        self.series.max_steps = self._max_steps_from_config() or self.series.max_steps
        self.series.add(recs)
        if not self.series.max_steps:  # an old log without its target: it ran to its last step
            self.series.max_steps = self.series.step
        self._tail = None  # a bundle's log is complete; nothing to follow
        self.records_added.emit(recs)
        self._set_state("finished", f"training log of the open model ({folder.name}, "
                        f"{self.series.step} steps)")
        return True

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    @property
    def pid(self) -> int:
        return int(self.process.processId()) if self.process is not None else 0

    # -- internals ------------------------------------------------------------
    def _reset(self, run_dir: Path, keep_series: bool = False) -> None:
        self.run_dir = run_dir
        if not keep_series:
            self.series = RunSeries()
            self._tail = MetricsTail(run_dir / "metrics.jsonl")
        self.snapshots, self._silent_s, self._stopping = 0, 0.0, False
        self.stderr_tail.clear()

    def _launch(self, out: Path, args: list[str], resume: bool) -> None:
        if self.running:
            raise RuntimeError("a training process is already running")
        self._reset(out, keep_series=resume and self.run_dir == out and self._tail is not None)
        self.args = args + (["--resume"] if resume else [])
        proc = cli_process(self, self._on_stdout, self._on_stderr, self._on_finished, self._on_error)
        self.process = proc
        start_cli(proc, self.python, self.args)
        self._set_state("running", ("resuming " if resume else "training into ") + str(out))
        self.timer.start()

    def _set_state(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        self.state_changed.emit(state, message)

    def _on_stderr(self) -> None:
        if self.process is None:
            return
        for line in read_stderr(self.process).replace("\r", "\n").splitlines():
            if line.strip():
                self.stderr_tail.append(line.strip())

    def _on_stdout(self) -> None:
        if self.process is not None:
            self.process.readAllStandardOutput()

    def _last_error(self) -> str:
        for line in reversed(self.stderr_tail):
            if "%|" not in line and "it/s" not in line and "step/s" not in line:  # skip tqdm bars
                return line
        return ""

    def _on_timer(self) -> None:
        if self._tail is None or self.run_dir is None:
            return
        recs = self._tail.poll()
        if recs:
            if not self.series.max_steps:
                self.series.max_steps = self._max_steps_from_config()
            self.series.add(recs)
            self._silent_s = 0.0
            self.records_added.emit(recs)
        else:
            self._silent_s += self.timer.interval() / 1000
        n = len(list((self.run_dir / "snapshots").glob("step-*.safetensors"))) \
            if (self.run_dir / "snapshots").is_dir() else 0
        if n != self.snapshots:
            self.snapshots = n
            self.snapshots_changed.emit(n)
        if self.state in ("attached", "stalled"):
            self._check_attached()
        if self.process is None and self.state not in ("attached", "stalled"):
            self.timer.stop()

    def _check_attached(self) -> None:
        """An attached run: finished, stopped, its process gone, or silent for STALL_S."""
        assert self.run_dir is not None
        done = (self.run_dir / "weights.safetensors").exists()
        start = self.series.starts[-1] if self.series.starts else {}
        stop = self.series.stops[-1] if self.series.stops else None
        gone = process_gone(start)
        if stop is not None and float(stop.get("time", 0)) >= float(start.get("time", 0)) and not done:
            self._set_state("stopped", f"the run was stopped at step {stop.get('step')} "
                            f"({stop.get('signal', 'signal')}); its checkpoint is saved there")
        elif done and (gone or ("pid" not in start and self._silent_s > STALL_S)):
            self._set_state("finished", "the run is complete")
        elif not done and gone:
            self._set_state("ended", f"the training process (pid {start.get('pid')}) has exited without "
                            f"finishing; last logged step {self.series.step}")
        elif self._silent_s > STALL_S and not done:
            self._set_state("stalled", f"no new metrics for {int(self._silent_s)} s")
        else:
            return
        if self.state != "stalled":
            self.timer.stop()

    def _max_steps_from_config(self) -> int:
        try:
            cfg = json.loads((self.run_dir / "config.json").read_text())  # type: ignore[operator]
            train = cfg.get("train") or cfg.get("provenance", {}).get("train")  # a run, or a bundle
            return int(train["max_steps"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._on_stderr()
        self._on_timer()  # the last records before the report
        crashed = status == QProcess.ExitStatus.CrashExit
        stops = self.series.stops
        stopped_at = int(stops[-1].get("step", 0)) if stops else None
        state, message = describe_exit(code, crashed, self._stopping, self._last_error(), stopped_at)
        self.process = None
        self.timer.stop()
        self._set_state(state, message)

    def _on_error(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self.process = None
            self.timer.stop()
            self._set_state("failed", f"could not start {self.python}: {err.name}")


def process_gone(start: dict) -> bool:
    """True when a run's "start" line names a process on this machine that no longer exists."""
    pid, host = start.get("pid"), start.get("host")
    if not isinstance(pid, int) or pid <= 0 or host != socket.gethostname():
        return False  # older logs, or a run on another machine: cannot tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False


def python_for_training() -> str:
    """The interpreter that runs ``attnscope train`` (this one; ATTNSCOPE_PYTHON overrides)."""
    return os.environ.get("ATTNSCOPE_PYTHON", sys.executable)
