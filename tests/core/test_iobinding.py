"""The IO-binding runner (the cache kept on the device, used on CUDA) against the plain one.

No GPU is needed: the same binding code runs with the CPU device, and must give exactly
what the plain runner gives, tree, logits and attention, beam reorders included."""

from __future__ import annotations

import numpy as np
import pytest

from attnscope.core.config import DecodeConfig
from attnscope.core.inference.engine import Engine, OrtRunner
from attnscope.core.inference.iobinding import DeviceTensor, IoBindingRunner

TEXT = "The teacher reads a new book and the child drinks the milk."


@pytest.mark.parametrize("cfg", [DecodeConfig(strategy="beam", beam_size=4),
                                 DecodeConfig(strategy="sample", seed=1, temperature=1.3)])
def test_bound_cache_decodes_exactly_as_the_plain_runner(cfg: DecodeConfig) -> None:
    plain = Engine.load(None, threads=1, device="cpu")
    assert isinstance(plain.runner, OrtRunner)
    bound = Engine(plain.bundle, plain.tokenizer, IoBindingRunner(plain.runner, "cpu"), plain.provider)
    a, b = plain.inspect(TEXT, cfg), bound.inspect(TEXT, cfg)
    assert a.translation == b.translation and len(a.nodes) == len(b.nodes)
    assert [(n.token, n.parent) for n in a.nodes] == [(n.token, n.parent) for n in b.nodes]
    for x, y in zip(a.steps, b.steps, strict=True):
        np.testing.assert_allclose(x.logits.dense_values(), y.logits.dense_values(), atol=1e-5)
        np.testing.assert_allclose(x.self_attention, y.self_attention, atol=1e-6)
        np.testing.assert_allclose(x.cross_attention, y.cross_attention, atol=1e-6)
        assert x.self_value_norms is not None and y.self_value_norms is not None  # norm-based attention too
        np.testing.assert_allclose(x.self_value_norms, y.self_value_norms, atol=1e-5)


def test_device_gather_picks_the_rows() -> None:
    plain = Engine.load(None, threads=1, device="cpu")
    runner = IoBindingRunner(plain.runner, "cpu")  # type: ignore[arg-type]
    x = np.arange(2 * 4 * 3 * 5 * 2, dtype=np.float32).reshape(2, 4, 3, 5, 2)
    t = DeviceTensor(runner, runner._on_device(x))
    rows = np.array([3, 3, 0, 1])
    np.testing.assert_array_equal(t[:, rows].numpy(), x[:, rows])
    assert t[:, rows].shape == (2, 4, 3, 5, 2)
