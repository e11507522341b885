"""The app's fake engine is the real Engine: only the model behind it is fake.

Its runner reads the source from the cross-attention keys and the fed pieces from the
key/value cache, so each row's numbers depend on that row's own history; replaying every
tree node's pieces one at a time on a fresh cache must give what the decode recorded.
"""

from __future__ import annotations

import numpy as np
import pytest

from attnscope.app.testing import FakeEngine, FakeRunner
from attnscope.core.config import DecodeConfig
from attnscope.core.inference.engine import Engine


def replay(runner: FakeRunner, src: np.ndarray, fed: list[int]):  # noqa: ANN201
    """Feed ``fed`` one piece at a time to a batch of one, from an empty cache."""
    cfg = runner.cfg
    enc = runner.encode(src[None], np.ones((1, len(src)), np.int64))
    past = np.zeros((cfg.n_decoder_layers, 1, cfg.n_heads, 0, cfg.d_k), np.float32)
    past_v = past
    out = None
    for t, tok in enumerate(fed):
        out = runner.step(np.array([[tok]], np.int64), np.array([t], np.int64), np.ones((1, len(src)), np.int64),
                          enc.cross_k, enc.cross_v, past, past_v)
        past, past_v = out.present_k, out.present_v
    return enc, out


@pytest.mark.parametrize("cfg", [DecodeConfig(strategy="beam", beam_size=4), DecodeConfig(strategy="greedy"),
                                 DecodeConfig(strategy="sample", seed=3, temperature=1.5)])
def test_every_recorded_row_replays_from_scratch(cfg: DecodeConfig) -> None:
    engine = FakeEngine()
    assert isinstance(engine, Engine) and type(engine).inspect is not Engine.inspect  # records, then delegates
    ins = engine.inspect("She eats an apple today.", cfg)
    assert engine.calls == [("She eats an apple today.", cfg)]
    runner = engine.runner
    assert isinstance(runner, FakeRunner)
    enc, _ = replay(runner, ins.source_ids, [ins.nodes[0].token])
    np.testing.assert_array_equal(ins.encoder_attention, enc.enc_attn[:, 0])
    for rec in ins.steps:
        for k, nid in enumerate(rec.node_ids.tolist()):
            fed, n = [], nid
            while n >= 0:
                fed.append(ins.nodes[n].token)
                n = ins.nodes[n].parent
            _, out = replay(runner, ins.source_ids, fed[::-1])
            np.testing.assert_array_equal(rec.logits.dense_values()[k], out.logits[0])
            np.testing.assert_array_equal(rec.self_attention[:, :, k], out.self_attn[:, 0, :, 0])
            np.testing.assert_array_equal(rec.cross_attention[:, :, k], out.cross_attn[:, 0, :, 0])
    assert ins.translation == engine.tokenizer.decode(ins.best.target_ids.tolist()) != ""


def test_the_runner_checks_its_inputs() -> None:
    runner = FakeEngine().runner
    assert isinstance(runner, FakeRunner)
    src = np.array([5, 6, 3], np.int64)
    enc, out = replay(runner, src, [2, 7])
    with pytest.raises(ValueError, match="position 5 with a cache of 2"):
        runner.step(np.array([[8]], np.int64), np.array([5], np.int64), np.ones((1, 3), np.int64),
                    enc.cross_k, enc.cross_v, out.present_k, out.present_v)
