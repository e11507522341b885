"""Sample the generated English→Korean corpus and write train/valid/test splits."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from attnscope.core.data.grammar import (
    PAST,
    PRESENT,
    Clause,
    NounPhrase,
    PlacePhrase,
    Sentence,
    Tokens,
    english_tokens,
    is_valid,
    render_pair,
)
from attnscope.core.data.lexicon import DESTINATION, OPTIONAL, lexicon
from attnscope.core.data.pair import Pair, words
from attnscope.core.data.parse import parse

# Mix of constructions (fractions of sampled sentences).
P_QUESTION = 0.2
P_COMPOUND = 0.2
P_NEGATED = 0.25  # per statement clause
P_PRONOUN = 0.5  # a people subject/object is a pronoun
P_ADJECTIVE = 0.3
P_LOCATION = 0.35  # optional location present
P_TIME = 0.45
P_LOWER = 0.15
P_PERIOD = 0.6  # statements ending in "." (else nothing)


@dataclass(frozen=True)
class GeneratedCorpus:
    """Sampled pairs plus what the sampler threw away."""

    pairs: tuple[Pair, ...]
    rejected: int  # English that two structures produce (rule 3), never emitted
    duplicates: int  # re-sampled sentences already in the corpus


def sentence_key(english: str) -> str:
    """Key under which casing/period variants of one sentence count as the same."""
    toks = words(english.lower())
    if toks and toks[-1] in (".", "?"):
        toks.pop()
    return " ".join(toks)


class _Sampler:
    """Draws random valid structures; every choice comes from the lexicon tables."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lex = lex = lexicon()
        self.rows = sorted(lex.place_mode)  # (verb, subject class), sorted for determinism
        self.members = {
            "people": [k for k in lex.classes["people"]],
            "animals": [k for k in lex.classes["animals"]],
        }
        self.adjectives = {k: sorted(lex.adjectives_for(k)) for k in lex.nouns}
        self.places = sorted(lex.places)
        self._subjects: dict[tuple[str, bool], list[str]] = {}
        self._objects: dict[tuple[str, str, str], list[str]] = {}
        self._pools: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}

    def noun_phrase(self, noun: str, subject: bool) -> NounPhrase:
        lex, rng = self.lex, self.rng
        if lex.nouns[noun].pronoun:
            return NounPhrase(noun)
        if lex.nouns[noun].mass:
            article = "the" if rng.random() < 0.4 else None
        else:
            article = "the" if rng.random() < (0.8 if subject else 0.6) else "a"
        adjs = self.adjectives[noun]
        adj = rng.choice(adjs) if adjs and rng.random() < P_ADJECTIVE else None
        return NounPhrase(noun, article, adj)

    def pick_noun(self, options: list[str]) -> str:
        """Pronouns and nouns are drawn from separate pools so both stay frequent."""
        key = tuple(options)
        if key not in self._pools:
            nouns = self.lex.nouns
            self._pools[key] = (
                [k for k in options if nouns[k].pronoun],
                [k for k in options if not nouns[k].pronoun],
            )
        pron, other = self._pools[key]
        if pron and (not other or self.rng.random() < P_PRONOUN):
            return self.rng.choice(pron)
        return self.rng.choice(other)

    def subjects(self, cls: str, question: bool) -> list[str]:
        key = (cls, question)
        if key not in self._subjects:
            nouns, may_ask = self.lex.nouns, self.lex.may_ask
            self._subjects[key] = [
                k for k in self.members[cls] if not question or not nouns[k].pronoun or k in may_ask
            ]
        return self._subjects[key]

    def objects(self, verb: str, cls: str, subject: str) -> list[str]:
        """Objects the table allows, minus the subject itself and forbidden pronouns."""
        key = (verb, cls, subject)
        if key not in self._objects:
            banned = self.lex.forbidden_objects.get(subject, frozenset()) | {subject}
            self._objects[key] = [k for k in self.lex.objects[(verb, cls)] if k not in banned]
        return self._objects[key]

    def clause(self, question: bool, avoid_subject: str | None) -> Clause:
        lex, rng = self.lex, self.rng
        verb, cls = rng.choice(self.rows)
        subjects = self.subjects(cls, question)
        if avoid_subject in subjects:
            subjects = [k for k in subjects if k != avoid_subject]
        subject = self.pick_noun(subjects)
        obj = None
        objects = self.objects(verb, cls, subject)
        if objects:
            obj = self.noun_phrase(self.pick_noun(objects), subject=False)
        mode = lex.place_mode[(verb, cls)]
        place = None
        if mode == DESTINATION:
            place = PlacePhrase(rng.choice(self.places), True)
        elif mode == OPTIONAL and rng.random() < P_LOCATION:
            place = PlacePhrase(rng.choice(self.places), False)
        negated = not question and rng.random() < P_NEGATED
        return Clause(self.noun_phrase(subject, subject=True), verb, negated, obj, place)

    def sentence(self) -> Sentence:
        rng = self.rng
        tense = PAST if rng.random() < 0.5 else PRESENT
        r = rng.random()
        if r < P_COMPOUND:
            first = self.clause(False, None)
            return Sentence(first, tense, False, None, self.clause(False, first.subject.noun))
        question = r < P_COMPOUND + P_QUESTION
        time = None
        if rng.random() < P_TIME:
            time = rng.choice([t for t, ts in self.lex.time_tenses.items() if tense in ts])
        return Sentence(self.clause(question, None), tense, question, time)


def is_ambiguous(s: Sentence, en: Tokens | None = None) -> bool:
    """True when another structure renders the same English as ``s`` (rule 3).

    Only the tense can hide in the English (every other part of the structure has
    words of its own), so the one rival is ``s`` in the other tense; the tests check
    this shortcut against the full parser. ``en`` may pass ``english_tokens(s)``.
    """
    verbs = lexicon().verbs
    if not all(verbs[c.verb].past in (verbs[c.verb].base, verbs[c.verb].third) for c in s.clauses):
        return False  # some verb form differs between the tenses, so the text shows it
    rival = replace(s, tense=PAST if s.tense == PRESENT else PRESENT)
    mine = english_tokens(s) if en is None else en
    same = [w for w, _ in english_tokens(rival)] == [w for w, _ in mine]
    return same and is_valid(rival)


def generate_corpus(n: int, seed: int = 0, exclude: frozenset[str] = frozenset()) -> GeneratedCorpus:
    """``n`` pairs with distinct sentence keys (none in ``exclude``), deterministic per seed."""
    rng = random.Random(seed)
    sampler = _Sampler(rng)
    seen: set[str] = set(exclude)
    pairs: list[Pair] = []
    rejected = duplicates = 0
    budget = 50 * n + 1000  # guards against asking for more than the grammar holds
    while len(pairs) < n:
        budget -= 1
        if budget < 0:
            raise RuntimeError(f"could only sample {len(pairs)} distinct sentences of {n}")
        s = sampler.sentence()
        lower = rng.random() < P_LOWER
        period = rng.random() < P_PERIOD
        en = english_tokens(s)
        key = " ".join(w for w, _ in en).lower()  # == sentence_key() of the rendered text
        if key in seen:
            duplicates += 1
            continue
        if is_ambiguous(s, en):
            rejected += 1
            continue
        seen.add(key)
        pairs.append(render_pair(s, lower, period, en))
    return GeneratedCorpus(tuple(pairs), rejected, duplicates)


def generate_pairs(n: int, seed: int = 0) -> list[Pair]:
    """``n`` gold pairs with distinct English sentences, deterministic for ``seed``."""
    return list(generate_corpus(n, seed).pairs)


def required_pairs() -> list[Pair]:
    """The spec's required pairs with their gold alignment (``required_pairs.json``)."""
    raw = resources.files("attnscope.core.data").joinpath("required_pairs.json").read_text(encoding="utf-8")
    out = []
    for en, ko in json.loads(raw)["pairs"]:
        s, lower, period = parse(en)
        pair = render_pair(s, lower, period)
        if pair.ko != ko:  # the lexicon and the spec disagree: fail loudly
            raise ValueError(f"grammar renders {en!r} as {pair.ko!r}, spec says {ko!r}")
        out.append(pair)
    return out


def required_variants() -> list[Pair]:
    """Every surface variant (casing, final period) the rules allow of each required pair."""
    out: dict[str, Pair] = {}
    for req in required_pairs():
        s, _, _ = parse(req.en)
        for lower in (False, True):
            for period in (True, False) if not s.question else (True,):
                pair = render_pair(s, lower, period)
                out.setdefault(pair.en, pair)
    return list(out.values())


def _write_tsv(path: Path, pairs: list[Pair]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for p in pairs:
            f.write(f"{p.en}\t{p.ko}\t{p.alignment}\n")


def write_splits(
    out_dir: str | Path, n_pairs: int = 60000, seed: int = 0, valid: int = 1000, test: int = 1000
) -> dict[str, object]:
    """Write ``train.tsv``, ``valid.tsv`` and ``test.tsv`` (English, Korean, alignment).

    ``n_pairs`` counts all lines of the three files. Train holds every required pair
    variant; no sentence key (see :func:`sentence_key`) is shared between splits.
    Returns the paths, line counts and the sampler's rejection count.
    """
    required = required_variants()
    n_sampled = n_pairs - len(required)
    if n_sampled < valid + test:
        raise ValueError(f"n_pairs={n_pairs} leaves no room for training pairs")
    corpus = generate_corpus(n_sampled, seed, frozenset(sentence_key(p.en) for p in required))
    sampled = list(corpus.pairs)
    held_out_test, held_out_valid = sampled[:test], sampled[test : test + valid]
    train = required + sampled[test + valid :]
    random.Random(seed + 1).shuffle(train)  # spread the required pairs through train
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.tsv" for name in ("train", "valid", "test")}
    for name, split in (("train", train), ("valid", held_out_valid), ("test", held_out_test)):
        _write_tsv(paths[name], split)
    return {
        "paths": {k: str(v) for k, v in paths.items()},
        "train": len(train),
        "valid": len(held_out_valid),
        "test": len(held_out_test),
        "required": len(required),
        "rejected": corpus.rejected,
        "duplicates": corpus.duplicates,
        "seed": seed,
    }
