"""Head statistics on hand-made attention matrices, checked against numbers done by hand."""

import math

import numpy as np

from attnscope.core.inference.headstats import (
    attention_entropy,
    attention_rollout,
    cluster_order,
    head_similarity,
    mean_attention_distance,
)


def _heads(*mats):
    """[1, H, Q, K] from H hand-written matrices."""
    return np.stack([np.asarray(m, np.float64) for m in mats])[None]


IDENTITY = np.eye(3)
UNIFORM = np.full((3, 3), 1 / 3)
PREV = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]], float)  # attends to the previous token


def test_entropy_one_hot_is_zero_and_uniform_is_log_k():
    ent = attention_entropy(_heads(IDENTITY, UNIFORM))
    assert ent.shape == (1, 2)
    assert ent[0, 0] == 0.0
    assert math.isclose(ent[0, 1], math.log(3), rel_tol=1e-9)


def test_normalized_entropy_of_causal_uniform_rows_is_one():
    causal = np.array([[1, 0, 0], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]])
    ent = attention_entropy(_heads(causal), normalize=True)
    # row 0 sees one key (counted as 0), rows 1 and 2 are uniform over what they see
    assert math.isclose(ent[0, 0], (0 + 1 + 1) / 3, rel_tol=1e-9)


def test_all_zero_rows_are_ignored():
    padded = np.array([[0.5, 0.5], [0, 0]])
    ent = attention_entropy(_heads(padded))
    assert math.isclose(ent[0, 0], math.log(2), rel_tol=1e-9)


def test_mean_distance_by_hand():
    dist = mean_attention_distance(_heads(IDENTITY, PREV, UNIFORM))
    assert dist[0, 0] == 0.0
    assert math.isclose(dist[0, 1], (0 + 1 + 1) / 3)
    # uniform over 3 keys: row 0 -> (0+1+2)/3, row 1 -> (1+0+1)/3, row 2 -> (2+1+0)/3
    assert math.isclose(dist[0, 2], (1 + 2 / 3 + 1) / 3)


def test_mean_distance_scaled_queries_for_cross_attention():
    # 2 target rows over 3 source keys, each on the "diagonal" once scaled: 0 -> 0, 1 -> 2
    cross = np.array([[1, 0, 0], [0, 0, 1]], float)
    assert mean_attention_distance(_heads(cross), scale_queries=True)[0, 0] == 0.0
    assert math.isclose(mean_attention_distance(_heads(cross))[0, 0], 0.5)


def test_similarity_and_clustering_group_equal_heads():
    attn = _heads(IDENTITY, UNIFORM, IDENTITY, UNIFORM)
    sim = head_similarity(attn)
    assert sim.shape == (4, 4)
    assert np.allclose(np.diag(sim), 1.0)
    assert math.isclose(sim[0, 2], 1.0) and math.isclose(sim[1, 3], 1.0)
    # cosine(I, U) = trace(U) / (|I| |U|) = 1 / (sqrt(3) * 1)
    assert math.isclose(sim[0, 1], 1 / math.sqrt(3), rel_tol=1e-9)
    order = cluster_order(sim).tolist()
    assert sorted(order) == [0, 1, 2, 3]
    pos = {h: i for i, h in enumerate(order)}
    assert abs(pos[0] - pos[2]) == 1 and abs(pos[1] - pos[3]) == 1


def test_rollout_of_identity_is_identity_and_rows_sum_to_one():
    eye = np.stack([_heads(IDENTITY)[0]] * 2)  # (2 layers, 1 head, 3, 3)
    assert np.allclose(attention_rollout(eye), np.eye(3))
    two = np.stack([_heads(UNIFORM, PREV)[0]] * 3)  # (3, 2, 3, 3)
    roll = attention_rollout(two)
    assert roll.shape == (3, 3, 3)
    assert np.allclose(roll.sum(axis=-1), 1.0)


def test_rollout_by_hand_without_residual():
    layer0 = PREV
    layer1 = UNIFORM
    attn = np.stack([_heads(layer0)[0], _heads(layer1)[0]])
    roll = attention_rollout(attn, residual=False)
    assert np.allclose(roll[0], PREV)
    assert np.allclose(roll[1], UNIFORM @ PREV)


def _average_linkage_by_definition(sim: np.ndarray) -> list[int]:
    """Average linkage as defined: every step recomputes each cluster pair's mean similarity
    and merges the best pair (ties: the lowest indices), the merged cluster taking the first's place."""
    clusters = [[i] for i in range(len(sim))]
    while len(clusters) > 1:
        pairs = [(i, j) for i in range(len(clusters)) for j in range(i + 1, len(clusters))]
        means = [sim[np.ix_(clusters[i], clusters[j])].mean() for i, j in pairs]
        best = max(means)
        i, j = next(p for p, m in zip(pairs, means, strict=True) if m >= best - 1e-12)
        clusters[i] = clusters[i] + clusters.pop(j)
    return clusters[0]


def test_cluster_order_is_average_linkage_with_ties_to_the_lowest_indices():
    rng = np.random.default_rng(0)
    for trial in range(24):
        n = int(rng.integers(3, 30))
        x = rng.normal(size=(n, 4))
        if trial % 3 == 0:
            x = np.round(x)  # many equal similarities
        if trial % 4 == 0:
            x[: n // 2] = x[0]  # identical heads
        sim = x @ x.T
        assert cluster_order(sim).tolist() == _average_linkage_by_definition(sim), trial
