"""Dumps follow one schema (docs/dumps.md): a version, the bundle's identity, the decode
settings, 0-based indices, [source, target] links, a reason for every null, and NPZ keys
that are the JSON keys."""

from __future__ import annotations

import hashlib
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from attnscope.core.bundle import DEFAULT_BUNDLE, read_bundle
from attnscope.core.config import DecodeConfig
from attnscope.core.data import parse_alignment, translate, words
from attnscope.core.inference.alignment import piece_words
from attnscope.core.inference.serialize import SCHEMA_VERSION, unexplained_nulls
from attnscope.export.figures import VIEWS, render


def _leaves(obj, prefix=""):
    """JSON leaf paths as NPZ names them: nested objects joined with '/', lists are leaves."""
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            yield from _leaves(v, f"{prefix}{k}/")
    else:
        yield prefix.rstrip("/")


@pytest.fixture(scope="module")
def engine():
    from attnscope.core.inference.engine import Engine

    return Engine.load(None)


@pytest.mark.parametrize("view", VIEWS)
def test_every_dump_has_the_header_and_npz_keys_are_json_keys(view, source_of, tmp_path, ins):
    bundle = read_bundle(None)
    render(source_of(view), view, tmp_path / "d.json", bundle=bundle)
    render(source_of(view), view, tmp_path / "d.npz", bundle=bundle)
    data = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == SCHEMA_VERSION and data["dump"] == "figure" and data["view"] == view
    assert data["index_base"]["base"] == 0 and data["link_order"] == "source-target"
    assert data["bundle"]["name"] == Path(DEFAULT_BUNDLE).name
    if view in ("head", "grid", "cross", "beam", "probs", "trace", "snapshots"):
        assert data["decode"]["beam_size"] == ins.config.beam_size
        assert data["decode"]["strategy"] == ins.config.strategy
    assert unexplained_nulls(data) == set(), view
    with np.load(tmp_path / "d.npz", allow_pickle=False) as z:
        assert set(z.files) == set(_leaves(data)), view


def test_bundle_identity_is_a_content_hash(tmp_path):
    from attnscope.core.inference.serialize import IDENTITY_FILES, bundle_identity

    b = read_bundle(None)
    ident = bundle_identity(b)
    h = hashlib.sha256()
    for name in IDENTITY_FILES:  # the documented recipe, computed here from the files
        h.update(name.encode() + b"\0" + hashlib.sha256((Path(DEFAULT_BUNDLE) / name).read_bytes()).hexdigest().encode()
                 + b"\0")
    assert ident == {"name": "default", "snapshot": None, "sha256": h.hexdigest()}
    other = bundle_identity(b.snapshot(b.snapshots()[0].name))
    assert other["sha256"] != ident["sha256"] and other["snapshot"] == b.snapshots()[0].name


def _inspect_json(argv: list[str]) -> dict:
    from attnscope.core.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["inspect", *argv, "--json"]) == 0
    return json.loads(out.getvalue())


def test_inspect_json_schema(engine):
    text = "I love you"
    data = _inspect_json([text, "--beam", "3", "--top-logits", "5"])
    assert data["schema_version"] == SCHEMA_VERSION and data["dump"] == "inspection"
    assert data["bundle"]["name"] == "default" and data["decode"]["beam_size"] == 3
    assert unexplained_nulls(data) == set()
    for row in data["step_logits"]:  # piece strings beside the ids, from the tokenizer
        assert row["pieces"] == [engine.tokenizer.piece(i) for i in row["ids"]] and len(row["ids"]) == 5
    # links are [source piece, target piece]: each joins the words a Pharaoh i-j link joins
    ko, pharaoh = translate(text)
    gold = {(i, j) for i, j in parse_alignment(pharaoh)}
    src_w = piece_words(data["source_pieces"], words(text))
    tgt_w = piece_words(data["target_pieces"], words(ko))
    links = data["gold_alignment"]["links"]
    assert links and all((src_w[s], tgt_w[t]) in gold for s, t in links)
    assert "attention" not in data["beam_tree"][0]  # per-node attention is opt-in


def test_a_null_says_why(engine):
    data = _inspect_json(["Colorless green ideas sleep furiously."])
    assert data["gold_alignment"] is None and "outside the generated grammar" in data["null_reasons"]["gold_alignment"]
    assert unexplained_nulls(data) == set()


def test_node_attention_is_what_a_forced_decode_of_that_node_sees(engine):
    """Every fed node of the beam tree carries its step's attention; the oracle decodes the
    node's prefix alone (forced, one row) and reads the attention of its last step."""
    text = "She eats an apple."
    data = _inspect_json([text, "--beam", "3", "--node-attention"])
    tree = {n["id"]: n for n in data["beam_tree"]}
    fed = [n for n in data["beam_tree"] if n["attention"] is not None]
    unfed = [n for n in data["beam_tree"] if n["attention"] is None]
    assert len(fed) > 3 and unfed and "beam_tree[].attention" in data["null_reasons"]
    for node in fed[1::max(len(fed) // 5, 1)][:5]:
        prefix = []
        nid = node["id"]
        while nid > 0:
            prefix.append(tree[nid]["token"])
            nid = tree[nid]["parent"]
        prefix.reverse()  # the tokens fed before and including this node
        cfg = DecodeConfig(strategy="greedy", beam_size=1, forced_prefix=tuple(prefix), max_len=len(prefix) + 1)
        alone = engine.inspect(text, cfg)
        step = alone.steps[len(prefix)]  # the call this node fed
        np.testing.assert_allclose(node["attention"]["cross_attention"], step.cross_attention[:, :, 0],
                                   atol=2e-5)
        np.testing.assert_allclose(node["attention"]["decoder_self_attention"], step.self_attention[:, :, 0],
                                   atol=2e-5)


def test_force_target_teacher_forces_the_reference(engine, tmp_path):
    from attnscope.export.cli import main as figure

    reference = "그는 사과를 먹는다."
    data = _inspect_json(["He eats an apple.", "--force-target", reference])
    expected = [*engine.tokenizer.pieces(engine.tokenizer.encode(reference)), "</s>"]
    assert data["target_pieces"] == expected and data["decode"]["forced_prefix"]
    assert sum(n["forced"] for n in data["beam_tree"]) == len(expected)  # every piece of it forced
    out = tmp_path / "forced.json"
    assert figure(["He eats an apple.", "--view", "cross", "--force-target", reference, "-o", str(out)]) == 0
    fig_data = json.loads(out.read_text(encoding="utf-8"))
    assert fig_data["y_pieces"] == expected
