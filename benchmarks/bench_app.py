"""The window, offscreen with the shipped model: keystroke → every visible view repainted
(p50/p95), start to first frame, and resident memory over a keystroke soak.

Run: .venv/bin/python -m benchmarks.bench_app [--keys 200] [--soak 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks.common import settle_window, summary, write  # noqa: E402

SENTENCE = "The student reads a new book at the library every day."


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def start_to_first_frame(runs: int = 3) -> dict[str, float]:
    """Launch a fresh interpreter; time until the window shows the first decode."""
    # What `attnscope gui` runs, until the first frame is drawn: the controller times its
    # first request -> paint (a zero-delay timer after the paint events) in the window's
    # own event loop.
    code = ("from PySide6.QtCore import QTimer; from attnscope.app.main import _parse, launch; "
            "app, w = launch(_parse([])); "
            "w.controller.timing.connect(lambda *_: app.quit()); QTimer.singleShot(60_000, app.quit); "
            "app.exec(); print('FIRST_FRAME', bool(w.controller.latencies_ms), flush=True); "
            "w.controller.shutdown()")
    config = tempfile.mkdtemp(prefix="attnscope-bench-")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                  "XDG_CONFIG_HOME": config})  # fresh settings: default layout
        assert p.stdout is not None
        for line in p.stdout:
            if line.startswith("FIRST_FRAME True"):
                times.append((time.perf_counter() - t) * 1e3)
                break
        p.wait(timeout=60)
    return summary(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--soak", type=int, default=1000)
    a = ap.parse_args()

    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from attnscope.app import theme
    from attnscope.app.controller import load_real_engine
    from attnscope.app.fonts import install_cjk_font
    from attnscope.app.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    errors: list[str] = []  # exceptions raised in slots reach sys.excepthook, not us
    sys.excepthook = lambda et, ev, tb: errors.append(f"{et.__name__}: {ev}")
    theme.apply("dark", app)
    install_cjk_font(app)
    window = MainWindow(load_real_engine(None), QSettings("AttnScopeBench", "bench"))
    window.resize(1280, 800)
    window.show()
    ctrl = window.controller
    edit = window.sentence.source

    def settle() -> None:
        settle_window(app, window, 10)

    window.start("")
    settle()
    edit.setFocus()

    def key(ch: str) -> None:
        if ch == "\b":
            QTest.keyClick(edit, Qt.Key.Key_Backspace)
        else:
            QTest.keyClick(edit, ch)

    # Keystroke latency: type the sentence, erase it, again; one key at a time.
    script = []
    while len(script) < a.keys:
        script += list(SENTENCE) + ["\b"] * len(SENTENCE)
    script = script[: a.keys]
    lat: list[float] = []
    engine_ms: list[float] = []
    for ch in script:
        before = len(ctrl.latencies_ms)
        t = time.perf_counter()
        key(ch)
        settle()
        if len(ctrl.latencies_ms) > before:
            lat.append((time.perf_counter() - t) * 1e3)
            engine_ms.append(window.state.inspection.timings_ms.get("total", 0.0)
                             if window.state.inspection is not None else 0.0)

    # Soak: random edits and control changes, RSS after 10 and after N.
    rng = random.Random(0)
    rss = {}
    controls = [lambda: ctrl.set_config(ctrl.config.replace(beam_size=rng.randint(1, 5))),
                lambda: ctrl.set_config(ctrl.config.replace(strategy=rng.choice(["greedy", "beam", "sample"]))),
                lambda: ctrl.set_config(ctrl.config.replace(temperature=rng.uniform(0.3, 2.0)))]
    words = SENTENCE.split() + ["I", "love", "you", "?", "사랑", "🦄"]
    for i in range(1, a.soak + 1):
        r = rng.random()
        if r < 0.6:
            edit.setText((edit.text() + " " + rng.choice(words)).strip()[-80:])
        elif r < 0.85:
            edit.setText(edit.text()[:-rng.randint(1, 6)])
        else:
            rng.choice(controls)()
        if i % 5 == 0:  # mostly latest-wins bursts, settled every few edits
            settle()
        if i in (10, a.soak):
            settle()
            rss[i] = rss_mb()
    settle()
    shown = window.state.inspection
    stale = shown is not None and shown.text != ctrl.text
    ctrl.shutdown()
    result = {
        "keystroke_to_repaint": {**summary(lat), "keys": len(lat)},
        "engine_total_ms": summary(engine_ms),
        "start_to_first_frame": start_to_first_frame(),
        "soak": {"edits": a.soak, "rss_mb_after_10": round(rss[10], 1), "rss_mb_after_n": round(rss[a.soak], 1),
                 "growth": round(rss[a.soak] / rss[10] - 1, 4), "stale_frame_at_end": stale,
                 "exceptions": len(errors), "first_exceptions": errors[:5]},
        "goals": {"keystroke_p50_ms": 33, "keystroke_p95_ms": 66, "start_ms": 1500, "rss_growth": 0.10},
        "window": "1280x800 offscreen, dark theme, default panels",
    }
    path = write("app", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
