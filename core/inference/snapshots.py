"""Every snapshot of a bundle decoding the same sentence: the evolution view's engine.

``SnapshotSet(bundle).inspect(text, config)`` has the interface of ``Engine.inspect`` and
returns one ``SnapshotDecode`` per snapshot, earliest first. Each snapshot's engine is
loaded the first time it is needed (on whatever thread calls ``inspect``), so opening a
bundle costs nothing until the evolution view is looked at. No Qt, no torch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attnscope.core.bundle import Bundle, SnapshotInfo, read_bundle
from attnscope.core.config import DecodeConfig
from attnscope.core.inference.inspection import Inspection


@dataclass(frozen=True)
class SnapshotDecode:
    info: SnapshotInfo
    inspection: Inspection | None  # None when this snapshot failed (see ``error``)
    error: str = ""

    @property
    def label(self) -> str:
        """"step 120 (10 %)" — what a panel is titled."""
        frac = self.info.meta.get("fraction")
        pct = f" ({100 * frac:.0f} %)" if isinstance(frac, (int, float)) else ""
        return f"step {self.info.step}{pct}"

    @property
    def loss(self) -> float | None:
        """This snapshot's own loss: teacher-forced on the probe set, else the nearest logged."""
        m = self.info.meta
        for key in ("probe_nll", "valid_loss", "train_loss"):
            if isinstance(m.get(key), (int, float)):
                return float(m[key])
        return None


def _default_loader(bundle: Bundle, snapshot: str) -> Any:
    from attnscope.core.inference.engine import Engine

    return Engine.load(bundle, snapshot=snapshot)


class SnapshotSet:
    """The snapshots of one bundle, each decoded on demand by its own engine."""

    def __init__(self, bundle: str | Path | Bundle | None,
                 loader: Callable[[Bundle, str], Any] = _default_loader) -> None:
        self.bundle = bundle if isinstance(bundle, Bundle) else read_bundle(bundle)
        self.infos: tuple[SnapshotInfo, ...] = tuple(self.bundle.snapshots())
        self._loader = loader
        self._engines: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.infos)

    @property
    def loaded(self) -> int:
        """How many snapshot engines have been opened so far."""
        return len(self._engines)

    def engine(self, name: str) -> Any:
        with self._lock:
            if name not in self._engines:
                self._engines[name] = self._loader(self.bundle, name)
            return self._engines[name]

    def inspect(self, text: str, config: DecodeConfig | None = None) -> tuple[SnapshotDecode, ...]:
        """Decode ``text`` with every snapshot; a failing snapshot reports, the others run."""
        cfg = (config or DecodeConfig()).replace(forced_prefix=())
        out = []
        for info in self.infos:
            try:
                out.append(SnapshotDecode(info, self.engine(info.name).inspect(text, cfg)))
            except Exception as e:  # noqa: BLE001 - one bad snapshot must not hide the rest
                out.append(SnapshotDecode(info, None, f"{type(e).__name__}: {e}"))
        return tuple(out)
