"""Tailing metrics.jsonl while it grows: whole lines only, curves, progress and ETA."""

from __future__ import annotations

import json
from pathlib import Path

from attnscope.core.runlog import MetricsTail, RunSeries, format_eta


def test_tail_waits_for_the_newline_and_survives_a_late_file(tmp_path: Path) -> None:
    f = tmp_path / "metrics.jsonl"
    tail = MetricsTail(f)
    assert tail.poll() == []  # not written yet
    with open(f, "w") as h:
        h.write(json.dumps({"kind": "start", "step": 0, "max_steps": 100}) + "\n")
        h.write('{"kind": "train", "step": 10, "lo')
    assert [r["kind"] for r in tail.poll()] == ["start"]
    with open(f, "a") as h:
        h.write('ss": 5.0, "time": 100.0, "layer_grad_norm": {"embed": 2.0}}\n')
        h.write(json.dumps({"kind": "train", "step": 20, "loss": 4.0, "time": 110.0}) + "\n")
        h.write("not json\n")
    recs = tail.poll()
    assert [r["step"] for r in recs] == [10, 20] and tail.bad_lines == 1
    s = RunSeries()
    s.add([{"kind": "start", "step": 0, "max_steps": 100}, *recs,
           {"kind": "valid", "step": 20, "bleu": 12.5, "exact_match": 0.1}])
    assert s.train["loss"] == [5.0, 4.0] and s.valid["bleu"] == [12.5]
    assert s.layer_grad["embed"] == [(10, 2.0)]
    assert s.fraction == 0.2
    assert s.eta_seconds() == 80.0  # 80 steps left at 1 s per step
    assert format_eta(80.0) == "ETA 1:20" and format_eta(None) == "ETA —"


def test_read_metrics_skips_a_line_cut_by_a_kill(tmp_path) -> None:  # noqa: ANN001
    from attnscope.core.runlog import read_metrics

    (tmp_path / "metrics.jsonl").write_text('{"kind": "train", "step": 1, "loss": 2.0}\n{"kind": "tra')
    assert read_metrics(tmp_path) == [{"kind": "train", "step": 1, "loss": 2.0}]
    assert read_metrics(tmp_path / "missing") == []
