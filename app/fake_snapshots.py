"""A stand-in for ``core.inference.snapshots.SnapshotSet`` built on the fake engine.

Each fake snapshot blends the fake engine's attention with uniform attention in the
proportion training had reached, and truncates the translation the same way, so a
panel per snapshot differs the way real snapshots do. Qt-free; for demos and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from attnscope.app.fake_engine import FakeEngine
from attnscope.core.bundle import SnapshotInfo
from attnscope.core.config import DecodeConfig
from attnscope.core.inference.snapshots import SnapshotDecode


def _blend(a: np.ndarray, w: float) -> np.ndarray:
    """w * a + (1 - w) * uniform over the keys each row can see."""
    if a.size == 0:
        return a
    seen = (a > 0).astype(np.float32)
    uniform = seen / np.maximum(seen.sum(axis=-1, keepdims=True), 1)
    return (w * a + (1 - w) * uniform).astype(np.float32)


@dataclass(frozen=True)
class _FakeBundle:
    model: object
    path: Path = Path("<fake>")


class FakeSnapshotSet:
    def __init__(self, steps: tuple[int, ...] = (0, 12, 36, 120, 360, 1200),
                 engine: FakeEngine | None = None) -> None:
        self.engine = engine or FakeEngine()
        self.bundle = _FakeBundle(self.engine.model_config)
        last = max(steps)
        self.infos = tuple(
            SnapshotInfo(f"step-{s:06d}", s, Path(f"<fake>/snapshots/step-{s:06d}"),
                         {"step": s, "fraction": s / last, "probe_nll": 6.5 * np.exp(-s / 150) + 0.3,
                          "train_loss": 6.8 * np.exp(-s / 150) + 0.3, "train_loss_step": max(s, 1),
                          "best_head": [2, 1], "best_aer": 0.9 - 0.6 * s / last})
            for s in steps)
        self.calls = 0

    def __len__(self) -> int:
        return len(self.infos)

    def inspect(self, text: str, config: DecodeConfig | None = None) -> tuple[SnapshotDecode, ...]:
        self.calls += 1
        ins = self.engine.inspect(text, config or DecodeConfig())
        out = []
        for info in self.infos:
            w = float(info.meta["fraction"]) ** 0.5
            best = replace(ins.best, cross_attention=_blend(ins.best.cross_attention, w),
                           decoder_self_attention=_blend(ins.best.decoder_self_attention, w))
            words = ins.translation.split()
            shown = " ".join(words[: int(round(w * len(words)))])
            out.append(SnapshotDecode(info, replace(ins, encoder_attention=_blend(ins.encoder_attention, w),
                                                    best=best, translation=shown)))
        return tuple(out)
