"""Structured sentences of the English→Korean grammar and their gold rendering.

A :class:`Sentence` is rendered to English (any casing / final punctuation the rules
allow) and to Korean with the gold word alignment in Pharaoh format. :func:`check`
enforces every rule of shared/corpus/en-ko-grammar.md that a single structure can
violate; tense ambiguity of the English text is a property of the text and is
enforced by the parser (:mod:`core.data.parse`).
"""

from __future__ import annotations

from dataclasses import dataclass

from attnscope.core.data.lexicon import DESTINATION, NO_PLACE, OPTIONAL, Lexicon, lexicon
from attnscope.core.data.pair import Pair, format_alignment

PRESENT = "present"
PAST = "past"
TENSES = (PRESENT, PAST)


class GrammarError(ValueError):
    """A structure or an English text breaks a rule of the grammar."""


@dataclass(frozen=True)
class NounPhrase:
    """A pronoun (``noun`` = pronoun key such as "I") or ``[article] [adjective] noun``.

    ``article`` is "the", "a" (rendered "an" before a vowel sound) or None.
    """

    noun: str
    article: str | None = None
    adjective: str | None = None


@dataclass(frozen=True)
class PlacePhrase:
    """A place: destination of go/come (``PLACE에``) or a location (``PLACE에서``)."""

    place: str
    destination: bool


@dataclass(frozen=True)
class Clause:
    """Subject, verb and complements of one statement or question."""

    subject: NounPhrase
    verb: str
    negated: bool = False
    obj: NounPhrase | None = None
    place: PlacePhrase | None = None


@dataclass(frozen=True)
class Sentence:
    """A whole sentence; ``second`` is the clause after ``and`` (same tense)."""

    clause: Clause
    tense: str = PRESENT
    question: bool = False
    time: str | None = None
    second: Clause | None = None

    @property
    def clauses(self) -> tuple[Clause, ...]:
        return (self.clause,) if self.second is None else (self.clause, self.second)


def _check_np(lex: Lexicon, np: NounPhrase, role: str) -> None:
    if np.noun not in lex.nouns:
        raise GrammarError(f"unknown {role} {np.noun!r}")
    noun = lex.nouns[np.noun]
    if noun.pronoun:
        if np.article is not None or np.adjective is not None:
            raise GrammarError(f"pronoun {np.noun!r} takes no article or adjective")
        return
    if noun.mass and np.article not in (None, "the"):
        raise GrammarError(f"mass noun {np.noun!r} takes 'the' or no article")
    if not noun.mass and np.article not in ("the", "a"):
        raise GrammarError(f"{np.noun!r} takes 'the' or 'a'/'an'")
    if np.adjective is not None and np.noun not in lex.adjective_nouns.get(np.adjective, ()):
        raise GrammarError(f"{np.adjective!r} does not modify {np.noun!r}")


def _check_clause(lex: Lexicon, c: Clause) -> None:
    if c.verb not in lex.verbs:
        raise GrammarError(f"unknown verb {c.verb!r}")
    _check_np(lex, c.subject, "subject")
    cls = lex.subject_class(c.subject.noun)
    row = (c.verb, cls or "")
    if row not in lex.place_mode:
        raise GrammarError(f"{c.subject.noun!r} cannot be the subject of {c.verb!r}")
    objects = lex.objects[row]
    if objects and c.obj is None:
        raise GrammarError(f"{c.verb!r} needs an object")
    if c.obj is not None:
        _check_np(lex, c.obj, "object")
        if c.obj.noun not in objects:
            raise GrammarError(f"{c.subject.noun!r} does not {c.verb} {c.obj.noun!r}")
        if c.obj.noun in lex.forbidden_objects.get(c.subject.noun, ()):
            raise GrammarError(
                f"object {lex.object_form[c.obj.noun]!r} never follows subject {c.subject.noun!r}"
            )
        if c.obj.noun == c.subject.noun:
            raise GrammarError(f"{c.obj.noun!r} is both subject and object")
    mode = lex.place_mode[row]
    if c.place is None:
        if mode == DESTINATION:
            raise GrammarError(f"{c.verb!r} needs a destination")
        return
    if c.place.place not in lex.places:
        raise GrammarError(f"unknown place {c.place.place!r}")
    if mode == NO_PLACE:
        raise GrammarError(f"{c.verb!r} takes no place phrase")
    if mode == OPTIONAL and c.place.destination:
        raise GrammarError(f"{c.verb!r} takes a location (at/in), not a destination")
    if mode == DESTINATION and not c.place.destination:
        raise GrammarError(f"{c.verb!r} takes a destination, not a location")


def check(s: Sentence) -> None:
    """Raise :class:`GrammarError` when ``s`` breaks a rule of the grammar."""
    lex = lexicon()
    if s.tense not in TENSES:
        raise GrammarError(f"unknown tense {s.tense!r}")
    for c in s.clauses:
        _check_clause(lex, c)
    if s.question:
        if s.second is not None or s.clause.negated:
            raise GrammarError("questions are never negated or joined with 'and'")
        subj = lex.nouns[s.clause.subject.noun]
        if subj.pronoun and subj.key not in lex.may_ask:
            raise GrammarError(f"questions never have the subject {subj.key!r}")
    if s.time is not None:
        if s.time not in lex.time_adverbs:
            raise GrammarError(f"unknown time adverb {s.time!r}")
        if s.second is not None:
            raise GrammarError("sentences joined with 'and' carry no time adverb")
        if s.tense not in lex.time_tenses[s.time]:
            raise GrammarError(f"{s.time!r} does not go with the {s.tense} tense")
    if s.second is not None and s.second.subject.noun == s.clause.subject.noun:
        raise GrammarError("clauses joined with 'and' need different subjects")


def is_valid(s: Sentence) -> bool:
    """True when :func:`check` accepts ``s``."""
    try:
        check(s)
    except GrammarError:
        return False
    return True


# --- rendering -----------------------------------------------------------------
# Both sides are built as (word, anchor) lists; words sharing an anchor align.
# Anchors: "<clause>.<slot>" for clause words, "t" for time, "." for punctuation.
Tokens = list[tuple[str, str | None]]


def _np_en(lex: Lexicon, np: NounPhrase, subject: bool, tag: str) -> Tokens:
    noun = lex.nouns[np.noun]
    if noun.pronoun:
        form = np.noun if subject else lex.object_form[np.noun]
        return [(form, tag)]
    out: Tokens = []
    if np.article is not None:
        first = np.adjective or np.noun
        article = "an" if np.article == "a" and first in lex.vowel_sound else np.article
        out.append((article, None))
    if np.adjective is not None:
        out.append((np.adjective, tag + "a"))
    return out + [(np.noun, tag)]


def _clause_en(lex: Lexicon, s: Sentence, ci: int, c: Clause) -> Tokens:
    verb = lex.verbs[c.verb]
    third = lex.nouns[c.subject.noun].third_singular
    tag = f"{ci}."
    out: Tokens = []
    if s.question:
        aux = "did" if s.tense == PAST else ("does" if third else "do")
        out.append((aux, tag + "v"))
    out += _np_en(lex, c.subject, True, tag + "s")
    if s.question:
        out.append((verb.base, tag + "v"))
    elif c.negated:
        aux = "did" if s.tense == PAST else ("does" if third else "do")
        out += [(aux, tag + "n"), ("not", tag + "n"), (verb.base, tag + "v")]
    else:
        form = verb.past if s.tense == PAST else (verb.third if third else verb.base)
        out.append((form, tag + "v"))
    if c.obj is not None:
        out += _np_en(lex, c.obj, False, tag + "o")
    if c.place is not None:
        phrase = lex.places[c.place.place]["to" if c.place.destination else "at"].split()
        out += [(w, None) for w in phrase[:-1]] + [(phrase[-1], tag + "p")]
    return out


def english_tokens(s: Sentence) -> Tokens:
    """Canonical English words with alignment anchors (final punctuation excluded)."""
    lex = lexicon()
    out = _clause_en(lex, s, 0, s.clause)
    if s.second is not None:
        out.append(("and", "0.v"))
        out += _clause_en(lex, s, 1, s.second)
    if s.time is not None:
        out += [(w, "t") for w in s.time.split()]
    return out


def _casing(words: list[str], lower: bool) -> list[str]:
    if lower:
        return [w.lower() for w in words]
    return [words[0][:1].upper() + words[0][1:], *words[1:]]


def _punct(s: Sentence, period: bool) -> str:
    return "?" if s.question else ("." if period else "")


def render_english(s: Sentence, lower: bool = False, period: bool = True) -> str:
    """English text; ``period`` only matters for statements (questions end in ``?``)."""
    words = _casing([w for w, _ in english_tokens(s)], lower)
    return " ".join(words) + _punct(s, period)


def _particle(batchim: bool, with_consonant: str, with_vowel: str) -> str:
    return with_consonant if batchim else with_vowel


def _np_ko(lex: Lexicon, np: NounPhrase, subject: bool, tag: str) -> Tokens:
    noun = lex.nouns[np.noun]
    particle = _particle(noun.batchim, "은", "는") if subject else _particle(noun.batchim, "을", "를")
    out: Tokens = []
    if np.adjective is not None:
        out.append((lex.adjectives[np.adjective], tag + "a"))
    return out + [(noun.ko + particle, tag)]


def korean_tokens(s: Sentence) -> Tokens:
    """Korean words with alignment anchors (final punctuation excluded)."""
    lex = lexicon()
    out: Tokens = []
    for ci, c in enumerate(s.clauses):
        tag = f"{ci}."
        verb = lex.verbs[c.verb]
        out += _np_ko(lex, c.subject, True, tag + "s")
        if s.time is not None:
            out.append((lex.time_adverbs[s.time], "t"))
        if c.place is not None:
            suffix = "에" if c.place.destination else "에서"
            out.append((lex.places[c.place.place]["ko"] + suffix, tag + "p"))
        if c.obj is not None:
            out += _np_ko(lex, c.obj, False, tag + "o")
        past = s.tense == PAST
        if ci == 0 and s.second is not None:
            # Only the last verb carries the tense (rule 9).
            if c.negated:
                out += [(verb.stem + "지", tag + "v"), ("않고", tag + "n")]
            else:
                out.append((verb.stem + "고", tag + "v"))
        elif s.question:
            out.append((verb.q_past if past else verb.q_present, tag + "v"))
        elif c.negated:
            out += [(verb.stem + "지", tag + "v"), ("않았다" if past else "않는다", tag + "n")]
        else:
            out.append((verb.ko_past if past else verb.ko_present, tag + "v"))
    return out


def render_korean(s: Sentence, period: bool = True) -> str:
    """Korean text; final punctuation mirrors the English (rule 10)."""
    return " ".join(w for w, _ in korean_tokens(s)) + _punct(s, period)


def _links(en: Tokens, ko: Tokens, punct: bool) -> str:
    index = {anchor: j for j, (_, anchor) in enumerate(ko)}
    links = [(i, index[a]) for i, (_, a) in enumerate(en) if a is not None]
    if punct:  # the final punctuation aligns with its twin
        links.append((len(en), len(ko)))
    return format_alignment(links)


def alignment(s: Sentence, period: bool = True) -> str:
    """Gold Pharaoh alignment between :func:`render_english` and :func:`render_korean`."""
    return _links(english_tokens(s), korean_tokens(s), bool(_punct(s, period)))


def render_pair(s: Sentence, lower: bool = False, period: bool = True, en: Tokens | None = None) -> Pair:
    """The gold pair (English, Korean, alignment) of ``s`` in one surface variant.

    ``en`` may pass ``english_tokens(s)`` when the caller already has it.
    """
    en = english_tokens(s) if en is None else en
    ko = korean_tokens(s)
    punct = _punct(s, period)
    return Pair(
        " ".join(_casing([w for w, _ in en], lower)) + punct,
        " ".join(w for w, _ in ko) + punct,
        _links(en, ko, bool(punct)),
    )


def translate(english: str) -> tuple[str, str]:
    """Gold Korean translation and alignment of an English sentence of the grammar.

    Raises :class:`GrammarError` (a ValueError) for text outside the grammar or
    text that two structures could produce.
    """
    # Imported here because the parser builds on the structures defined above.
    from attnscope.core.data.parse import parse

    s, lower, period = parse(english)
    pair = render_pair(s, lower, period)
    assert pair.alignment is not None
    return pair.ko, pair.alignment
