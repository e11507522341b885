"""Read a run's ``metrics.jsonl`` while it is being written: the dashboard's data.

``MetricsTail.poll()`` returns the records appended since the last call (a line still
being written waits for its newline). ``RunSeries`` keeps them as curves, and says how far
the run is and how long it has left. Plain Python: no Qt, no torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Every complete record of a metrics.jsonl (or a run folder's); [] when there is none.

    A line cut short by a killed run and a malformed line are skipped, as the live tail does.
    """
    p = Path(path)
    return MetricsTail(p / "metrics.jsonl" if p.is_dir() else p).poll()


class MetricsTail:
    """Incremental reader of one JSON-lines file; survives the file appearing late."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self._partial = b""
        self.bad_lines = 0

    def poll(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        if not chunk:
            return []
        self.offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # empty when the chunk ended with a newline
        out = []
        for line in lines:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                self.bad_lines += 1
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out


@dataclass
class RunSeries:
    """Curves of one run, grown record by record."""

    max_steps: int = 0
    train: dict[str, list[float]] = field(default_factory=dict)  # "step", "loss", "ppl", "lr", ...
    valid: dict[str, list[float]] = field(default_factory=dict)  # "step", "bleu", "exact_match", ...
    layer_grad: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # layer -> (step, norm)
    head_stats: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (step, head_stats)
    starts: list[dict[str, Any]] = field(default_factory=list)
    stops: list[dict[str, Any]] = field(default_factory=list)  # "stopped" lines: step, signal
    step: int = 0
    times: list[tuple[int, float]] = field(default_factory=list)  # (step, unix time) of train lines

    TRAIN_KEYS = ("loss", "ppl", "lr", "grad_norm", "update_ratio", "tokens_per_s")
    VALID_KEYS = ("bleu", "chrf", "exact_match", "valid_loss", "valid_ppl")

    def add(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            kind, step = r.get("kind"), int(r.get("step", 0) or 0)
            if kind == "start":
                self.starts.append(r)
                self.max_steps = int(r.get("max_steps") or self.max_steps)
            elif kind == "train":
                self._append(self.train, step, r, self.TRAIN_KEYS)
                for layer, norm in (r.get("layer_grad_norm") or {}).items():
                    self.layer_grad.setdefault(layer, []).append((step, float(norm)))
                if "time" in r:
                    self.times.append((step, float(r["time"])))
            elif kind == "stopped":
                self.stops.append(r)
            elif kind == "valid":
                self._append(self.valid, step, r, self.VALID_KEYS)
                if r.get("head_stats"):
                    self.head_stats.append((step, r["head_stats"]))
            self.step = max(self.step, step)

    @staticmethod
    def _append(store: dict[str, list[float]], step: int, r: dict[str, Any], keys: tuple[str, ...]) -> None:
        n = len(store.get("step", []))
        store.setdefault("step", []).append(float(step))
        for k in keys:
            col = store.setdefault(k, [float("nan")] * n)
            v = r.get(k)
            col.append(float(v) if isinstance(v, (int, float)) else float("nan"))

    @property
    def fraction(self) -> float:
        return min(self.step / self.max_steps, 1.0) if self.max_steps else 0.0

    def eta_seconds(self) -> float | None:
        """Seconds left at the pace of the recent train lines (None before two of them)."""
        pts = self.times[-20:]
        if len(pts) < 2 or not self.max_steps:
            return None
        (s0, t0), (s1, t1) = pts[0], pts[-1]
        if s1 <= s0 or t1 <= t0:
            return None
        return max(self.max_steps - self.step, 0) * (t1 - t0) / (s1 - s0)


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA —"
    s = int(round(seconds))
    return f"ETA {s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"ETA {s // 60}:{s % 60:02d}"
