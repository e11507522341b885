"""The probability bars mark exactly the pieces the sampler may draw, for any (top-k, top-p).

The expected set is written out by hand here (sort, cut at k, renormalise, add until the
mass reaches p); ``tests/core/test_oracles.py`` holds the sampler to the same hand set.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from attnscope.app.prob_bars import ProbBars
from attnscope.app.state import AppState
from attnscope.app.testing import fake_engine
from attnscope.core.config import DecodeConfig
from attnscope.core.inference.logits import StepLogits
from attnscope.core.inference.search import sampling_probs


def hand_kept(logits, temperature: float, top_k: int, top_p: float, bos: int) -> list[int]:
    e = [0.0 if i == bos else math.exp(float(x) / temperature) for i, x in enumerate(logits)]
    ranked = sorted((i for i in range(len(e)) if e[i] > 0), key=lambda i: (-e[i], i))
    if top_k > 0:
        ranked = ranked[:top_k]
    if top_p >= 1.0:
        return ranked
    total, kept, mass = sum(e[i] for i in ranked), [], 0.0
    for i in ranked:
        kept.append(i)
        mass += e[i] / total
        if mass >= top_p:
            break
    return kept


def unfaded(bars: ProbBars) -> list[int]:
    """Piece ids of the bars drawn at full opacity, top first."""
    brushes = bars.bars.opts["brushes"]
    return [int(pid) for pid, b in zip(bars.top_ids.tolist(), brushes, strict=True) if b.color().alpha() == 255]


@pytest.fixture
def bars(qtbot):
    state = AppState()
    engine = fake_engine()
    state.piece_fn = engine.piece
    w = ProbBars(state)
    qtbot.addWidget(w)
    w.resize(460, 900)  # room for every one of the top 20 bars
    w.show()
    qtbot.waitExposed(w)
    ins = engine.inspect("I love the cat today", DecodeConfig(strategy="beam", beam_size=3))
    yield w, state, ins
    state.deleteLater()


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_bars_mark_the_samplers_kept_set_on_a_grid(bars, temperature: float) -> None:
    w, state, ins = bars
    state.set_display_temperature(temperature)
    bos = ins.nodes[0].token
    checked = 0
    for top_k in (0, 1, 2, 3, 5, 8):
        for top_p in (0.1, 0.3, 0.6, 0.8, 0.95, 1.0):
            cfg = DecodeConfig(temperature=temperature, top_k=top_k, top_p=top_p)
            state.set_inspection(dataclasses.replace(ins, config=cfg))
            for step in range(len(ins.best.step_logits)):
                state.set_step(step)
                w.refresh()
                assert state.step == step
                expected = hand_kept(ins.best.step_logits.dense_values()[step], temperature, top_k, top_p, bos)
                assert len(w.top_ids) == 20
                assert unfaded(w) == [i for i in w.top_ids.tolist() if i in expected]
                # and the sampler draws from exactly those pieces
                drawn = sampling_probs(ins.best.step_logits.dense_values()[step], temperature, top_k, top_p, bos)
                assert unfaded(w) == [i for i in w.top_ids.tolist() if drawn[i] > 0]
                assert set(expected) <= set(w.top_ids.tolist()) or len(expected) > 20
                checked += 1
    assert checked > 100


def test_the_issue_example_marks_two_not_three(bars) -> None:
    w, state, ins = bars
    # A row whose top four pieces have probabilities 0.3, 0.25, 0.25, 0.2 (and the rest ~0).
    logits = ins.best.step_logits.dense_values().copy()
    ids = [int(i) for i in ins.best.step_logits.dense_values()[0].argsort()[::-1][:4]]
    logits[0] = -50.0
    for i, p in zip(ids, (0.3, 0.25, 0.25, 0.2), strict=True):
        logits[0, i] = math.log(p)
    best = dataclasses.replace(ins.best, step_logits=StepLogits.keep(logits))
    state.set_inspection(dataclasses.replace(ins, best=best, config=DecodeConfig(top_k=3, top_p=0.6)))
    w.refresh()
    assert w.top_ids.tolist()[:4] == ids
    assert unfaded(w) == ids[:2]  # top-3 renormalised: 0.375, 0.6875 >= 0.6
