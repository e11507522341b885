"""The shipped default model translates every required pair exactly (greedy and beam 4)."""

from __future__ import annotations

import pytest

from attnscope.core.bundle import DEFAULT_BUNDLE
from attnscope.core.config import DecodeConfig
from attnscope.core.data import required_pairs, required_variants

pytestmark = pytest.mark.skipif(not (DEFAULT_BUNDLE / "config.json").exists(),
                                reason="the default bundle is not built in this checkout")


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201
    from attnscope.core.inference.engine import Engine

    return Engine.load()


def test_first_screen_sentence(engine) -> None:  # noqa: ANN001
    assert engine.inspect("I love you").translation == "나는 너를 사랑한다"


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_every_required_pair_exactly(engine, strategy: str) -> None:  # noqa: ANN001
    cfg = DecodeConfig(strategy=strategy, beam_size=4)
    wrong = [(p.en, p.ko, got) for p in required_pairs() + required_variants()
             if (got := engine.inspect(p.en, cfg).translation) != p.ko]
    assert not wrong, wrong


def test_bundle_is_small_enough_for_git() -> None:
    size = sum(f.stat().st_size for f in DEFAULT_BUNDLE.rglob("*") if f.is_file())
    assert size <= 25 * 2**20, size


def test_shipped_snapshots_load_and_run(engine) -> None:  # noqa: ANN001
    from attnscope.core.inference.engine import Engine

    snaps = engine.bundle.snapshots()
    assert len(snaps) >= 4 and snaps[0].step == 0 and snaps[-1].meta["graphs"] == "final"
    # log-spaced over training (0, 1, 3, 10, 30, 100 %); those left out are named in config.json
    kept, dropped = [s.step for s in snaps], engine.bundle.config["snapshots"].get("dropped", [])
    assert sorted(kept + dropped) == [0, 12, 36, 120, 360, 1200], (kept, dropped)
    size = sum(f.stat().st_size for f in DEFAULT_BUNDLE.rglob("*") if f.is_file())
    assert size <= 25_000_000, size
    nll = []
    for s in snaps:
        ins = Engine.load(DEFAULT_BUNDLE, snapshot=s.name).inspect("I love you", DecodeConfig(strategy="greedy"))
        assert ins.encoder_attention.shape[0] == engine.bundle.model.n_encoder_layers
        nll.append(s.meta["probe_nll"])
        q = s.meta["quantization"]
        if s.meta["graphs"] == "own":  # 8-bit: its attention was measured against float
            assert q["cross_mean_abs_diff"] < 0.01 and q["cross_max_abs_diff"] < 0.2, q
    assert ins.translation == "나는 너를 사랑한다"  # the last one is the final model
    assert nll == sorted(nll, reverse=True)  # every snapshot learnt more than the one before
    heads = engine.bundle.heads()
    assert heads["best_aer"] < 0.3 and heads["aligned_sentences"] == 200
