"""Streaming and cancellation inside one decode: partial results, and a stop within a step."""

from __future__ import annotations

import numpy as np
import pytest

from attnscope.core.config import DecodeConfig
from attnscope.core.inference.engine import EncoderOutput, Engine, OrtRunner, StepOutput
from attnscope.core.inference.inspection import Inspection

TEXT = "The teacher reads a new book and the child drinks the milk."


class CountingRunner:
    """The real onnxruntime runner, counting its decoder steps."""

    def __init__(self, inner: OrtRunner) -> None:
        self.inner, self.steps = inner, 0

    def encode(self, src_ids: np.ndarray, src_mask: np.ndarray) -> EncoderOutput:
        return self.inner.encode(src_ids, src_mask)

    def step(self, *args: np.ndarray) -> StepOutput:
        self.steps += 1
        return self.inner.step(*args)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load(None, threads=1)


@pytest.mark.parametrize("cfg", [DecodeConfig(strategy="beam", beam_size=4), DecodeConfig(strategy="greedy"),
                                 DecodeConfig(strategy="sample", seed=3, temperature=1.5)])
def test_partials_are_the_decode_so_far(engine: Engine, cfg: DecodeConfig) -> None:
    full = engine.inspect(TEXT, cfg)  # no callback: the plain decode is the reference
    partials: list[Inspection] = []
    streamed = engine.inspect(TEXT, cfg, progress=partials.append)
    assert streamed.complete and full.complete
    assert streamed.translation == full.translation
    assert [n.token for n in streamed.nodes] == [n.token for n in full.nodes]
    # The encoder comes first, alone; then one partial per step, the last step excepted
    # (the complete result is that one).
    assert [len(p.steps) for p in partials] == list(range(len(full.steps)))
    assert not any(p.complete for p in partials)
    np.testing.assert_array_equal(partials[0].encoder_attention, full.encoder_attention)
    assert partials[0].source_pieces == full.source_pieces and partials[0].translation == ""
    for p in partials[1:]:
        t = len(p.steps)
        for a, b in zip(p.steps, full.steps[:t], strict=True):
            np.testing.assert_array_equal(a.node_ids, b.node_ids)
            np.testing.assert_array_equal(a.logits.dense_values(), b.logits.dense_values())
            np.testing.assert_array_equal(a.cross_attention, b.cross_attention)
        # The partial's best path is a real path of its tree: as long as its steps, or a
        # hypothesis that already ended (with EOS) at an earlier step and still leads.
        n = len(p.best.target_ids)
        assert n == t or (n < t and p.best.target_ids[-1] == engine.tokenizer.special.eos)
        assert p.best.cross_attention.shape[2] == n
        assert len(p.nodes) <= len(full.nodes)
        assert all(a.token == b.token and a.parent == b.parent for a, b in zip(p.nodes, full.nodes, strict=False))


def test_greedy_partials_grow_the_translation(engine: Engine) -> None:
    partials: list[Inspection] = []
    full = engine.inspect(TEXT, DecodeConfig(strategy="greedy"), progress=partials.append)
    ids = full.best.target_ids.tolist()
    for p in partials[1:]:
        assert p.best.target_ids.tolist() == ids[: len(p.steps)]


@pytest.mark.parametrize("after", [0, 1, 3])
def test_cancel_stops_within_one_step(engine: Engine, after: int) -> None:
    runner = CountingRunner(engine.runner)  # type: ignore[arg-type]
    counting = Engine(engine.bundle, engine.tokenizer, runner, engine.provider)
    seen: list[int] = []

    def cancel() -> bool:  # asked before every step; becomes True once `after` steps ran
        seen.append(runner.steps)
        return runner.steps >= after

    ins = counting.inspect(TEXT, DecodeConfig(strategy="beam", beam_size=4), cancel=cancel)
    assert runner.steps == after  # not one model call after the cancel was seen
    assert not ins.complete and len(ins.steps) == after
    assert ins.source_pieces[-1] == "</s>" and ins.encoder_attention.shape[-1] == len(ins.source_pieces)
    full = engine.inspect(TEXT, DecodeConfig(strategy="beam", beam_size=4))
    assert len(full.steps) > after
    for a, b in zip(ins.steps, full.steps, strict=False):
        np.testing.assert_array_equal(a.logits.dense_values(), b.logits.dense_values())
