"""A figure's numbers are the Inspection's: checked through the JSON/NPZ dumps and the
arrays actually handed to matplotlib."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from attnscope.export.data import TEMPERATURES, FigureError, display_label
from attnscope.export.figures import VIEWS, figure_data, make_figure, render


def softmax_at(logits: np.ndarray, temperature: float) -> np.ndarray:
    """exp(z / T) / sum exp(z / T), written out here: the oracle shares no code with the app."""
    z = np.asarray(logits, np.float64) / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _dump(ins, view, tmp_path, ext, **opts):
    path = tmp_path / f"{view}.{ext}"
    render(ins, view, path, **opts)
    if ext == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    with np.load(path, allow_pickle=False) as z:  # strings are unicode arrays, never pickles
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("ext", ["json", "npz"])
@pytest.mark.parametrize("kind,layer,head", [("enc", 0, 1), ("dec", 2, 3), ("cross", 1, 0)])
def test_head_dump_is_the_inspection_matrix(ins, tmp_path, ext, kind, layer, head):
    d = _dump(ins, "head", tmp_path, ext, kind=kind, layer=layer, head=head)
    tensor = {"enc": ins.encoder_attention, "dec": ins.decoder_attention, "cross": ins.cross_attention}[kind]
    np.testing.assert_array_equal(np.asarray(d["matrix"], np.float32), tensor[layer, head])
    assert int(d["layer"]) == layer and int(d["head"]) == head
    xs = {"enc": ins.source_pieces, "dec": ins.best.decoder_input_pieces, "cross": ins.source_pieces}[kind]
    ys = {"enc": ins.source_pieces, "dec": ins.best.decoder_input_pieces, "cross": ins.target_pieces}[kind]
    assert list(d["x_pieces"]) == list(xs) and list(d["y_pieces"]) == list(ys)
    assert list(d["x_labels"]) == [display_label(p) for p in xs]  # what the axes show


def test_grid_dump_holds_every_layer_and_head(ins, tmp_path):
    d = _dump(ins, "grid", tmp_path, "npz", kind="dec")
    np.testing.assert_array_equal(d["matrices"], ins.decoder_attention)
    assert d["mask"].shape == ins.decoder_attention.shape[2:]
    assert not d["mask"][np.tril_indices(len(ins.target_pieces))].any()  # only the future is masked


def test_cross_is_the_layer_mean_of_heads_by_default(ins, tmp_path):
    d = _dump(ins, "cross", tmp_path, "json")
    last = ins.cross_attention.shape[0] - 1
    np.testing.assert_allclose(d["matrix"], ins.cross_attention[last].mean(axis=0), rtol=1e-6)
    assert d["layer"] == last and d["head"] == "mean"


def test_drawn_image_is_the_dumped_matrix(ins):
    fig = make_figure(ins, "head", kind="dec", layer=1, head=2)
    image = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(np.ma.getdata(image), ins.decoder_attention[1, 2])
    assert np.ma.getmaskarray(image)[0, 1]  # the future is drawn as masked, not as zero attention
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == [display_label(p) for p in ins.best.decoder_input_pieces]


def test_probs_are_softmax_at_each_temperature(ins, tmp_path, fake_engine):
    step = 2
    d = _dump(ins, "probs", tmp_path, "json", step=step, piece=fake_engine.piece)
    logits = ins.step_logits.dense_values()[step]
    order = np.argsort(-logits, kind="stable")[:8]
    assert d["ids"] == order.tolist()
    assert d["temperatures"] == list(TEMPERATURES)
    for row, t in zip(d["probs"], TEMPERATURES, strict=True):
        np.testing.assert_allclose(row, softmax_at(logits, t)[order], rtol=1e-12)
    assert d["raw_pieces"] == [fake_engine.piece(i) for i in order.tolist()]
    assert d["pieces"] == [display_label(fake_engine.piece(i)) for i in order.tolist()]
    assert d["chosen_piece"] == ins.target_pieces[step]
    # the drawn bars end at these numbers (on a log axis, from its left end)
    fig = make_figure(ins, "probs", step=step, piece=fake_engine.piece)
    ends = [p.get_x() + p.get_width() for p in fig.axes[0].patches]
    left = fig.axes[0].get_xlim()[0]
    np.testing.assert_allclose(ends, np.maximum(d["probs"][0], left), rtol=1e-9)
    assert fig.axes[0].get_xscale() == "log"


def test_trace_holds_inputs_choices_and_candidates(ins, tmp_path):
    d = _dump(ins, "trace", tmp_path, "npz", top=3)
    assert list(d["input_pieces"]) == list(ins.best.decoder_input_pieces)
    assert list(d["selected"]) == [display_label(p) for p in ins.target_pieces]
    np.testing.assert_array_equal(d["chosen_ids"], ins.best.target_ids)
    probs = softmax_at(ins.step_logits.dense_values(), 1.0)
    for t in range(len(ins.target_pieces)):
        top = np.argsort(-probs[t], kind="stable")[:3]
        if d["chosen_rank"][t] < 3:
            np.testing.assert_array_equal(d["candidate_ids"][t], top)
        np.testing.assert_allclose(d["candidate_probs"][t], probs[t, d["candidate_ids"][t]])
        assert d["chosen_ids"][t] in d["candidate_ids"][t]  # the choice is always shown
    assert d["candidates"].shape == (len(ins.target_pieces), 3)


def test_beam_dump_is_the_search_tree(ins, tmp_path):
    full = _dump(ins, "beam", tmp_path, "json", runner_ups=True)
    assert full["nodes"]["id"] == [n.id for n in ins.nodes]
    assert full["nodes"]["parent"] == [n.parent for n in ins.nodes]
    assert full["nodes"]["status"] == [n.status for n in ins.nodes]
    np.testing.assert_allclose(full["nodes"]["score"], [n.score for n in ins.nodes])
    assert full["best_path"][-1] == ins.hypotheses[0].node_id
    compact = figure_data(ins, "beam")
    kept = set(compact["nodes"]["id"].tolist())
    assert set(full["best_path"]) <= kept  # the best path is always drawn
    assert len(kept) < len(ins.nodes)  # runner-up candidates left out by default
    for nid in kept:  # and the tree stays connected
        assert ins.nodes[nid].parent in kept or nid == 0


def test_curves_dump_is_the_metrics_log(metrics_run, tmp_path):
    lines = [json.loads(x) for x in (metrics_run / "metrics.jsonl").read_text().splitlines()[:-1]]
    train = [r for r in lines if r["kind"] == "train"]
    valid = [r for r in lines if r["kind"] == "valid"]
    path = tmp_path / "c.json"
    render(metrics_run, "curves", path)
    d = json.loads(path.read_text())["runs"]["run"]
    assert d["train"]["step"] == [r["step"] for r in train]
    np.testing.assert_allclose(d["train"]["loss"], [r["loss"] for r in train])
    np.testing.assert_allclose(d["train"]["lr"], [r["lr"] for r in train])
    np.testing.assert_allclose(d["layer_grad_norm"]["encoder.0"], [r["layer_grad_norm"]["encoder.0"] for r in train])
    np.testing.assert_allclose(d["valid"]["bleu"], [r["bleu"] for r in valid])
    assert d["starts"] == [0, 200]
    assert d["skipped_lines"] == 1  # the half-written last line
    fig = make_figure(metrics_run / "metrics.jsonl", "curves")
    x, y = fig.axes[0].lines[0].get_data()
    np.testing.assert_allclose(y, [r["loss"] for r in train])


def test_json_is_strict_and_npz_needs_no_pickle(source_of, tmp_path):
    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    for view in VIEWS:
        src = source_of(view)
        render(src, view, tmp_path / f"{view}.json")
        json.loads((tmp_path / f"{view}.json").read_text(), parse_constant=refuse)
        render(src, view, tmp_path / f"{view}.npz")
        with np.load(tmp_path / f"{view}.npz", allow_pickle=False) as z:
            assert all(z[k].dtype != object for k in z.files)


@pytest.mark.parametrize("view,opts,match", [
    ("head", {"layer": 3}, "layer 4 is out of range"),
    ("head", {"head": 4}, "head 5 is out of range"),
    ("grid", {"kind": "self"}, "kind 'self'"),
    ("probs", {"step": 99}, "step 100 is out of range"),
    ("probs", {"temperatures": (1.0, 0.0)}, "positive"),
    ("cross", {"vmax": 2}, "vmax"),
    ("nope", {}, "unknown view"),
    ("head", {"colour": "red"}, "unknown option"),
])
def test_bad_options_raise_figure_error(ins, view, opts, match):
    with pytest.raises(FigureError, match=match):
        figure_data(ins, view, **opts)


def test_vmax_auto_stretches_the_scale(ins):
    d = figure_data(ins, "cross", vmax="auto")
    assert math.isclose(d["vmax"], float(d["matrix"].max()))
    assert figure_data(ins, "cross")["vmax"] == 1.0
