"""ALTI+ source and target contributions at inspection time: onnxruntime and numpy only.

``contributions.onnx`` (written by ``core.contributions``) teacher-forces the chosen
translation and returns every attention block's layer-wise contribution matrix; its
weights are inputs fed from the bundle's ``weights.safetensors``, so the bundle stores
them once. The rollout over layers (Ferrando et al. 2022, section 3) is here, in numpy:
it is a handful of small matrix products and keeps the per-layer matrices available.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attnscope.core.bundle import Bundle, BundleError
from attnscope.core.inference.sessions import session_options

CONTRIBUTIONS_GRAPH = "contributions.onnx"


@dataclass(frozen=True)
class Contributions:
    """What each source piece and each target-prefix piece contributed to every prediction."""

    encoder_layers: np.ndarray  # [L, S, S] encoder self-attention blocks, rows sum to 1
    decoder_self_layers: np.ndarray  # [L, T, T] decoder self-attention blocks (causal)
    cross_layers: np.ndarray  # [L, T, S+1] cross-attention blocks; column S = the decoder's own stream
    encoder_rollout: np.ndarray  # [S, S] encoder output j as a mixture of source pieces
    rollout: np.ndarray  # [L, T, S+T] decoder layer l's output i over [source pieces; decoder inputs]

    @property
    def total(self) -> np.ndarray:
        """[T, S+T]: row t = the prediction of target piece t over [source; decoder inputs 0..t]."""
        return self.rollout[-1]

    @property
    def source_len(self) -> int:
        return int(self.encoder_rollout.shape[0])

    @property
    def source(self) -> np.ndarray:
        """[T, S] source pieces' contributions to each prediction."""
        return self.total[:, :self.source_len]

    @property
    def target(self) -> np.ndarray:
        """[T, T] target-prefix contributions (the decoder inputs: start piece, y_1 …)."""
        return self.total[:, self.source_len:]

    @property
    def source_share(self) -> np.ndarray:
        """[T] total source contribution per step; a low value flags a possible hallucination."""
        return self.source.sum(axis=-1)


def rollout(enc: np.ndarray, dec_self: np.ndarray, cross: np.ndarray) -> Contributions:
    """Roll the layer matrices out to the input pieces (ALTI+, as the reference code does).

    Encoder: C_enc = C^L ... C^1. Each decoder layer mixes its stream first by
    self-attention (over the target prefix), then by cross-attention (over the encoder
    output, itself C_enc of the source, plus the residual stream). So layer l's joint
    matrix over [memory; prefix] is [cross_src, cross_res * self], and the running
    product carries the prefix part through the previous layers."""
    n_layers, t_len, _ = dec_self.shape
    s_len = enc.shape[-1]
    enc_roll = np.eye(s_len, dtype=np.float64)
    for layer in enc.astype(np.float64):
        enc_roll = layer @ enc_roll  # (S, S)
    cross64, self64 = cross.astype(np.float64), dec_self.astype(np.float64)
    out = np.zeros((n_layers, t_len, s_len + t_len), np.float64)
    prev_src = np.zeros((t_len, s_len))
    prev_tgt = np.eye(t_len)
    for i in range(n_layers):
        joint_self = cross64[i, :, s_len:s_len + 1] * self64[i]  # (T, T): residual share spread by self-attention
        src = joint_self @ prev_src + cross64[i, :, :s_len] @ enc_roll  # (T, S)
        tgt = joint_self @ prev_tgt  # (T, T)
        row = np.concatenate([src, tgt], axis=1)
        row /= np.maximum(row.sum(axis=1, keepdims=True), 1e-12)
        out[i] = row
        prev_src, prev_tgt = row[:, :s_len], row[:, s_len:]
    return Contributions(enc.astype(np.float32), dec_self.astype(np.float32), cross.astype(np.float32),
                         enc_roll.astype(np.float32), out.astype(np.float32))


class ContributionRunner:
    """Runs ``contributions.onnx`` with the bundle's weights; one call per sentence."""

    def __init__(self, bundle: Bundle, threads: int = 1) -> None:
        import onnxruntime as ort
        from safetensors.numpy import load_file

        graph, weights = bundle.path / CONTRIBUTIONS_GRAPH, bundle.path / "weights.safetensors"
        opts = session_options(threads)
        try:
            self.session = ort.InferenceSession(str(graph), sess_options=opts, providers=["CPUExecutionProvider"])
            tensors = map_safetensors(weights) or load_file(str(weights))
        except Exception as e:  # onnxruntime and safetensors raise their own types
            raise BundleError(f"{graph}: cannot run ALTI+ ({str(e).strip().splitlines()[0]})") from e
        self.feeds: dict[str, np.ndarray] = {}
        for i in self.session.get_inputs():
            if i.name in ("src_ids", "tgt_ids"):
                continue
            if i.name not in tensors:
                raise BundleError(f"{weights}: no tensor {i.name!r}, which {graph.name} needs")
            self.feeds[i.name] = np.ascontiguousarray(tensors[i.name], dtype=np.float32)

    @staticmethod
    def available(bundle: Bundle) -> bool:
        """Whether ``bundle`` (its final model, not a snapshot) has the ALTI+ graph and weights."""
        return (bundle.graphs is None and (bundle.path / CONTRIBUTIONS_GRAPH).is_file()
                and (bundle.path / "weights.safetensors").is_file())

    def layers(self, src_ids: np.ndarray, tgt_in: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Layer matrices for source ids [S] and decoder inputs [T] (start piece first)."""
        feeds = {"src_ids": np.asarray(src_ids, np.int64)[None], "tgt_ids": np.asarray(tgt_in, np.int64)[None],
                 **self.feeds}
        enc, dec_self, cross = self.session.run(None, feeds)
        return enc, dec_self, cross

    def contributions(self, src_ids: np.ndarray, tgt_in: np.ndarray) -> Contributions:
        return rollout(*self.layers(src_ids, tgt_in))


def map_safetensors(path: Path) -> dict[str, np.ndarray] | None:
    """The float32 tensors of a safetensors file as read-only memory maps, so an NLLB-size
    model's weights stay in the page cache instead of being copied (None: other dtypes)."""
    with path.open("rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            return None
        begin, end = info["data_offsets"]
        out[name] = data[begin:end].view(np.float32).reshape(info["shape"])
    return out


def load_runner(bundle: Bundle, threads: int = 1) -> ContributionRunner | None:
    """The bundle's ALTI+ runner, or None when it was exported without one."""
    return ContributionRunner(bundle, threads) if ContributionRunner.available(bundle) else None


__all__ = ["Contributions", "ContributionRunner", "rollout", "load_runner", "CONTRIBUTIONS_GRAPH"]
