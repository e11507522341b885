"""Tests for core.inference.search: the engine loop is driven by a fake model that
looks next-token distributions up by the full generated prefix, so a wrong
parent_rows reorder feeds the wrong prefix and changes the result."""

from __future__ import annotations

import itertools
import math
import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnscope.core.inference.search import (
    BeamSearch,
    GreedySearch,
    SamplingSearch,
    Search,
    SearchResult,
    length_penalty,
    log_softmax,
    make_search,
)

V, UNK, BOS, EOS, A, B, C = 6, 0, 1, 2, 3, 4, 5
NAMES = {UNK: "unk", BOS: "<s>", EOS: "</s>", A: "A", B: "B", C: "C"}

Model = Callable[[tuple[int, ...]], np.ndarray]  # generated prefix -> logits [V]


@dataclass(frozen=True)
class Cfg:
    strategy: str = "beam"
    beam_size: int = 2
    length_penalty: float = 0.0
    n_best: int = 10
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    max_len: int = 10
    forced_prefix: tuple[int, ...] = ()


def dist(probs: dict[int, float]) -> np.ndarray:
    p = np.array([probs.get(t, 0.0) for t in range(V)])
    assert p.sum() == pytest.approx(1.0) and (p > 0).all()
    return p


def table_model(table: dict[tuple[int, ...], dict[int, float]], default: dict[int, float]) -> Model:
    """Logits = log p(next | generated prefix); prefixes missing from the table use default."""
    logits = {k: np.log(dist(v)) for k, v in table.items()}
    fallback = np.log(dist(default))
    return lambda prefix: logits.get(prefix, fallback)


def random_model(seed: int, eos_bias: float = 0.7) -> Model:
    """A deterministic pseudo-random distribution for every prefix; EOS grows likelier with depth."""

    def model(prefix: tuple[int, ...]) -> np.ndarray:
        z = np.random.default_rng([seed, len(prefix), *prefix]).normal(0.0, 2.0, V)
        z[EOS] += eos_bias * len(prefix)
        return z

    return model


class Run(NamedTuple):
    result: SearchResult
    parents: list[list[int]]
    fed: list[list[int]]


def run(search: Search, model: Model, reorder: bool = True) -> Run:
    """The engine loop; cache[row] holds the tokens row has fed so far (BOS first)."""
    cache: list[tuple[int, ...]] = [()]
    parents_log, fed_log = [], []
    while not search.done:
        tokens = search.input_tokens()
        assert tokens.dtype == np.int64 and len(tokens) == len(cache)
        fed = [c + (int(t),) for c, t in zip(cache, tokens, strict=True)]
        logits = np.stack([model(f[1:]) for f in fed]).astype(np.float64)
        parents = search.advance(logits)
        assert parents.dtype == np.int64
        rows = parents if reorder else [min(i, len(fed) - 1) for i in range(len(parents))]
        cache = [fed[p] for p in rows]
        parents_log.append(parents.tolist())
        fed_log.append(tokens.tolist())
    return Run(search.result(), parents_log, fed_log)


def decode(model: Model, **cfg_fields: object) -> Run:
    cfg = Cfg(**cfg_fields)  # type: ignore[arg-type]
    return run(make_search(cfg, bos_id=BOS, eos_id=EOS, vocab_size=V), model)


def path_tokens(res: SearchResult, node_id: int) -> tuple[int, ...]:
    out = []
    while node_id > 0:
        out.append(res.nodes[node_id].token)
        node_id = res.nodes[node_id].parent
    return tuple(reversed(out))


def check_tree(r: Run, capacity: int, alpha: float) -> None:
    """Structural invariants that hold for every strategy and every model."""
    res, nodes = r.result, r.result.nodes
    assert (nodes[0].id, nodes[0].parent, nodes[0].token, nodes[0].step) == (0, -1, BOS, 0)
    children: dict[int, list[int]] = {n.id: [] for n in nodes}
    for i, n in enumerate(nodes[1:], start=1):
        p = nodes[n.parent]
        assert n.id == i and 0 <= n.parent < i and n.step == p.step + 1 and n.token != BOS
        assert n.cum_logprob == pytest.approx(p.cum_logprob + n.logprob, abs=1e-9)
        assert n.score == pytest.approx(n.cum_logprob / length_penalty(n.step, alpha), abs=1e-9)
        children[n.parent].append(i)
    kept = {"alive", "finished"}
    for n in nodes:
        kids = children[n.id]
        if n.status == "finished":
            assert n.token == EOS and not kids
        elif n.status == "alive":  # an unfinished final leaf, or on the path to a final hypothesis
            assert (not kids and n.token != EOS) or any(nodes[k].status in kept for k in kids)
        else:
            assert n.status == "pruned" and not any(nodes[k].status in kept for k in kids)
    assert sum(n.status == "finished" for n in nodes) <= capacity
    # hypotheses: finished first, each group best first; node paths reproduce tokens
    flags = [h.finished for h in res.hypotheses]
    assert flags == sorted(flags, reverse=True)
    for h, nxt in itertools.pairwise(res.hypotheses):
        if h.finished == nxt.finished:
            assert h.score >= nxt.score
    for h in res.hypotheses:
        node = nodes[h.node_id]
        assert path_tokens(res, h.node_id) == h.tokens
        assert node.status == ("finished" if h.finished else "alive")
        assert (h.score, h.cum_logprob) == (node.score, node.cum_logprob)
        assert (h.tokens[-1] == EOS) == h.finished
    assert res.truncated == (not res.hypotheses[0].finished)
    # alive_per_step[t] are the nodes whose tokens were fed at model step t
    assert len(res.alive_per_step) == len(r.fed) == max(n.step for n in nodes)
    for t, (ids, fed) in enumerate(zip(res.alive_per_step, r.fed, strict=True)):
        assert [nodes[i].token for i in ids] == fed
        assert all(nodes[i].step == t for i in ids)


# ---------------------------------------------------------------------------
# The hand-checked toy model
# ---------------------------------------------------------------------------

TOY = table_model(
    {
        (): {A: 0.5, B: 0.3, EOS: 0.1, C: 0.05, UNK: 0.04, BOS: 0.01},
        (A,): {C: 0.7, EOS: 0.2, B: 0.05, A: 0.03, UNK: 0.01, BOS: 0.01},
        (B,): {EOS: 0.9, A: 0.05, C: 0.03, B: 0.01, UNK: 0.005, BOS: 0.005},
        (A, C): {EOS: 0.6, A: 0.3, B: 0.05, C: 0.03, UNK: 0.01, BOS: 0.01},
        (A, B): {EOS: 0.5, A: 0.2, B: 0.1, C: 0.1, UNK: 0.05, BOS: 0.05},
    },
    default={EOS: 0.8, A: 0.1, B: 0.05, C: 0.03, UNK: 0.01, BOS: 0.01},
)


def test_beam2_hand_checked() -> None:
    # Beam 2, alpha 0 (cumulative probabilities in brackets):
    # step 1: top-4 = A(.5) B(.3) EOS(.1) C(.05); EOS is rank 3 > beam -> pruned leaf.
    #         alive A, B; leaves EOS, C.                    nodes 1 A, 2 B, 3 EOS, 4 C
    # step 2: A.C(.35) B.EOS(.27) A.EOS(.10) A.B(.025); B.EOS is rank 2 -> finished;
    #         A.EOS rank 3 -> pruned leaf; alive A.C, A.B.  nodes 5 AC, 6 BE, 7 AE, 8 AB
    # step 3: A.C.EOS(.35*.6=.21) A.C.A(.105) A.C.B(.0175) A.B.EOS(.0125): A.C.EOS
    #         finishes -> 2 finished, stop. A.B.EOS (rank 4) is a pruned leaf.
    #                                                       nodes 9 ACE, 10 ACA, 11 ACB, 12 ABE
    # hypotheses: [B EOS] log(.27) = -1.3093, [A C EOS] log(.21) = -1.5606.
    r = decode(TOY, beam_size=2)
    res = r.result
    assert [(h.tokens, h.finished) for h in res.hypotheses] == [((B, EOS), True), ((A, C, EOS), True)]
    assert res.hypotheses[0].score == pytest.approx(math.log(0.3 * 0.9))
    assert res.hypotheses[1].score == pytest.approx(math.log(0.5 * 0.7 * 0.6))
    assert not res.truncated
    assert [n.token for n in res.nodes] == [BOS, A, B, EOS, C, C, EOS, EOS, B, EOS, A, B, EOS]
    assert [n.parent for n in res.nodes] == [-1, 0, 0, 0, 0, 1, 2, 1, 1, 5, 5, 5, 8]
    status = {n.id: n.status for n in res.nodes}
    assert [i for i, s in status.items() if s == "finished"] == [6, 9]
    assert [i for i, s in status.items() if s == "alive"] == [0, 1, 2, 5]
    assert r.parents == [[0, 0], [0, 0], [0, 0]]
    assert [a.tolist() for a in res.alive_per_step] == [[0], [1, 2], [5, 8]]
    assert res.nodes[7].logprob == pytest.approx(math.log(0.2))
    check_tree(r, capacity=2, alpha=0.0)


def test_length_penalty_changes_winner() -> None:
    # Same search, alpha = 2: lp(2) = (7/6)^2 = 1.3611, lp(3) = (8/6)^2 = 1.7778.
    # [B EOS]: -1.3093 / 1.3611 = -0.9620;  [A C EOS]: -1.5606 / 1.7778 = -0.8779 -> long one wins.
    res = decode(TOY, beam_size=2, length_penalty=2.0).result
    assert [h.tokens for h in res.hypotheses] == [(A, C, EOS), (B, EOS)]
    assert res.hypotheses[0].score == pytest.approx(math.log(0.21) / (8 / 6) ** 2)
    assert res.hypotheses[0].cum_logprob == pytest.approx(math.log(0.21))
    assert length_penalty(3, 0.0) == 1.0 and length_penalty(1, 1.0) == 1.0


def test_greedy_equals_beam1() -> None:
    greedy = decode(TOY, strategy="greedy", beam_size=4).result  # beam_size is ignored by greedy
    beam1 = decode(TOY, strategy="beam", beam_size=1).result
    assert greedy.nodes == beam1.nodes and greedy.hypotheses == beam1.hypotheses
    assert [h.tokens for h in greedy.hypotheses] == [(A, C, EOS)]
    assert greedy.hypotheses[0].cum_logprob == pytest.approx(math.log(0.21))


@given(seed=st.integers(0, 2**32 - 1), max_len=st.integers(1, 6))
@settings(max_examples=25, deadline=None)
def test_greedy_equals_beam1_random(seed: int, max_len: int) -> None:
    model = random_model(seed)
    greedy = decode(model, strategy="greedy", max_len=max_len)
    beam1 = decode(model, strategy="beam", beam_size=1, max_len=max_len)
    assert greedy.result.nodes == beam1.result.nodes
    # greedy takes the argmax (never BOS) at every step
    h = greedy.result.hypotheses[0]
    for i in range(len(h.tokens)):
        z = model(h.tokens[:i]).copy()
        z[BOS] = -np.inf
        assert h.tokens[i] == int(np.argmax(z))
    check_tree(greedy, capacity=1, alpha=0.0)


def test_parent_rows_reorder() -> None:
    # step 2 ranks B.A (.4*.9=.36, from row 1) above A.C (.55*.3=.165, row 0): parent_rows [1, 0].
    # step 3: B.A.EOS (.324) and A.C.EOS (.1485) both finish.
    table = {
        (): {A: 0.55, B: 0.4, EOS: 0.02, C: 0.02, UNK: 0.005, BOS: 0.005},
        (A,): {C: 0.3, A: 0.26, B: 0.24, EOS: 0.1, UNK: 0.05, BOS: 0.05},
        (B,): {A: 0.9, EOS: 0.05, C: 0.03, B: 0.01, UNK: 0.005, BOS: 0.005},
        (B, A): {EOS: 0.9, A: 0.05, B: 0.03, C: 0.01, UNK: 0.005, BOS: 0.005},
        (A, C): {EOS: 0.9, A: 0.05, B: 0.03, C: 0.01, UNK: 0.005, BOS: 0.005},
    }
    model = table_model(table, default={UNK: 0.5, EOS: 0.2, A: 0.1, B: 0.1, C: 0.09, BOS: 0.01})
    good = run(make_search(Cfg(beam_size=2), BOS, EOS, V), model)
    assert good.parents[1] == [1, 0]
    hyps = good.result.hypotheses
    assert [h.tokens for h in hyps] == [(B, A, EOS), (A, C, EOS)]
    assert [h.cum_logprob for h in hyps] == pytest.approx([math.log(0.324), math.log(0.1485)])
    check_tree(good, capacity=2, alpha=0.0)
    # an engine that forgets to reorder feeds the wrong prefixes and gets other scores
    bad = run(make_search(Cfg(beam_size=2), BOS, EOS, V), model, reorder=False).result
    assert bad.hypotheses[0].cum_logprob != pytest.approx(hyps[0].cum_logprob)


def test_forced_prefix_beam() -> None:
    # step 1 forced B (log .3) from the root; runner-up leaves A, EOS (capped at beam_size = 2).
    # step 2: B.EOS (.27) finishes, B.A (.015) and B.C (.009) continue -> the beam grows again.
    # step 3 (default dist): B.A.EOS (.012) finishes -> 2 finished, stop.
    r = decode(TOY, beam_size=2, forced_prefix=(B,))
    res = r.result
    assert [h.tokens for h in res.hypotheses] == [(B, EOS), (B, A, EOS)]
    assert res.hypotheses[1].cum_logprob == pytest.approx(math.log(0.3 * 0.05 * 0.8))
    first = [n for n in res.nodes if n.step == 1]
    assert [(n.token, n.forced, n.status) for n in first] == [
        (B, True, "alive"),
        (A, False, "pruned"),
        (EOS, False, "pruned"),
    ]
    assert first[0].logprob == pytest.approx(math.log(0.3))
    assert [len(a) for a in res.alive_per_step] == [1, 1, 2]
    assert not any(n.forced for n in res.nodes if n.step > 1)
    check_tree(r, capacity=2, alpha=0.0)


def test_forced_prefix_collapses_then_regrows() -> None:
    res = decode(TOY, beam_size=3, forced_prefix=(A, B)).result
    assert all(h.tokens[:2] == (A, B) for h in res.hypotheses)
    assert [len(a) for a in res.alive_per_step][:3] == [1, 1, 1]
    assert len(res.alive_per_step[3]) == 3  # after the prefix the beam is full again


@pytest.mark.parametrize("strategy", ["greedy", "sample"])
def test_forced_prefix_then_redecode(strategy: str) -> None:
    res = decode(TOY, strategy=strategy, forced_prefix=(C,), seed=3).result
    h = res.hypotheses[0]
    assert h.tokens[0] == C and res.nodes[h.node_id].status == "finished"
    assert h.tokens == (C, EOS) or strategy == "sample"
    assert res.nodes[1].forced and res.nodes[1].logprob == pytest.approx(math.log(0.05))


def test_forced_eos_finishes_immediately() -> None:
    search = make_search(Cfg(beam_size=3, forced_prefix=(EOS,)), BOS, EOS, V)
    parents = search.advance(TOY(())[None, :])
    assert parents.tolist() == [] and search.done
    res = search.result()
    assert [(h.tokens, h.finished) for h in res.hypotheses] == [((EOS,), True)]
    assert res.hypotheses[0].cum_logprob == pytest.approx(math.log(0.1))
    with pytest.raises(RuntimeError, match="done"):
        search.advance(TOY(())[None, :])


def test_max_len_truncation() -> None:
    loop = table_model({}, default={A: 0.6, EOS: 0.1, B: 0.1, C: 0.1, UNK: 0.05, BOS: 0.05})
    r = decode(loop, strategy="greedy", max_len=3)
    res = r.result
    (h,) = res.hypotheses
    assert h.tokens == (A, A, A) and not h.finished and res.truncated
    assert res.nodes[h.node_id].status == "alive"
    check_tree(r, capacity=1, alpha=0.0)
    # beam 2, max_len 2: [B EOS] finished at step 2; A.C and A.B are finalised unfinished
    r = decode(TOY, beam_size=2, max_len=2)
    assert [(h.tokens, h.finished) for h in r.result.hypotheses] == [
        ((B, EOS), True),
        ((A, C), False),
        ((A, B), False),
    ]
    assert not r.result.truncated  # the best hypothesis did finish
    check_tree(r, capacity=2, alpha=0.0)
    res = decode(TOY, beam_size=2, max_len=1).result
    assert [h.tokens for h in res.hypotheses] == [(A,), (B,)] and res.truncated


def test_bos_never_generated_nor_counted() -> None:
    # BOS is the model's favourite token; it is masked, and the beam still sees 2K real candidates
    model = table_model({}, default={BOS: 0.9, A: 0.04, B: 0.03, EOS: 0.015, C: 0.01, UNK: 0.005})
    r = decode(model, beam_size=2, max_len=3)
    assert [n.token for n in r.result.nodes if n.step == 1] == [A, B, EOS, C]
    assert all(n.token != BOS for n in r.result.nodes[1:])
    assert r.result.nodes[1].logprob == pytest.approx(math.log(0.04))  # not renormalised
    check_tree(r, capacity=2, alpha=0.0)
    sample = decode(model, strategy="sample", max_len=5, seed=1).result
    assert BOS not in sample.hypotheses[0].tokens


def test_n_best_and_early_result() -> None:
    res = decode(TOY, beam_size=2, n_best=1).result
    assert [h.tokens for h in res.hypotheses] == [(B, EOS)]
    search = make_search(Cfg(beam_size=2), BOS, EOS, V)
    search.advance(TOY(())[None, :])
    early = search.result()  # e.g. the user cancelled: alive rows become unfinished hypotheses
    assert [h.tokens for h in early.hypotheses] == [(A,), (B,)] and early.truncated


def test_beam_is_not_monotone_in_width() -> None:
    # Documents a search error: beam 2 keeps B.A (.2) and B.B (.196) over greedy's A.A (.17),
    # but A.A.EOS (.17*.97 = .165) beats B.A.unk.EOS (.2*.31*.8 = .0496). So "beam >= greedy" only holds
    # for an exhaustive beam (see test_exhaustive_beam_finds_optimum).
    model = table_model(
        {
            (): {A: 0.5, B: 0.4, EOS: 0.05, C: 0.03, UNK: 0.01, BOS: 0.01},
            (A,): {A: 0.34, B: 0.33, C: 0.31, EOS: 0.01, UNK: 0.005, BOS: 0.005},
            (B,): {A: 0.5, B: 0.49, EOS: 0.005, C: 0.003, UNK: 0.001, BOS: 0.001},
            (A, A): {EOS: 0.97, A: 0.01, B: 0.01, C: 0.005, UNK: 0.004, BOS: 0.001},
            (B, A): {UNK: 0.31, A: 0.3, B: 0.29, C: 0.08, EOS: 0.01, BOS: 0.01},
            (B, B): {UNK: 0.31, A: 0.3, B: 0.29, C: 0.08, EOS: 0.01, BOS: 0.01},
        },
        default={EOS: 0.8, A: 0.1, B: 0.05, C: 0.03, UNK: 0.01, BOS: 0.01},
    )
    greedy = decode(model, strategy="greedy").result.hypotheses[0]
    beam = decode(model, beam_size=2).result.hypotheses[0]
    assert greedy.tokens == (A, A, EOS) and greedy.finished and beam.finished
    assert beam.tokens == (B, A, UNK, EOS)
    assert beam.score < greedy.score


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------

SKEW = {UNK: 0.1, A: 0.3, B: 0.25, C: 0.16, EOS: 0.14, BOS: 0.05}


def sampled(seed: int, **cfg: object) -> tuple[int, ...]:
    res = decode(table_model({}, default=SKEW), strategy="sample", seed=seed, **cfg).result
    return res.hypotheses[0].tokens


def test_sampling_deterministic_for_seed() -> None:
    a = decode(TOY, strategy="sample", seed=11).result
    b = decode(TOY, strategy="sample", seed=11).result
    assert a.nodes == b.nodes and a.hypotheses == b.hypotheses
    assert len({sampled(s, max_len=6) for s in range(20)}) > 1


def test_sampling_top_k() -> None:
    seen = {t for s in range(30) for t in sampled(s, top_k=2, max_len=5)}
    assert seen == {A, B}  # the two most likely non-BOS tokens, never anything else
    assert len({t for s in range(30) for t in sampled(s, max_len=5)}) > 2


def test_sampling_top_p() -> None:
    # without BOS: A .316, B .263, C .168, EOS .147, unk .105 -> cumsum .316, .579, ...
    assert {t for s in range(30) for t in sampled(s, top_p=0.5, max_len=5)} == {A, B}
    assert {t for s in range(10) for t in sampled(s, top_p=0.2, max_len=3)} == {A}
    assert {t for s in range(10) for t in sampled(s, top_p=1e-9, max_len=3)} == {A}  # >= 1 token
    # top-k first (A, B, C renormalised: .423 .352 .225), then top-p .6 -> {A, B}
    assert {t for s in range(30) for t in sampled(s, top_k=3, top_p=0.6, max_len=5)} == {A, B}


def test_sampling_temperature_only_shapes_sampling() -> None:
    res = decode(table_model({}, default=SKEW), strategy="sample", temperature=1e-3, max_len=4).result
    assert res.hypotheses[0].tokens == (A, A, A, A)  # T -> 0 is greedy
    assert all(n.logprob == pytest.approx(math.log(0.3)) for n in res.nodes[1:])  # stored at T = 1


@given(seed=st.integers(0, 2**32 - 1), top_k=st.integers(1, 4), top_p=st.floats(0.05, 1.0))
@settings(max_examples=25, deadline=None)
def test_sampling_stays_in_filtered_set(seed: int, top_k: int, top_p: float) -> None:
    model = random_model(seed, eos_bias=0.3)
    cfg = Cfg(strategy="sample", seed=seed, top_k=top_k, top_p=top_p, temperature=0.7, max_len=6)
    r = run(make_search(cfg, BOS, EOS, V), model)
    check_tree(r, capacity=1, alpha=0.0)
    h = r.result.hypotheses[0]
    for i, tok in enumerate(h.tokens):
        z = model(h.tokens[:i]).copy()
        z[BOS] = -np.inf
        assert tok in np.argsort(-z, kind="stable")[:top_k]


# ---------------------------------------------------------------------------
# Beam properties on random models
# ---------------------------------------------------------------------------


def reference_beam(model: Model, k: int, max_len: int) -> list[tuple[tuple[int, ...], float]]:
    """Naive list-based beam search (no rows, no cache): finished then unfinished, best first."""
    beams: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    finished: list[tuple[tuple[int, ...], float]] = []
    for _ in range(max_len):
        cands = []
        for r, (toks, cum) in enumerate(beams):
            logp = log_softmax(model(toks))
            cands += [(cum + logp[t], r, t, toks) for t in range(V) if t != BOS]
        cands.sort(key=lambda c: (-c[0], c[1], c[2]))
        beams = []
        for rank, (s, _, t, toks) in enumerate(cands[: 2 * k]):
            if t == EOS and rank < k and len(finished) < k:
                finished.append((toks + (t,), s))
            elif t != EOS and len(beams) < k:
                beams.append((toks + (t,), s))
        if len(finished) >= k:
            beams = []
            break
    return sorted(finished, key=lambda h: -h[1]) + sorted(beams, key=lambda h: -h[1])


@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 4),
    max_len=st.integers(1, 6),
    alpha=st.sampled_from([0.0, 0.6, 1.5]),
    prefix=st.lists(st.sampled_from([UNK, A, B, C]), max_size=2),
)
@settings(max_examples=40, deadline=None)
def test_beam_tree_invariants_random(
    seed: int, k: int, max_len: int, alpha: float, prefix: list[int]
) -> None:
    model = random_model(seed)
    prefix_t = tuple(prefix[:max_len])
    r = decode(model, beam_size=k, max_len=max_len, length_penalty=alpha, forced_prefix=prefix_t)
    check_tree(r, capacity=k, alpha=alpha)
    assert all(h.tokens[: len(prefix_t)] == prefix_t for h in r.result.hypotheses)
    for t, ids in enumerate(r.result.alive_per_step):
        assert len(ids) <= (1 if t <= len(prefix_t) else k)
    steps = [n.step for n in r.result.nodes if n.step]
    assert max(steps.count(s) for s in set(steps)) <= 2 * k  # only the top-2K candidates become nodes


@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 4), max_len=st.integers(1, 6))
@settings(max_examples=30, deadline=None)
def test_beam_matches_reference(seed: int, k: int, max_len: int) -> None:
    model = random_model(seed)
    res = decode(model, beam_size=k, max_len=max_len).result
    ref = reference_beam(model, k, max_len)
    assert [h.tokens for h in res.hypotheses] == [toks for toks, _ in ref]
    assert [h.cum_logprob for h in res.hypotheses] == pytest.approx([s for _, s in ref], abs=1e-9)


@given(seed=st.integers(0, 2**32 - 1), alpha=st.sampled_from([0.0, 0.6, 2.0]))
@settings(max_examples=20, deadline=None)
def test_exhaustive_beam_finds_optimum(seed: int, alpha: float) -> None:
    # max_len 3, 4 non-EOS continuations: at most 4**2 * 5 = 80 candidates per step, so beam 80
    # keeps everything and must find the best of the 1 + 4 + 16 EOS-terminated sequences.
    model = random_model(seed, eos_bias=0.0)
    res = decode(model, beam_size=80, max_len=3, length_penalty=alpha, n_best=100).result
    finished = [h for h in res.hypotheses if h.finished]
    assert len(finished) == 21

    def score(seq: tuple[int, ...]) -> float:
        cum = sum(log_softmax(model(seq[:i]))[seq[i]] for i in range(len(seq)))
        return float(cum / length_penalty(len(seq), alpha))

    seqs = [s + (EOS,) for n in range(3) for s in itertools.product([UNK, A, B, C], repeat=n)]
    assert res.hypotheses[0].score == pytest.approx(max(score(s) for s in seqs), abs=1e-9)
    greedy = decode(model, strategy="greedy", max_len=3, length_penalty=alpha).result.hypotheses[0]
    if greedy.finished:
        assert res.hypotheses[0].score >= greedy.score - 1e-12


# ---------------------------------------------------------------------------
# Helpers, config validation and misuse
# ---------------------------------------------------------------------------


def test_log_softmax_stable() -> None:
    out = log_softmax(np.array([[1000.0, 1000.0, -np.inf], [0.0, 1.0, 2.0]], dtype=np.float32))
    assert out.dtype == np.float64
    assert out[0].tolist() == pytest.approx([math.log(0.5), math.log(0.5), -math.inf])
    assert np.exp(out[1]).sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("beam_size", 0, r"beam_size must be >= 1, got 0"),
        ("temperature", 0.0, r"temperature must be > 0"),
        ("temperature", float("nan"), r"temperature must be > 0"),
        ("top_p", 0.0, r"top_p must be in \(0, 1\]"),
        ("top_p", 1.5, r"top_p must be in \(0, 1\]"),
        ("max_len", 0, r"max_len must be >= 1"),
        ("strategy", "nucleus", r"unknown strategy 'nucleus'"),
        ("n_best", 0, r"n_best must be >= 1"),
        ("top_k", -1, r"top_k must be >= 0"),
        ("forced_prefix", (BOS,), r"forced_prefix token 1 is BOS"),
        ("forced_prefix", (A,) * 11, r"forced_prefix has 11 tokens but max_len is 10"),
    ],
)
def test_bad_config(field: str, value: object, message: str) -> None:
    cfg = replace(Cfg(), **{field: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        make_search(cfg, BOS, EOS, V)
    with pytest.raises(ValueError, match=message):
        BeamSearch(cfg, BOS, EOS, V)


def test_bad_vocab_and_logits() -> None:
    with pytest.raises(ValueError, match="must differ"):
        GreedySearch(Cfg(), BOS, BOS, V)
    with pytest.raises(ValueError, match="must lie in"):
        GreedySearch(Cfg(), BOS, V, V)
    search = BeamSearch(Cfg(), BOS, EOS, V)
    with pytest.raises(ValueError, match=r"shape \(1, 6\)"):
        search.advance(np.zeros((2, V)))
    with pytest.raises(ValueError, match="NaN"):
        search.advance(np.full((1, V), np.nan))
    with pytest.raises(ValueError, match="no finite"):
        search.advance(np.full((1, V), -np.inf))
    for dtype in (np.float32, np.float64):
        for bad in (np.nan, np.inf):  # one bad entry among finite ones, wherever it sits
            for at in (0, 3, V - 1):
                row = np.linspace(-2.0, 1.0, V).astype(dtype)[None, :]
                row[0, at] = bad
                with pytest.raises(ValueError, match="NaN or \\+inf"):
                    search.advance(row)
    assert search.input_tokens().tolist() == [BOS]  # rejected logits leave the state untouched
    some_masked = np.linspace(-2.0, 1.0, V)[None, :]
    some_masked[0, [0, 4]] = -np.inf  # -inf entries beside finite ones are a masked piece, not an error
    search.advance(some_masked)
    assert search.input_tokens().tolist() == [C, A]  # the two best pieces, B (-inf) skipped


def test_accepts_any_config_object() -> None:
    ns = types.SimpleNamespace(**Cfg(strategy="sample", seed=5).__dict__)
    search = make_search(ns, bos_id=BOS, eos_id=EOS, vocab_size=V)
    assert isinstance(search, SamplingSearch)
    float32 = run(search, lambda p: TOY(p).astype(np.float32)).result  # what the engine feeds
    float64 = decode(TOY, strategy="sample", seed=5).result
    assert [h.tokens for h in float32.hypotheses] == [h.tokens for h in float64.hypotheses]
    assert isinstance(make_search(replace(Cfg(), strategy="greedy"), BOS, EOS, V), GreedySearch)
    assert type(make_search(Cfg(), BOS, EOS, V)) is BeamSearch
