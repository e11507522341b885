"""The probability bars and the step scrubber on a 256 206-piece model: what they draw at
T = 1 equals a float64 softmax of the full logits, taken from the graphs by the test; at
another temperature the bars say their values are estimates."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from big_vocab import SENTENCE, build, teacher_forced_logits  # noqa: E402

from attnscope.app.prob_bars import ProbBars  # noqa: E402
from attnscope.app.state import AppState  # noqa: E402
from attnscope.app.step_scrubber import StepScrubber  # noqa: E402
from attnscope.core.config import DecodeConfig  # noqa: E402


@pytest.fixture(scope="module")
def decoded(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from attnscope.core.inference.engine import Engine

    bundle = build(tmp_path_factory.mktemp("big-vocab-app") / "bundle")
    engine = Engine.load(bundle, threads=1, device="cpu")
    ins = engine.inspect(SENTENCE, DecodeConfig(strategy="beam", beam_size=4, max_len=8))
    full = teacher_forced_logits(bundle, ins.source_ids, ins.best.target_ids, engine.special.decoder_start)
    return engine, ins, full


def log_softmax(z: np.ndarray, t: float = 1.0) -> np.ndarray:
    x = z / t
    return x - (x.max() + math.log(float(np.exp(x - x.max()).sum())))


def test_bars_and_log_p_equal_the_full_softmax(qtbot, decoded) -> None:  # noqa: ANN001
    engine, ins, full = decoded
    state = AppState()
    state.piece_fn = engine.piece
    bars, scrubber = ProbBars(state), StepScrubber(state)
    for w in (bars, scrubber):
        qtbot.addWidget(w)
        w.resize(600, 900)
        w.show()
    state.set_inspection(ins)
    for step, z in enumerate(full):
        state.set_step(step)
        bars.refresh()
        scrubber.refresh()
        want = log_softmax(z)
        top = np.argsort(-z, kind="stable")[: len(bars.top_ids)]
        assert bars.top_ids.tolist() == top.tolist()
        np.testing.assert_allclose(bars.probs, np.exp(want[top]), rtol=1e-5, atol=1e-8)
        chosen = int(ins.best.target_ids[step])
        assert f"(p = {math.exp(want[chosen]):.3f})" in bars.caption.text()
        for r in range(5):  # the scrubber's table: piece, p, log p of the top five
            assert scrubber.table.item(r, 0).text() == engine.piece(int(top[r]))
            assert scrubber.table.item(r, 2).text() == f"{want[top[r]]:.2f}"
    # At T = 2 the partition is estimated: the bars and the caption say "≈", and the order
    # (exact at any T) is unchanged.
    state.set_display_temperature(2.0)
    bars.refresh()
    assert "p ≈" in bars.caption.text()
    z = full[state.step]
    assert bars.top_ids.tolist() == np.argsort(-z, kind="stable")[: len(bars.top_ids)].tolist()
    ratio = np.log(bars.probs[1:] / bars.probs[0])
    np.testing.assert_allclose(ratio, (z[bars.top_ids[1:]] - z[bars.top_ids[0]]) / 2.0, atol=1e-5)
    state.deleteLater()
