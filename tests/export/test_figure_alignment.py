"""The gold word alignment reaches the pieces, and is drawn only when it applies."""

from __future__ import annotations

import numpy as np

from attnscope.core.config import DecodeConfig
from attnscope.export.alignment import gold_alignment, piece_words
from attnscope.export.figures import figure_data, make_figure


def test_piece_words_follows_words_not_just_word_markers():
    # sentencepiece gives "." without "▁": it is still its own gold word
    assert piece_words(["▁I", "▁lo", "ve", "▁you", ".", "</s>"], ["I", "love", "you", "."]) == [0, 1, 1, 2, 3, None]
    assert piece_words(["▁나는", "▁사랑", "한다", "."], ["나는", "사랑한다", "."]) == [0, 1, 1, 2]
    assert piece_words(["▁", "i"], ["I"]) == [0, 0]  # a lone boundary piece joins the next word
    assert piece_words(["▁cat"], ["dog"]) is None


def test_gold_links_of_i_love_you(ins):
    # gold: I-나는, love-사랑한다, you-너를, .-. ; FakeEngine pieces: ▁나는 ▁너를 ▁사랑 한다 . </s>
    gold = gold_alignment(ins)
    assert gold.note == "" and gold.reference == "나는 너를 사랑한다."
    src = {p: i for i, p in enumerate(ins.source_pieces)}
    tgt = list(ins.target_pieces)
    expected = {(tgt.index("▁나는"), src["▁i"]), (tgt.index("▁너를"), src["▁you"]),
                (tgt.index("▁사랑"), src["▁love"]), (tgt.index("한다"), src["▁love"]),
                (tgt.index("."), src["."])}
    assert {tuple(x) for x in gold.links.tolist()} == expected


def test_cross_figure_outlines_the_gold_cells(ins):
    fig = make_figure(ins, "cross")
    ax = fig.axes[0]
    boxes = {(round(p.get_y() + 0.5), round(p.get_x() + 0.5)) for p in ax.patches}
    assert boxes == {tuple(x) for x in gold_alignment(ins).links.tolist()}
    assert any(t.get_text() == "gold alignment" for t in fig.legends[0].get_texts())
    d = figure_data(ins, "cross")
    assert 0.0 <= d["argmax_agreement"] <= 1.0
    # dumps give links as [source, target], the order of Pharaoh's i-j
    assert {tuple(x) for x in d["alignment"].tolist()} == {(s, t) for t, s in gold_alignment(ins).links.tolist()}
    assert d["link_order"] == "source-target"


def test_no_overlay_outside_the_grammar_or_for_another_translation(fake_engine):
    outside = fake_engine.inspect("Colorless green ideas sleep.", DecodeConfig(beam_size=2))
    d = figure_data(outside, "cross")
    assert d["alignment"] is None and "outside the generated grammar" in d["alignment_note"]
    assert not make_figure(outside, "cross").axes[0].patches
    # FakeEngine's translation of this grammar sentence is not the gold one
    other = fake_engine.inspect("The cat sees the dog.", DecodeConfig(beam_size=2))
    d = figure_data(other, "cross")
    assert d["alignment"] is None and d["gold_translation"] == "고양이는 개를 본다."
    assert "differs" in d["alignment_note"]


def test_alignment_follows_the_chosen_hypothesis(ins):
    # another finished hypothesis of the tree is not the gold translation: no overlay
    node = next(n.id for n in ins.nodes if n.status == "finished" and n.id != ins.hypotheses[0].node_id)
    d = figure_data(ins, "cross", node=node)
    path = ins.path(node)
    assert d["y_pieces"] == list(path.target_pieces) != list(ins.target_pieces)
    np.testing.assert_allclose(d["matrix"], path.cross_attention[-1].mean(axis=0), rtol=1e-6)
    assert d["alignment"] is None
