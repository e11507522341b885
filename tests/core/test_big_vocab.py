"""NLLB's 256 206-piece vocabulary: an Inspection stays small, and what it keeps of the logits
gives the probabilities of an independent float64 softmax of the full rows; graphs with
external data (forced on a tiny model) load from a folder and a zip and decode identically."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from big_vocab import SENTENCE, VOCAB, build, teacher_forced_logits

from attnscope.core.config import DecodeConfig

BEAM = DecodeConfig(strategy="beam", beam_size=4, max_len=12)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("big-vocab")
    inline = build(root / "inline")
    external = build(root / "external", external_over=0)  # every weight in <graph>.data
    zipped = Path(shutil.make_archive(str(root / "external-zip"), "zip", root, "external"))
    return {"inline": inline, "external": external, "zip": zipped}


@pytest.fixture(scope="module")
def engine(bundles: dict[str, Path]):  # noqa: ANN201
    from attnscope.core.inference.engine import Engine

    return Engine.load(bundles["inline"], threads=1, device="cpu")


def full_softmax(z: np.ndarray, t: float) -> tuple[np.ndarray, float]:
    """float64 log-softmax of z / t written out, and log Z_t."""
    x = z / t
    m = x.max()
    log_z = m + math.log(float(np.exp(x - m).sum()))
    return x - log_z, log_z


def test_external_data_is_written_only_where_asked(bundles: dict[str, Path]) -> None:
    inline, external = bundles["inline"], bundles["external"]
    assert not list(inline.glob("*.data"))
    for g in ("encoder.onnx", "decoder.onnx"):
        assert (external / f"{g}.data").stat().st_size > 4 * VOCAB * 16  # the embedding table at least
        assert (external / g).stat().st_size < 200_000  # the graph alone
        assert (inline / g).stat().st_size > 4 * VOCAB * 16
    # The tied output projection reads the embedding table in place: one copy per graph.
    assert (external / "decoder.onnx.data").stat().st_size < 1.2 * 4 * VOCAB * 16 + 200_000


@pytest.mark.parametrize("kind", ["external", "zip"])
def test_external_data_bundle_decodes_identically(bundles: dict[str, Path], engine, kind: str) -> None:  # noqa: ANN001
    from attnscope.core.inference.engine import Engine

    other = Engine.load(bundles[kind], threads=1, device="cpu")
    assert other.alti is not None  # the ALTI+ graph and weights load beside external data
    a, b = engine.inspect(SENTENCE, BEAM), other.inspect(SENTENCE, BEAM)
    assert [(n.token, n.parent) for n in a.nodes] == [(n.token, n.parent) for n in b.nodes]
    np.testing.assert_array_equal(a.encoder_attention, b.encoder_attention)
    for x, y in zip(a.steps, b.steps, strict=True):
        np.testing.assert_array_equal(x.logits.values, y.logits.values)
        np.testing.assert_array_equal(x.cross_attention, y.cross_attention)
    assert a.contributions is not None and b.contributions is not None
    np.testing.assert_allclose(a.contributions.total, b.contributions.total, atol=1e-6)


def test_int8_mode_quantises_external_data(bundles: dict[str, Path], engine, tmp_path: Path,  # noqa: ANN001
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from attnscope.core.inference.engine import Engine

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    q_ext = Engine.load(bundles["external"], threads=1, device="cpu", precision="int8")
    q_in = Engine.load(bundles["inline"], threads=1, device="cpu", precision="int8")
    assert q_ext.precision == "int8" and q_ext.int8_difference is not None
    a, b = q_ext.inspect(SENTENCE, BEAM), q_in.inspect(SENTENCE, BEAM)
    assert [n.token for n in a.nodes] == [n.token for n in b.nodes]  # the same 8-bit weights
    np.testing.assert_array_equal(a.best.step_logits.values, b.best.step_logits.values)


def test_int8_mode_quantises_before_opening_the_float_graphs(bundles: dict[str, Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The quantiser needs about three times a graph's size: it runs while none of the
    bundle's float graphs is held open (at NLLB-600M: a peak of 10.9 GB instead of 15.4)."""
    import onnxruntime

    from attnscope.core.inference import int8
    from attnscope.core.inference.engine import Engine

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    events: list[tuple[str, str]] = []
    quantise, session = int8.quantize_8bit, onnxruntime.InferenceSession

    def logged_quantise(src: Path, dst: Path, weights: str = "uint8") -> None:
        events.append(("quantise", Path(src).name))
        quantise(src, dst, weights)

    def logged_session(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        events.append(("session", str(path)))
        return session(path, *args, **kwargs)

    monkeypatch.setattr(int8, "quantize_8bit", logged_quantise)
    monkeypatch.setattr(onnxruntime, "InferenceSession", logged_session)
    q = Engine.load(bundles["inline"], threads=1, device="cpu", precision="int8")
    assert q.precision == "int8"
    kinds = [k for k, _ in events]
    float_sessions = [i for i, (k, p) in enumerate(events) if k == "session" and Path(p).parent == bundles["inline"]]
    assert kinds.count("quantise") == 2 and len(float_sessions) >= 2  # encoder and decoder of each
    assert max(i for i, k in enumerate(kinds) if k == "quantise") < min(float_sessions)


def test_inspection_memory_is_bounded(engine) -> None:  # noqa: ANN001
    from attnscope.core.inference.inspection import inspection_nbytes
    from attnscope.core.inference.logits import TAIL_BINS, TOP

    ins = engine.inspect(SENTENCE, BEAM)
    rows = sum(len(r.node_ids) for r in ins.steps)
    assert rows >= 4 * 6  # beam 4 over several steps
    parts = inspection_nbytes(ins)
    # Per row: TOP + what it chose (at most 2 x beam + the start) ids and float32 logits,
    # log Z, and the tail histogram: about 3 KB, where the whole row takes 1 MB.
    per_row = (TOP + 2 * 4 + 1) * 8 + 8 + TAIL_BINS * 12 + 16
    assert parts["logits"] <= rows * per_row
    assert parts["logits"] * 200 < rows * VOCAB * 4
    assert parts["total"] < 2_000_000


def test_kept_logits_equal_the_full_softmax(engine, bundles: dict[str, Path]) -> None:  # noqa: ANN001
    ins = engine.inspect(SENTENCE, BEAM)
    start = engine.special.decoder_start
    for node in (ins.best.node_id, *[n.id for n in ins.nodes[1::7]]):
        path = ins.path(node)
        full = teacher_forced_logits(bundles["inline"], ins.source_ids, path.target_ids, start)
        for t, z in enumerate(full):
            row = path.step_logits[t]
            ids, logp = row.log_probs(1.0)
            want, _ = full_softmax(z, 1.0)
            # The top 256, most likely first: no piece left out beats the 256th kept one.
            assert np.all(np.diff(z[ids[:256]]) <= 1e-5)
            left_out = np.ones(VOCAB, bool)
            left_out[ids] = False
            assert z[left_out].max() <= z[ids[255]] + 1e-5
            np.testing.assert_allclose(logp, want[ids], atol=1e-5, rtol=0)  # log p column, T = 1
            np.testing.assert_allclose(np.exp(logp), np.exp(want[ids]), atol=1e-7, rtol=1e-5)  # the bars
            # The piece chosen is kept, with its log-probability (the tree's logprob).
            assert int(path.target_ids[t]) in ids.tolist()
            for t_ in (0.5, 2.0):
                lo, hi = row.log_partition_bounds(t_)
                _, true = full_softmax(z, t_)
                assert lo[0] - 1e-9 <= true <= hi[0] + 1e-9  # the certified interval holds
                est = row.log_partition(t_)[0]
                assert lo[0] - 1e-9 <= est <= hi[0] + 1e-9
                ids_t, lp_t = row.log_probs(t_)
                ratio = lp_t[:20] - lp_t[0]  # ratios between kept pieces: exact at any T
                np.testing.assert_allclose(ratio, (z[ids_t[:20]] - z[ids_t[0]]) / t_, atol=1e-5)
        last = ins.nodes[node]  # the tree's log-probability of the node, from the full row
        assert last.logprob == pytest.approx(full_softmax(full[-1], 1.0)[0][last.token], abs=1e-4)


def test_kept_set_at_256k_matches_the_sampler_on_the_full_row(engine, bundles: dict[str, Path]) -> None:  # noqa: ANN001
    from attnscope.core.inference.search import kept_set

    ins = engine.inspect(SENTENCE, BEAM)
    path = ins.best
    full = teacher_forced_logits(bundles["inline"], ins.source_ids, path.target_ids, engine.special.decoder_start)
    bos = ins.nodes[0].token
    checked = 0
    for t, z in enumerate(full):
        row = path.step_logits[t]
        for temperature in (0.5, 1.0, 1.7):
            for top_k in (1, 5, 40, 256):
                for top_p in (0.3, 0.9, 1.0):
                    want = kept_set(z, temperature, top_k, top_p, bos)  # the sampler, on all 256k logits
                    assert row.kept_set(temperature, top_k, top_p, bos).tolist() == want.tolist()
                    checked += 1
            # top-k off: exact at T = 1, where log Z is kept
            want = kept_set(z, 1.0, 0, 0.5, bos)
            got = row.kept_set(1.0, 0, 0.5, bos)
            assert got.tolist() == want[: len(got)].tolist() and (len(got) == len(want) or len(got) >= 255)
    assert checked > 100


@pytest.mark.parametrize("seed", [0, 1])
def test_step_logits_by_hand_on_random_rows(seed: int) -> None:
    """Rows the test draws itself: peaked, with ties, a chosen piece at the very bottom."""
    from attnscope.core.inference.logits import StepLogits
    from attnscope.core.inference.search import kept_set

    rng = np.random.default_rng(seed)
    v = 100_000
    x = (rng.standard_normal((3, v)) * 3).astype(np.float32)
    x[:, :40] = np.round(x[:, :40]) + 9  # ties among the top pieces
    x[2, 777] = x[2].min() - 5.0  # a piece chosen from the very bottom (a forced prefix)
    always = [[2], [2, 5, int(np.argsort(x[1])[v // 2])], [2, 777]]
    kept = StepLogits.keep(x, always)
    assert not kept.dense and kept.ranked >= 256
    for r in range(3):
        ids, z = kept.kept(r)
        assert z.tolist() == x[r, ids].tolist()
        assert set(always[r]) <= set(ids.tolist())
        assert np.sort(x[r])[-256:].tolist() == np.sort(z)[-256:].tolist()  # the 256 largest, exactly
        logp = z.astype(np.float64) - (x[r].max() + np.log(np.exp(x[r].astype(np.float64) - x[r].max()).sum()))
        np.testing.assert_allclose(kept.log_probs(1.0, r)[1], logp, atol=1e-9)
        for t in (0.3, 0.7, 1.5, 4.0):
            y = x[r].astype(np.float64) / t
            true = y.max() + math.log(float(np.exp(y - y.max()).sum()))
            lo, hi = kept.log_partition_bounds(t)
            assert lo[r] - 1e-9 <= true <= hi[r] + 1e-9
            assert lo[r] - 1e-9 <= kept.log_partition(t)[r] <= hi[r] + 1e-9
            for top_k, top_p in ((3, 1.0), (50, 0.7), (256, 0.95), (1, 0.2)):
                want = kept_set(x[r], t, top_k, top_p, 2)
                assert kept.kept_set(t, top_k, top_p, 2, row=r).tolist() == want.tolist()
    # Up to 64k pieces nothing is dropped: the rows are kept as they came.
    small = x[:, :60_000]
    dense = StepLogits.keep(small, always)
    assert dense.dense and dense.dense_values() is not None
    np.testing.assert_array_equal(dense.dense_values(), small)
    stacked = StepLogits.stack([kept[0], kept[2]])  # a path's rows, of different widths
    assert len(stacked) == 2 and stacked.kept(1)[0].tolist() == kept.kept(2)[0].tolist()
