"""Shared by the benchmarks: machine description, percentiles, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    info: dict[str, Any] = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
                            "system": platform.platform()}
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gib"] = round(int(mem) / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        info["gpu"] = out.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        info["gpu"] = None
    return info


def timeit(fn: Callable[[], Any], repeat: int, warmup: int = 3) -> list[float]:
    """Wall times in ms of ``repeat`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def interleaved(systems: dict[str, Callable[[], Any]], repeat: int, per_round: int = 3, warmup: int = 3,
                warmup_each_round: int = 0, pause_after: tuple[str, ...] = ()) -> dict[str, list[float]]:
    """Wall times (ms) of every system, timed in rounds of ``per_round`` calls each, the
    systems in turn, so that a drift of the machine (its memory bandwidth moved by a quarter
    between runs here) falls on all of them alike instead of on whichever ran then.

    ``warmup`` untimed calls of each first; ``warmup_each_round`` more at the start of each
    of its rounds (BLAS threads that keep spinning after a call slow whatever runs next);
    after the systems named in ``pause_after`` a short pause lets their threads go idle."""
    for fn in systems.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(max(1, repeat // per_round)):
        for name, fn in systems.items():
            times[name] += timeit(fn, per_round, warmup=warmup_each_round)
            if name in pause_after:
                time.sleep(0.2)
    return times


def summary(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {"p50_ms": round(statistics.median(s), 3), "p95_ms": round(s[min(len(s) - 1, int(0.95 * len(s)))], 3),
            "min_ms": round(s[0], 3), "n": len(s)}


def write(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    return path


def settle_window(app: Any, window: Any, timeout_s: float) -> None:
    """Run the Qt event loop until the window's latest request is drawn and no decode runs.

    A real event loop that sleeps until something happens, as the application's does: a
    loop polling ``processEvents`` would keep a core busy and slow the decode it measures."""
    from PySide6.QtCore import QEventLoop, QTimer

    ctrl = window.controller

    def settled() -> bool:
        return not ctrl.runner.busy and not ctrl._asked_at

    if not settled():
        loop = QEventLoop()

        def check(*_args: Any) -> None:
            if settled():
                loop.quit()

        ctrl.timing.connect(check)  # a result is on screen
        ctrl.runner.busy_changed.connect(check)  # or the runner went idle (an error, a drop)
        deadline = QTimer(singleShot=True, interval=int(timeout_s * 1000))
        deadline.timeout.connect(loop.quit)
        deadline.start()
        if not settled():
            loop.exec()
        deadline.stop()
        ctrl.timing.disconnect(check)
        ctrl.runner.busy_changed.disconnect(check)
    app.processEvents()
