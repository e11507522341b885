"""The beam's candidate pick against an exhaustive sort: ties, -inf rows and BOS included."""

from __future__ import annotations

import numpy as np
import pytest

from attnscope.core.config import DecodeConfig
from attnscope.core.inference.search import BeamSearch, LogProbs, log_softmax


def exhaustive(cums: np.ndarray, logp: np.ndarray, n: int, bos: int) -> list[tuple[int, int]]:
    k, v = logp.shape
    pairs = [(r, t) for r in range(k) for t in range(v)]
    score = {(r, t): (-np.inf if t == bos else cums[r] + logp[r, t]) for r, t in pairs}
    best = sorted(pairs, key=lambda p: (-score[p], p[0] * v + p[1]))[:n]
    return [p for p in best if p[1] != bos]


@pytest.mark.parametrize("seed", range(30))
def test_candidates_match_an_exhaustive_sort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k, v = int(rng.integers(1, 5)), int(rng.integers(3, 40))
    x = rng.integers(-3, 3, (k, v)).astype(np.float64)  # small integers: many ties
    x[rng.random((k, v)) < 0.3] = -np.inf  # masked tokens
    x[:, rng.integers(0, v)] = 0.0  # every row keeps a finite value
    search = BeamSearch(DecodeConfig(beam_size=4), bos_id=2, eos_id=1, vocab_size=v)
    alive = list(range(k))
    search._nodes = [search._nodes[0]] * k  # k rows at cumulative log-prob 0
    logp = log_softmax(x)
    cums = np.zeros(k)
    held = LogProbs(x)
    for n in (1, 3, 8, k * v + 2):
        assert search._candidates(alive, held, n) == exhaustive(cums, logp, n, 2)
    assert np.array_equal(held.dense(), logp)  # the candidate pick left the log-probs as they were
