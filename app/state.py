"""The one place the views read from: the current Inspection and what the user selected.

Views never talk to each other; they call the ``select_*`` / ``set_*`` methods here and
redraw on the signals. Every setter is a no-op when nothing changes, so no signal loops.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from attnscope.core.inference.contributions import Contributions
from attnscope.core.inference.inspection import Inspection, PathView


class AppState(QObject):
    inspection_changed = Signal(object)  # Inspection: a new decode arrived
    selection_changed = Signal()  # hypothesis (node) or step changed
    display_temperature_changed = Signal(float)  # bars re-scale, no engine call
    attention_selected = Signal(str, str, int, int)  # kind, mode, layer, head (-1 = aggregate)
    measure_changed = Signal(str)  # "weights" or "norm": what every attention view draws

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.inspection: Inspection | None = None
        self.growing = False  # the inspection is a later partial result of a running decode
        self.node_id = 0
        self.path: PathView | None = None
        self.chain: list[int] = []  # node ids root .. selected node
        self.step = 0  # index into the selected path's target pieces
        self.display_temperature = 1.0
        self.attention = ("encoder", "heads", 0, 0)  # (kind, mode, layer, head) shown large
        self.measure = "weights"  # attention weights, or norm-based attention ||alpha f(x)||
        self._paths: dict[int, PathView] = {}
        self.piece_fn: Callable[[int], str] | None = None  # the engine's id -> piece
        # the engine's ALTI+ of (source ids, target ids), for a hypothesis other than the best
        self.contributions_fn: Callable[[np.ndarray, np.ndarray], Contributions | None] | None = None
        self._known: dict[int, str] = {}

    # -- model -> views ---------------------------------------------------------
    def set_inspection(self, ins: Inspection, growing: bool = False) -> None:
        """A new decode: select its best hypothesis, keep the step index where possible.

        ``growing``: a later partial result of a decode still running; only views that
        follow partials redraw (LazyView.follows_partial), the rest when it completes."""
        self.growing = growing
        self.inspection = ins
        self._known = {}
        self._paths = {ins.best.node_id: ins.best}
        self._select(ins.best.node_id, keep_step=True)
        self.inspection_changed.emit(ins)

    # -- user -> model ----------------------------------------------------------
    def select_node(self, node_id: int) -> None:
        """Show the hypothesis ending at ``node_id``, at the step that produced it."""
        if self.inspection is None or node_id == self.node_id and self.path is not None:
            return
        if not 0 <= node_id < len(self.inspection.nodes):
            return
        self._select(node_id, keep_step=False)
        self.selection_changed.emit()

    def set_step(self, step: int) -> None:
        n = self.n_steps
        step = max(0, min(int(step), n - 1)) if n else 0
        if step != self.step:
            self.step = step
            self.selection_changed.emit()

    def set_display_temperature(self, value: float) -> None:
        value = max(0.05, float(value))
        if abs(value - self.display_temperature) > 1e-9:
            self.display_temperature = value
            self.display_temperature_changed.emit(value)

    def select_attention(self, kind: str, mode: str, layer: int, head: int) -> None:
        self.attention = (kind, mode, layer, head)
        self.attention_selected.emit(kind, mode, layer, head)

    def set_measure(self, measure: str) -> None:
        if measure != self.measure:
            self.measure = measure
            self.measure_changed.emit(measure)

    def piece(self, piece_id: int) -> str:
        """Text of any vocabulary piece: the engine's, else one this Inspection has seen."""
        if self.piece_fn is not None:
            try:
                return self.piece_fn(int(piece_id))
            except (IndexError, KeyError, ValueError):
                pass
        ins = self.inspection
        if not self._known and ins is not None:
            self._known = {int(n.token): p for n, p in zip(ins.nodes, ins.node_pieces, strict=True)}
            self._known.update(zip(ins.source_ids.tolist(), ins.source_pieces, strict=True))
        return self._known.get(int(piece_id), f"#{piece_id}")

    # -- derived ----------------------------------------------------------------
    @property
    def n_steps(self) -> int:
        return 0 if self.path is None else len(self.path.target_pieces)

    def node_at_step(self, step: int | None = None) -> int:
        """Node id of the piece generated at ``step`` on the selected path (root if none)."""
        step = self.step if step is None else step
        return self.chain[step + 1] if 0 <= step < len(self.chain) - 1 else 0

    def forced_prefix_for(self, step: int, piece_id: int) -> tuple[int, ...]:
        """The selected path's pieces before ``step``, then ``piece_id``: a what-if prefix."""
        if self.path is None:
            return (int(piece_id),)
        before = tuple(int(t) for t in self.path.target_ids[:step])
        return before + (int(piece_id),)

    def _select(self, node_id: int, keep_step: bool) -> None:
        ins = self.inspection
        assert ins is not None
        path = self._paths.get(node_id)
        if path is None:
            path = self._paths[node_id] = ins.path(node_id)
        chain, nid = [], node_id
        while 0 <= nid < len(ins.nodes):  # an empty decode (no text) has no nodes at all
            chain.append(nid)
            nid = ins.nodes[nid].parent
        self.node_id, self.path, self.chain = node_id, path, chain[::-1]
        n = len(path.target_pieces)
        self.step = min(self.step, n - 1) if keep_step else n - 1
        self.step = max(self.step, 0)
