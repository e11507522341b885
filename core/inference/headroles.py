"""What each attention head does, measured: positional profiles and a role per head.

A role is a label with the number behind it, never a guess: ``previous`` (mass on the
piece before), ``next`` (the piece after), ``diagonal`` (itself), ``sink`` (the first
piece or end-of-sentence), ``alignment`` (a cross-attention head with a low AER),
``broad`` (high normalised entropy), else ``mixed`` with its strongest measure.
Pure numpy; attention is [L, H, Q, K] for one sentence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from attnscope.core.inference.headstats import attention_entropy, mean_attention_distance

PROFILE_KEYS = ("previous", "next", "diagonal", "sink", "entropy", "distance")
KINDS = ("encoder", "decoder", "cross")
POSITIONAL_MIN = 0.5  # a positional or sink role needs at least half the mass
ALIGNMENT_MAX_AER = 0.5  # a cross head with AER at most this is an alignment head
BROAD_MIN_ENTROPY = 0.75  # normalised entropy from which a head counts as broad


@dataclass(frozen=True)
class HeadRole:
    role: str  # previous | next | diagonal | sink | alignment | broad | mixed
    measure: str  # the number the label rests on, by name
    value: float

    def text(self) -> str:
        return f"{self.role} ({self.measure} {self.value:.2f})"


def _diag_mass(a: np.ndarray, offset: int, rows: np.ndarray) -> np.ndarray:
    """[L, H] mean of a[:, :, i, i + offset] over ``rows`` (rows whose key exists)."""
    k = a.shape[-1]
    rows = rows[(rows + offset >= 0) & (rows + offset < k)]
    if len(rows) == 0:
        return np.zeros(a.shape[:2])
    return a[:, :, rows, rows + offset].mean(axis=-1)


def positional_profile(attn: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """[L, H] previous / next / diagonal / sink mass, normalised entropy and mean distance.

    Encoder: the last key is EOS. Decoder (causal): the first key is BOS and row 0, which
    can see only BOS, is left out. Cross: diagonal, previous and next have no meaning (0).
    """
    a = np.asarray(attn, np.float64)
    q, k = a.shape[-2], a.shape[-1]
    rows = np.arange(q)
    if kind == "decoder":
        rows = rows[1:]
    out = {"entropy": attention_entropy(a, normalize=True),
           "distance": mean_attention_distance(a, scale_queries=kind == "cross")}
    if kind == "cross" or len(rows) == 0:
        zero = np.zeros(a.shape[:2])
        out.update(previous=zero, next=zero, diagonal=zero)
    else:
        out.update(previous=_diag_mass(a, -1, rows), next=_diag_mass(a, 1, rows),
                   diagonal=_diag_mass(a, 0, rows))
    sub = a[:, :, rows] if len(rows) else a[:, :, :0]
    first = sub[..., 0].mean(axis=-1) if sub.shape[2] else np.zeros(a.shape[:2])
    last = sub[..., k - 1].mean(axis=-1) if sub.shape[2] and kind != "decoder" else np.zeros(a.shape[:2])
    out["sink"] = np.maximum(first, last)
    return out


def mean_profiles(profiles: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The per-sentence profiles averaged over sentences (one entry per key)."""
    return {key: np.mean([p[key] for p in profiles], axis=0) for key in profiles[0]}


def classify_head(profile: dict[str, float], kind: str, aer: float | None = None) -> HeadRole:
    """One head's role from its measured profile (and AER for a cross head)."""
    if kind == "cross" and aer is not None and aer <= ALIGNMENT_MAX_AER:
        return HeadRole("alignment", "AER", float(aer))
    positional = ("sink",) if kind == "cross" else ("previous", "next", "diagonal", "sink")
    name = max(positional, key=lambda n: profile[n])
    if profile[name] >= POSITIONAL_MIN:
        return HeadRole(name, "mass", float(profile[name]))
    if profile["entropy"] >= BROAD_MIN_ENTROPY:
        return HeadRole("broad", "entropy", float(profile["entropy"]))
    if kind == "cross" and aer is not None:
        return HeadRole("mixed", "AER", float(aer))
    return HeadRole("mixed", f"{name} mass", float(profile[name]))


def classify_heads(profile: dict[str, np.ndarray], kind: str,
                   aer: np.ndarray | None = None) -> list[list[HeadRole]]:
    """[L][H] roles of a layer x head profile."""
    n_layers, n_heads = profile["entropy"].shape
    return [[classify_head({k: float(v[layer, head]) for k, v in profile.items()}, kind,
                           None if aer is None else float(aer[layer, head]))
             for head in range(n_heads)] for layer in range(n_layers)]


def roles_to_json(roles: list[list[HeadRole]]) -> list[list[dict]]:
    return [[asdict(r) for r in row] for row in roles]


def roles_from_json(data: list[list[dict]]) -> list[list[HeadRole]]:
    return [[HeadRole(str(d["role"]), str(d["measure"]), float(d["value"])) for d in row] for row in data]
