"""AER heatmap with the best head outlined, and role labels with their numbers."""

from __future__ import annotations

import numpy as np

from attnscope.app.demo import demo_state
from attnscope.app.head_roles_view import HeadRolesView


def _heads() -> dict:
    aer = [[0.9, 0.8, 0.7, 0.95], [0.6, 0.15, 0.5, 0.9], [0.4, 0.3, 0.8, 0.85]]
    role = {"role": "previous", "measure": "mass", "value": 0.81}
    grid = [[role] * 4 for _ in range(3)]
    cross = [[{"role": "alignment" if a <= 0.5 else "broad", "measure": "AER" if a <= 0.5 else "entropy",
               "value": a if a <= 0.5 else 0.9} for a in row] for row in aer]
    return {"sentences": 200, "aligned_sentences": 200, "cross_aer": aer, "best_head": [1, 1],
            "best_aer": 0.15, "roles": {"encoder": grid, "decoder": grid, "cross": cross}}


def test_bundle_heads_heatmap_and_roles(qtbot):
    v = HeadRolesView(demo_state())
    qtbot.addWidget(v)
    v.show()
    v.set_heads(_heads())
    np.testing.assert_allclose(v.aer_plot.data, np.asarray(_heads()["cross_aer"]), rtol=1e-6)
    r = v.best_box.rect()
    assert (r.x() + 0.5, r.y() + 0.5) == (1.0, 1.0) and v.best_box.isVisible()
    assert "best alignment head L2 H2: AER 0.15" in v.summary.text()
    assert v.role_text(1, 1) == "alignment (AER 0.15)"
    assert any(t.toPlainText().startswith("★") for t in v.cell_text if t.isVisible())
    v.kind_box.setCurrentIndex(v.kind_box.findData("encoder"))
    assert v.role_text(0, 0) == "previous (mass 0.81)"


def test_this_sentence_measures_the_decode(qtbot):
    state = demo_state("I love you.")
    v = HeadRolesView(state)
    qtbot.addWidget(v)
    v.show()
    v.set_heads(None)
    assert "no heads.json" in v.summary.text()
    v.source_box.setCurrentIndex(1)
    ins = state.inspection
    m = ins.best.cross_attention.shape
    assert v.aer_plot.data.shape == m[:2] and "best alignment head" in v.summary.text()
    assert v.table.rowCount() == m[0] and v.table.columnCount() == m[1]
    assert v.role_text(0, 0).split(" (")[0] in {"alignment", "sink", "broad", "mixed"}
