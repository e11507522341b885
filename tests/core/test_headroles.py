"""Head roles follow the measured behaviour, and each label carries its number."""

from __future__ import annotations

import numpy as np
import pytest

from attnscope.core.inference.headroles import classify_heads, positional_profile


def _rows(n: int, fn) -> np.ndarray:
    a = np.zeros((n, n))
    for i in range(n):
        a[i] = fn(i)
    return a


def _onehot(n: int, j: int) -> np.ndarray:
    v = np.full(n, 0.02)
    v[min(max(j, 0), n - 1)] += 1.0
    return v / v.sum()


def test_encoder_roles_by_hand() -> None:
    n = 7
    heads = [
        _rows(n, lambda i: _onehot(n, i - 1)),  # previous token
        _rows(n, lambda i: _onehot(n, i + 1)),  # next token
        _rows(n, lambda i: _onehot(n, i)),  # itself
        _rows(n, lambda i: _onehot(n, n - 1)),  # everything on EOS
        _rows(n, lambda i: np.full(n, 1 / n)),  # uniform
    ]
    attn = np.stack(heads)[None]  # (1, 5, n, n)
    prof = positional_profile(attn, "encoder")
    roles = [r.role for r in classify_heads(prof, "encoder")[0]]
    assert roles == ["previous", "next", "diagonal", "sink", "broad"]
    prev = classify_heads(prof, "encoder")[0][0]
    assert prev.measure == "mass" and prev.value == pytest.approx(prof["previous"][0, 0]) and prev.value > 0.8
    assert prev.text() == f"previous (mass {prev.value:.2f})"


def test_decoder_sink_is_bos_and_cross_alignment_uses_aer() -> None:
    n = 5
    causal = np.tril(np.ones((n, n)))
    bos = causal * 0.02
    bos[:, 0] += 1.0
    bos /= bos.sum(axis=1, keepdims=True)
    dec = bos[None, None]
    assert classify_heads(positional_profile(dec, "decoder"), "decoder")[0][0].role == "sink"
    cross = np.full((1, 2, 4, 6), 1 / 6)
    prof = positional_profile(cross, "cross")
    roles = classify_heads(prof, "cross", aer=np.array([[0.12, 0.8]]))[0]
    assert (roles[0].role, roles[0].measure, roles[0].value) == ("alignment", "AER", pytest.approx(0.12))
    assert roles[1].role == "broad"  # uniform and a poor aligner
