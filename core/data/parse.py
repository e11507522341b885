"""Parse English text of the grammar back into a :class:`Sentence`.

The parser is deliberately liberal: it proposes every structure whose words could
line up with the text, then keeps those that pass :func:`check` and render exactly
to the text. More than one survivor means two structures produce the same English
(rule 3: ``read`` after I/you/we/they), which the grammar forbids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache

from attnscope.core.data.grammar import (
    PAST,
    PRESENT,
    Clause,
    GrammarError,
    NounPhrase,
    PlacePhrase,
    Sentence,
    check,
    english_tokens,
)
from attnscope.core.data.lexicon import lexicon
from attnscope.core.data.pair import words

Words = tuple[str, ...]
_AUX = {"do": PRESENT, "does": PRESENT, "did": PAST}


class _Tables:
    """Lookup tables from lower-case word sequences to structure parts."""

    def __init__(self) -> None:
        lex = lexicon()
        self.subject_np: dict[Words, NounPhrase] = {}
        self.object_np: dict[Words, NounPhrase] = {}
        for form, key in lex.pronoun_subject.items():
            self.subject_np[(form,)] = NounPhrase(key)
        for form, key in lex.pronoun_object.items():
            self.object_np[(form,)] = NounPhrase(key)
        nouns = [k for k, n in lex.nouns.items() if not n.pronoun]
        # Every article/adjective/noun combination parses; check() and the
        # re-rendering reject the wrong ones with a precise message.
        for noun in nouns:
            for art_words, article in (((), None), (("the",), "the"), (("a",), "a"), (("an",), "a")):
                for adj in (None, *lex.adjectives):
                    seq = (*art_words, *((adj,) if adj else ()), noun)
                    np = NounPhrase(noun, article, adj)
                    self.subject_np[seq] = np
                    self.object_np[seq] = np
        self.places: dict[Words, PlacePhrase] = {}
        for place, entry in lex.places.items():
            self.places[tuple(entry["to"].split())] = PlacePhrase(place, True)
            self.places[tuple(entry["at"].split())] = PlacePhrase(place, False)
        self.times: dict[Words, str] = {tuple(t.split()): t for t in lex.time_adverbs}
        self.verb_forms: dict[str, list[tuple[str, str]]] = {}
        for v in lex.verbs.values():
            for form, tense in ((v.base, PRESENT), (v.third, PRESENT), (v.past, PAST)):
                options = self.verb_forms.setdefault(form, [])
                if (v.base, tense) not in options:
                    options.append((v.base, tense))
        self.vocabulary = {
            w
            for table in (self.subject_np, self.object_np, self.places, self.times)
            for key in table
            for w in key
        }
        self.vocabulary |= set(self.verb_forms) | set(_AUX) | {"not", "and"}


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    return _Tables()


def _lookup(table: Mapping[Words, object], toks: Words, i: int, longest: int = 4) -> Iterator[int]:
    """End positions j such that toks[i:j] is a key of ``table``."""
    for j in range(i + 1, min(len(toks), i + longest) + 1):
        if toks[i:j] in table:
            yield j


def _complements(
    t: _Tables, toks: Words, i: int
) -> Iterator[tuple[NounPhrase | None, PlacePhrase | None, int]]:
    objects: list[tuple[NounPhrase | None, int]] = [(None, i)]
    objects += [(t.object_np[toks[i:j]], j) for j in _lookup(t.object_np, toks, i)]
    for obj, j in objects:
        yield obj, None, j
        for k in _lookup(t.places, toks, j):
            yield obj, t.places[toks[j:k]], k


def _clauses(t: _Tables, toks: Words, i: int) -> Iterator[tuple[Clause, str, int]]:
    """Statement clauses starting at ``i``: (clause, tense, end)."""
    for j in _lookup(t.subject_np, toks, i):
        subject = t.subject_np[toks[i:j]]
        verbs: list[tuple[str, str, bool, int]] = []
        if j + 2 < len(toks) and toks[j] in _AUX and toks[j + 1] == "not":
            verbs += [(v, _AUX[toks[j]], True, j + 3) for v, _ in t.verb_forms.get(toks[j + 2], [])]
        elif j < len(toks):
            verbs += [(v, tense, False, j + 1) for v, tense in t.verb_forms.get(toks[j], [])]
        for verb, tense, negated, k in verbs:
            for obj, place, end in _complements(t, toks, k):
                yield Clause(subject, verb, negated, obj, place), tense, end


def _time_end(t: _Tables, toks: Words, i: int) -> Iterator[str | None]:
    """Time adverb (or None) when toks[i:] is empty or exactly one time adverb."""
    if i == len(toks):
        yield None
    elif toks[i:] in t.times:
        yield t.times[toks[i:]]


def candidates(toks: Words) -> Iterator[Sentence]:
    """Every structure whose word slots match the lower-case words ``toks``."""
    t = _tables()
    if toks and toks[0] in _AUX:
        tense = _AUX[toks[0]]
        for j in _lookup(t.subject_np, toks, 1):
            subject = t.subject_np[toks[1:j]]
            for verb, _ in t.verb_forms.get(toks[j], []) if j < len(toks) else []:
                for obj, place, k in _complements(t, toks, j + 1):
                    for time in _time_end(t, toks, k):
                        yield Sentence(Clause(subject, verb, False, obj, place), tense, True, time)
        return
    for first, tense1, i in _clauses(t, toks, 0):
        for time in _time_end(t, toks, i):
            yield Sentence(first, tense1, False, time)
        if i < len(toks) and toks[i] == "and":
            for second, tense2, k in _clauses(t, toks, i + 1):
                for time in _time_end(t, toks, k):
                    # Mismatched tenses still yield a candidate so the error says why.
                    yield Sentence(first, tense1, False, time, second)
                    if tense2 != tense1:
                        yield Sentence(first, tense2, False, time, second)


def structures(toks: Words) -> list[Sentence]:
    """Valid structures that render exactly to the lower-case words ``toks``."""
    found: list[Sentence] = []
    for s in candidates(toks):
        if s not in found and _renders_to(s, toks) and _valid(s):
            found.append(s)
    return found


def _renders_to(s: Sentence, toks: Words) -> bool:
    return tuple(w.lower() for w, _ in english_tokens(s)) == toks


def _valid(s: Sentence) -> bool:
    try:
        check(s)
    except GrammarError:
        return False
    return True


def _explain(toks: Words, text: str) -> str:
    """The most specific reason why no structure produces ``toks``."""
    unknown = [w for w in toks if w not in _tables().vocabulary]
    if unknown:
        return f"unknown word {unknown[0]!r} in {text!r} (not in the corpus lexicon)"
    near: str | None = None
    broken: GrammarError | None = None
    for s in candidates(toks):
        try:
            check(s)
        except GrammarError as err:
            if _renders_to(s, toks):
                return f"{text!r} is outside the grammar: {err}"
            broken = broken or err
            continue
        if near is None:
            near = " ".join(w for w, _ in english_tokens(s))
            near = near[:1].upper() + near[1:]
    if near is not None:
        return f"{text!r} is not grammatical here; did you mean {near!r}?"
    if broken is not None:
        return f"{text!r} is outside the grammar: {broken}"
    return f"{text!r} does not follow the grammar's sentence patterns"


def parse(english: str) -> tuple[Sentence, bool, bool]:
    """Parse ``english`` into (structure, lower-cased, has final period).

    Raises :class:`GrammarError` for text outside the grammar, wrong casing or
    punctuation, or text that two structures could produce.
    """
    given = words(english)
    punct = given.pop() if given and given[-1] in (".", "?") else ""
    if not given:
        raise GrammarError(f"{english!r} has no words")
    toks = tuple(w.lower() for w in given)
    found = structures(toks)
    if not found:
        raise GrammarError(_explain(toks, english))
    if len(found) > 1:
        tenses = sorted({s.tense for s in found})
        hint = " (the tense is not shown: add 'yesterday' or 'every day', or show it in the other clause)"
        raise GrammarError(
            f"{english!r} is ambiguous: {len(found)} structures ({', '.join(tenses)}) produce it"
            + (hint if len(tenses) > 1 else "")
        )
    s = found[0]
    if s.question and punct != "?":
        raise GrammarError(f"{english!r}: a question ends in '?'")
    if not s.question and punct == "?":
        raise GrammarError(f"{english!r}: a statement ends in '.' or nothing, not '?'")
    canonical = [w for w, _ in english_tokens(s)]
    canonical[0] = canonical[0][:1].upper() + canonical[0][1:]
    lower = given == [w.lower() for w in canonical]
    if not lower and given != canonical:
        raise GrammarError(
            f"{english!r}: unexpected capitals (write {' '.join(canonical)!r} or all lower-case)"
        )
    return s, lower, punct == "."
