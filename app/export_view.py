"""File → Export: a dock's figure or data through the renderer ``attnscope figure`` uses.

Each dock maps to one view of ``attnscope.export.figures`` with the options the window
shows now (attention kind, selected hypothesis, step, layer and head), so the file is
the same figure the command line draws for that inspection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attnscope.export.figures import render

KIND = {"encoder": "enc", "decoder": "dec", "cross": "cross"}
# dock -> figure view
VIEW_OF_DOCK = {
    "Attention grid": "grid", "Head detail": "head", "Beam tree": "beam",
    "Next-piece probabilities": "probs", "Step scrubber": "trace", "Sentence": "cross",
    "Data flow": "grid", "Head statistics": "grid", "Head roles": "cross", "Evolution": "curves",
    "Training": "curves", "Gradient flow": "curves",
}
FILTERS = "PNG (*.png);;PDF (*.pdf);;SVG (*.svg);;Data: JSON (*.json);;Data: NumPy (*.npz)"


def view_options(window: Any, dock: str) -> tuple[str, Any, dict[str, Any]]:
    """(view, source, options) for what ``dock`` shows in ``window`` now."""
    view = VIEW_OF_DOCK[dock]
    state = window.state
    if view == "curves":
        return view, getattr(window.controller.engine, "bundle_path", None), {}
    node = state.node_id
    opts: dict[str, Any] = {"node": node, "piece": state.piece}
    if view == "grid":
        opts["kind"] = KIND[window.grid.kind]
    elif view == "head":
        kind, _mode, layer, head = state.attention
        opts.update(kind=KIND[kind], layer=layer, head=None if head < 0 else head)
    elif view in ("probs", "trace"):
        opts["step"] = state.step
        if view == "trace":
            del opts["step"]
            opts["temperature"] = state.display_temperature
    return view, state.inspection, opts


def export_dock(window: Any, dock: str, path: str | Path) -> dict[str, Any]:
    """Write ``dock``'s figure (.png/.pdf/.svg) or data (.json/.npz) to ``path``."""
    view, source, opts = view_options(window, dock)
    if source is None:
        raise ValueError("nothing to export yet: no sentence has been decoded")
    return render(source, view, path, **opts)
