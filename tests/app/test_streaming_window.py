"""Progressive painting and cancellation in the window, with a slow runner under the real engine.

The shipped model's onnxruntime runner is wrapped so that every decoder step takes 80 ms,
about what a base-size model costs: the window must paint the encoder and the first step
long before the search ends, and a new keystroke must stop the old decode within one step.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from attnscope.core.config import DecodeConfig
from attnscope.core.inference.engine import EncoderOutput, Engine, OrtRunner, StepOutput

STEP_S = 0.08


class SlowRunner:
    """The real runner, sleeping before every step; logs (decode index, time) of every step."""

    def __init__(self, inner: OrtRunner, step_s: float) -> None:
        self.inner, self.step_s = inner, step_s
        self.lock = threading.Lock()
        self.decodes: list[list[float]] = []  # per decode: the end time of every step

    def encode(self, src_ids: np.ndarray, src_mask: np.ndarray) -> EncoderOutput:
        with self.lock:
            self.decodes.append([])
        return self.inner.encode(src_ids, src_mask)

    def step(self, *args: np.ndarray) -> StepOutput:
        time.sleep(self.step_s)
        out = self.inner.step(*args)
        with self.lock:
            self.decodes[-1].append(time.perf_counter())
        return out


@pytest.fixture
def slow_window(qtbot, settings):
    from attnscope.app.main_window import MainWindow

    real = Engine.load(None, threads=1)
    runner = SlowRunner(real.runner, STEP_S)  # type: ignore[arg-type]
    engine = Engine(real.bundle, real.tokenizer, runner, real.provider)
    w = MainWindow(engine, settings)
    qtbot.addWidget(w)
    w.resize(1000, 650)
    w.show()
    qtbot.waitExposed(w)
    w.controller.set_config(DecodeConfig(strategy="beam", beam_size=4))
    qtbot.waitUntil(lambda: not w.controller.runner.busy and not w.controller._asked_at)
    qtbot.wait(50)  # the empty start is drawn and timed
    painted: list[tuple[str, int, bool, float]] = []  # text, steps, complete, when
    w.state.inspection_changed.connect(
        lambda ins: painted.append((ins.text, len(ins.steps), ins.complete, time.perf_counter())))
    yield w, runner, painted
    w.controller.shutdown()


def test_window_paints_progressively(slow_window, qtbot):
    w, runner, painted = slow_window
    text = "The teacher reads a new book."
    ctrl = w.controller
    n_first, n_done = len(ctrl.first_paint_ms), len(ctrl.latencies_ms)
    w.sentence.set_text(text)
    qtbot.waitUntil(lambda: bool(painted) and painted[-1][0] == text and painted[-1][2], timeout=20_000)
    qtbot.waitUntil(lambda: len(ctrl.latencies_ms) > n_done, timeout=5_000)  # timed once drawn
    mine = [p for p in painted if p[0] == text]
    n_steps = mine[-1][1]
    assert n_steps >= 4
    # Partials came first, their steps growing, the complete result last and only once.
    assert [p[2] for p in mine] == [False] * (len(mine) - 1) + [True]
    steps = [p[1] for p in mine]
    assert steps == sorted(steps) and steps[0] == 1 and len(mine) >= n_steps // 2
    # The first paint (encoder and step 1) came while most of the decode was still to run.
    assert mine[-1][3] - mine[0][3] > (n_steps - 2) * STEP_S
    # The screen shows what a plain decode gives: the grid's encoder attention and the text.
    ins = w.state.inspection
    ref = Engine.load(None, threads=1).inspect(text, DecodeConfig(strategy="beam", beam_size=4))
    assert ins.translation == ref.translation
    assert ref.translation.split()[0] in w.sentence.translation.text()
    assert len(ctrl.first_paint_ms) == n_first + 1 and len(ctrl.latencies_ms) == n_done + 1
    assert ctrl.first_paint_ms[-1] < ctrl.latencies_ms[-1] - (n_steps - 2) * STEP_S * 1e3


def test_new_keystroke_cancels_the_running_decode(slow_window, qtbot):
    w, runner, painted = slow_window
    first, second = "The teacher reads a new book and the child drinks the milk.", "She eats an apple."
    cancelled_before = w.controller.runner.cancelled
    w.sentence.set_text(first)
    # Wait until the first decode is visibly under way: its first step is on screen and a
    # second step has run. (The next partial is painted only after the window's pause, which
    # on a loaded machine can outlast this decode.)
    qtbot.waitUntil(lambda: any(p[0] == first for p in painted) and len(runner.decodes[-1]) >= 2,
                    timeout=20_000)
    asked = time.perf_counter()
    w.sentence.set_text(second)
    qtbot.waitUntil(lambda: bool(painted) and painted[-1][0] == second and painted[-1][2], timeout=20_000)
    qtbot.wait(300)  # any stale result would have had time to (wrongly) arrive
    stale_steps = [t for t in runner.decodes[0] if t > asked]
    assert len(stale_steps) <= 1  # the step in flight finished, no further one ran
    assert len(runner.decodes) == 2  # the superseded decode stopped; the new one ran once
    full = Engine.load(None, threads=1).inspect(first, DecodeConfig(strategy="beam", beam_size=4))
    assert len(runner.decodes[0]) < len(full.steps)  # it really was cut short
    after = [p for p in painted if p[3] > asked]
    assert after and all(p[0] == second for p in after)  # nothing of the first drawn after the keystroke
    assert not any(p[0] == first and p[2] for p in painted)  # the first never completed on screen
    assert w.state.inspection.complete and w.state.inspection.text == second
    assert w.controller.runner.cancelled - cancelled_before == 1


def test_later_partials_redraw_the_tree_and_the_rest_catches_up(slow_window, qtbot):
    """While the decode runs, later partial results redraw the growing tree (and the text)
    only; the bars and the step table keep the first step until the decode completes."""
    w, runner, painted = slow_window
    text = "The teacher reads a new book."
    seen: list[tuple[int, bool, bool, int, int, int]] = []
    w.state.inspection_changed.connect(lambda ins: seen.append(
        (len(ins.steps), ins.complete, w.state.growing, w.tree.refresh_count, w.bars.refresh_count,
         w.scrubber.refresh_count)) if ins.text == text else None)
    w.sentence.set_text(text)
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][1], timeout=20_000)
    first, *later, final = seen
    assert not first[2] and first[0] == 1  # encoder and step 1: every view
    assert later, "no partial result was painted between the first and the complete one"
    assert all(p[2] for p in later)  # later partials are marked growing
    assert [p[3] for p in later] == list(range(first[3] + 1, first[3] + 1 + len(later)))  # the tree: each
    assert all(p[4] == first[4] and p[5] == first[5] for p in later)  # bars and table: not redrawn
    assert not final[2] and final[4] > first[4] and final[5] > first[5]  # complete: they catch up
    assert w.bars.refresh_count == final[4]
    path = w.state.path
    assert w.bars.top_ids[0] == int(np.argmax(path.step_logits.dense_values()[w.state.step]))


def test_partials_the_window_will_not_paint_are_not_assembled(slow_window, qtbot, monkeypatch):
    """After painting a partial the window idles a while; the decode builds no partial
    result meant for that while (it would be thrown away unpainted)."""
    import attnscope.app.controller as controller

    w, runner, painted = slow_window
    monkeypatch.setattr(controller, "PARTIAL_IDLE", 1e4)  # after the first paint: none before the end
    engine = w.controller.runner.engine
    plain = engine.inspect
    assembled: list[int] = []

    def counting(text, config=None, progress=None, cancel=None, progress_due=None):
        def count(ins):
            assembled.append(len(ins.steps))
            progress(ins)
        return plain(text, config, progress=count if progress else None, cancel=cancel, progress_due=progress_due)

    monkeypatch.setattr(engine, "inspect", counting)
    text = "The teacher reads a new book and the child drinks the milk."
    w.sentence.set_text(text)
    qtbot.waitUntil(lambda: bool(painted) and painted[-1][0] == text and painted[-1][2], timeout=20_000)
    mine = [p for p in painted if p[0] == text]
    n_steps = mine[-1][1]
    assert n_steps >= 8
    assert len(mine) == 2 and mine[0][1] <= 2  # an early step, then the complete result
    # The encoder's and the first steps' were built, up to the one under way when the window
    # said it would paint no more (a paint of every view takes well under two 80 ms steps).
    assert assembled[:2] == [0, 1] and len(assembled) <= 4 < n_steps, assembled
    ref = Engine.load(None, threads=1).inspect(text, DecodeConfig(strategy="beam", beam_size=4))
    assert w.state.inspection.translation == ref.translation
