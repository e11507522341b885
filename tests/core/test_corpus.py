"""The generated English→Korean corpus: required pairs, gold alignments, rules, splits."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnscope.core.data import (
    GrammarError,
    Pair,
    alignment_in_range,
    check,
    generate_corpus,
    generate_pairs,
    parse,
    render_pair,
    required_pairs,
    required_variants,
    sentence_key,
    translate,
    words,
    write_splits,
)
from attnscope.core.data.generate import _Sampler, is_ambiguous
from attnscope.core.data.grammar import english_tokens
from attnscope.core.data.lexicon import lexicon
from attnscope.core.data.parse import structures

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "corpus" / "en-ko-grammar.md"
REQUIRED_TSV = ROOT / "tests" / "data" / "required_pairs.tsv"


def _committed_pairs() -> list[tuple[str, str]]:
    lines = REQUIRED_TSV.read_text(encoding="utf-8").splitlines()
    return [(en, ko) for en, ko in (line.split("\t") for line in lines if line)]


def _spec_pairs(text: str) -> list[tuple[str, str]]:
    table = text.split("## Required pairs", 1)[1]
    rows = re.findall(r"^\| (.+?) \| (.+?) \|$", table, flags=re.M)
    return [(en, ko) for en, ko in rows if en != "English" and not en.startswith("---")]


REQUIRED = _committed_pairs()


@pytest.fixture(scope="module")
def corpus() -> list[Pair]:
    return list(generate_corpus(4000, seed=3).pairs)


def test_required_pair_copies_agree() -> None:
    assert len(REQUIRED) == 17
    assert [(p.en, p.ko) for p in required_pairs()] == REQUIRED
    if SPEC.exists():  # the shared spec is outside the repo: compare when present
        assert _spec_pairs(SPEC.read_text(encoding="utf-8")) == REQUIRED


@pytest.mark.parametrize(("en", "ko"), REQUIRED)
def test_required_pair_comes_out_exactly(en: str, ko: str) -> None:
    assert translate(en)[0] == ko
    s, lower, period = parse(en)
    check(s)  # a structure of the grammar, not just a parse
    assert not is_ambiguous(s)
    pair = render_pair(s, lower, period)
    assert (pair.en, pair.ko) == (en, ko)


@pytest.mark.parametrize(
    ("en", "alignment"),
    [
        # I-나는, love-사랑한다, you-너를
        ("I love you", "0-0 1-2 2-1"),
        ("I love you.", "0-0 1-2 2-1 3-3"),
        # We-우리는, do/not-않는다, read-읽지, the-nothing, book-책을, .-.
        ("We do not read the book.", "0-0 1-3 2-3 3-2 5-1 6-4"),
        # Do-좋아하니, you-너는, like-좋아하니, red-빨간, flower-꽃을, ?-?
        ("Do you like the red flower?", "0-3 1-0 2-3 4-1 5-2 6-4"),
        # and-먹고; second clause shifted by 3 Korean words
        ("I eat bread and you drink milk.", "0-0 1-2 2-1 3-2 4-3 5-5 6-4 7-6"),
        # every/day-매일, at/the-nothing
        ("The kind doctor meets the student every day.", "1-0 2-1 3-4 5-3 6-2 7-2 8-5"),
        ("The teacher went to school.", "1-0 2-2 4-1 5-3"),
        ("We went home yesterday.", "0-0 1-3 2-2 3-1 4-4"),
    ],
)
def test_hand_computed_alignments(en: str, alignment: str) -> None:
    assert translate(en)[1] == alignment


def test_required_variants_cover_casing_and_period() -> None:
    variants = {p.en: p for p in required_variants()}
    assert variants["i love you."].ko == "나는 너를 사랑한다."
    assert variants["the dog runs in the park every day"].ko == "개는 매일 공원에서 달린다"
    assert "did the child help the mother?" in variants
    assert "Did the child help the mother" not in variants  # questions always end in '?'
    assert len(variants) == 13 * 4 + 2 * 2


def test_generated_pairs_round_trip(corpus: list[Pair]) -> None:
    for pair in random.Random(0).sample(corpus, 3000):
        assert translate(pair.en) == (pair.ko, pair.alignment), pair


def test_ambiguity_shortcut_matches_parser() -> None:
    """The sampler's one-rival check agrees with the full parser, rejected draws included."""
    sampler = _Sampler(random.Random(5))
    rejected = 0
    for _ in range(3000):
        s = sampler.sentence()
        toks = tuple(w.lower() for w, _ in english_tokens(s))
        found = structures(toks)
        assert s in found
        assert len(found) == (2 if is_ambiguous(s) else 1), toks
        rejected += is_ambiguous(s)
    assert rejected > 0


def test_generated_sentences_are_distinct_and_in_range(corpus: list[Pair]) -> None:
    assert len({sentence_key(p.en) for p in corpus}) == len(corpus)
    for p in corpus:
        assert p.alignment and alignment_in_range(p.alignment, p.en, p.ko)
        en_end, ko_end = words(p.en)[-1], words(p.ko)[-1]
        assert (en_end if en_end in ".?" else "") == (ko_end if ko_end in ".?" else "")


FORBIDDEN = {"i": {"me", "us"}, "you": {"you"}, "he": {"him"}, "she": {"her"}, "we": {"us", "me"}}
FORBIDDEN["they"] = {"them"}


def test_corpus_breaks_no_cheap_rule(corpus: list[Pair]) -> None:
    lex = lexicon()
    vowel = {"apple", "old"}
    adjectives_ko = set(lex.adjectives.values())
    for p in corpus:
        toks = [w.lower() for w in words(p.en) if w not in ".?"]
        for art, nxt in zip(toks, toks[1:], strict=False):
            assert not (art == "a" and nxt in vowel) and not (art == "an" and nxt not in vowel), p.en
        for clause in " ".join(toks).split(" and "):
            c = clause.split()
            c = c[1:] if c[0] in ("do", "does", "did") else c
            assert not (len(c) >= 3 and c[2] in FORBIDDEN.get(c[0], set())), p.en
        if toks[0] in ("i", "you", "we", "they") and toks[1] == "read" and "and" not in toks:
            assert toks[-1] in ("yesterday", "day"), p.en  # rule 3
        if "and" in toks:
            assert toks[-1] not in ("today", "yesterday", "day"), p.en
        # Particles agree with the final consonant of the Korean syllable before them.
        for w in words(p.ko):
            if w[-1] in "은는을를" and len(w) > 1 and w not in adjectives_ko:
                batchim = (ord(w[-2]) - 0xAC00) % 28 != 0
                assert (w[-1] in "은을") == batchim, (w, p.ko)


def test_corpus_covers_every_construction(corpus: list[Pair]) -> None:
    ens = [p.en for p in corpus]
    n = len(ens)

    def share(pred: Callable[[str], bool]) -> float:
        return sum(1 for e in ens if pred(e)) / n

    assert 0.10 < share(lambda e: e == e.lower()) < 0.20
    assert share(lambda e: e.endswith("?")) > 0.1
    assert share(lambda e: " not " in e) > 0.1
    assert share(lambda e: " and " in e) > 0.1
    assert share(lambda e: e.endswith(".")) > 0.3
    assert share(lambda e: e[-1].isalpha()) > 0.2
    for word in ("yesterday", "today", "every day", " home", " to the ", " at the ", " in the ", " an "):
        assert sum(word in e.lower() for e in ens) / n > 0.005, word
    lex = lexicon()
    for verb in lex.verbs:
        assert any(verb in e.lower().split() for e in ens), verb
    for adj in lex.adjectives:
        assert any(adj in e.lower().split() for e in ens), adj


def test_generation_is_deterministic() -> None:
    assert generate_pairs(300, seed=7) == generate_pairs(300, seed=7)
    assert generate_pairs(300, seed=7) != generate_pairs(300, seed=8)


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=2**31))
def test_any_seed_round_trips(seed: int) -> None:
    for pair in generate_pairs(20, seed):
        assert translate(pair.en) == (pair.ko, pair.alignment)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("I read the book", "ambiguous"),
        ("I read the book today.", "ambiguous"),
        ("I read the book and you read the letter", "ambiguous"),
        ("I love me", "never follows"),
        ("we see me", "never follows"),
        ("The dog sees the dog", "both subject and object"),
        ("The cat reads the book", "cannot be the subject"),
        ("I love you at home", "takes no place"),
        ("He love you", "did you mean 'He loves you'"),
        ("I eat a apple", "an apple"),
        ("Do I like the cake?", "questions never"),
        ("Do you like the red flower.", "ends in '?'"),
        ("I love you?", "statement"),
        ("I Love you", "capitals"),
        ("I love pizza", "unknown word 'pizza'"),
        ("", "no words"),
        ("He drank milk every day", "does not go with"),
        ("I eat bread and you drink milk today", "no time adverb"),
    ],
)
def test_translate_rejects_text_outside_the_grammar(text: str, needle: str) -> None:
    with pytest.raises(GrammarError, match=re.escape(needle)) as err:
        translate(text)
    assert isinstance(err.value, ValueError)


def test_translate_accepts_lower_case_and_missing_period() -> None:
    assert translate("i read the book yesterday") == ("나는 어제 책을 읽었다", "0-0 1-3 3-2 4-1")
    assert translate("I read the book and he reads the letter.")[0] == "나는 책을 읽고 그는 편지를 읽는다."
    assert translate("did the child help the mother?")[0] == "아이는 어머니를 도왔니?"


def test_write_splits(tmp_path: Path) -> None:
    info = write_splits(tmp_path, n_pairs=2500, seed=1, valid=200, test=150)
    assert (info["train"], info["valid"], info["test"]) == (2150, 200, 150)
    splits = {}
    for name in ("train", "valid", "test"):
        text = (tmp_path / f"{name}.tsv").read_text(encoding="utf-8")
        rows = [line.split("\t") for line in text.splitlines()]
        assert all(len(r) == 3 and alignment_in_range(r[2], r[0], r[1]) for r in rows)
        splits[name] = rows
    keys = {name: {sentence_key(r[0]) for r in rows} for name, rows in splits.items()}
    assert not keys["train"] & keys["valid"] and not keys["train"] & keys["test"]
    assert not keys["valid"] & keys["test"]
    train = {(r[0], r[1], r[2]) for r in splits["train"]}
    for p in required_variants():
        assert (p.en, p.ko, p.alignment) in train
    again = tmp_path / "again"
    write_splits(again, n_pairs=2500, seed=1, valid=200, test=150)
    for name in ("train", "valid", "test"):
        assert (again / f"{name}.tsv").read_bytes() == (tmp_path / f"{name}.tsv").read_bytes()
