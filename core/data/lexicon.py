"""The English→Korean lexicon of the generated corpus, loaded from ``lexicon.json``.

The JSON file is the single source of facts (see shared/corpus/en-ko-grammar.md);
this module only indexes it for fast lookups by the grammar, parser and sampler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

# Place modes of a (verb, subject class) row of the selection table.
DESTINATION = "destination"  # go/come: a destination is required
OPTIONAL = "optional"  # a location may follow
NO_PLACE = "none"


@dataclass(frozen=True)
class Noun:
    """A pronoun or noun that can head a noun phrase."""

    key: str  # lexicon key: "I", "you", ..., "teacher", "apple"
    ko: str
    batchim: bool  # Korean word ends in a consonant: 은/을 instead of 는/를
    pronoun: bool
    animate_class: str | None  # "people", "animals" or None for things
    mass: bool
    third_singular: bool  # takes the English -s form / does


@dataclass(frozen=True)
class Verb:
    """A verb with its English forms, Korean forms and frame (T, M or I)."""

    base: str
    third: str
    past: str
    ko_present: str
    ko_past: str
    stem: str
    q_present: str
    q_past: str
    frame: str


@dataclass(frozen=True)
class Lexicon:
    """Indexed lexicon; build it with :func:`lexicon`."""

    nouns: dict[str, Noun]
    pronoun_subject: dict[str, str]  # English subject form (lower-case) -> key
    pronoun_object: dict[str, str]  # English object form -> key
    object_form: dict[str, str]  # key -> English object form
    may_ask: frozenset[str]  # pronoun keys allowed as question subjects
    forbidden_objects: dict[str, frozenset[str]]  # subject key -> object keys
    classes: dict[str, tuple[str, ...]]
    vowel_sound: frozenset[str]
    places: dict[str, dict[str, Any]]
    adjectives: dict[str, str]  # adjective -> Korean
    adjective_nouns: dict[str, frozenset[str]]  # adjective -> nouns it may modify
    time_adverbs: dict[str, str]  # "every day" -> "매일"
    time_tenses: dict[str, frozenset[str]]
    verbs: dict[str, Verb]
    # (verb, subject class) -> allowed object keys (empty for M/I verbs)
    objects: dict[tuple[str, str], tuple[str, ...]]
    # (verb, subject class) -> place mode
    place_mode: dict[tuple[str, str], str]

    def subject_class(self, key: str) -> str | None:
        """ "people", "animals", or None when the noun cannot be a subject."""
        return self.nouns[key].animate_class

    def adjectives_for(self, noun: str) -> tuple[str, ...]:
        """Adjectives that may modify ``noun`` (never a pronoun)."""
        return tuple(a for a, ns in self.adjective_nouns.items() if noun in ns)


def _expand(names: list[str], classes: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Replace class names (people, food, ...) by their members, keeping order."""
    out: list[str] = []
    for name in names:
        for item in classes.get(name, (name,)):
            if item not in out:
                out.append(item)
    return tuple(out)


def _build(raw: dict[str, Any]) -> Lexicon:
    classes = {k: tuple(v) for k, v in raw["classes"].items()}
    mass = set(raw["mass_nouns"])
    nouns: dict[str, Noun] = {}
    for key, p in raw["pronouns"].items():
        nouns[key] = Noun(key, p["ko"], p["batchim"], True, "people", False, p["third_singular"])
    for group, cls in (("people", "people"), ("animals", "animals"), ("things", None)):
        for key, n in raw[group].items():
            nouns[key] = Noun(key, n["ko"], n["batchim"], False, cls, key in mass, True)
    # Adjectives only modify nouns; class "people" includes pronouns, which never
    # take an adjective, so they are dropped here.
    adjective_nouns = {
        a: frozenset(n for n in _expand(v["nouns"], classes) if not nouns[n].pronoun)
        for a, v in raw["adjectives"].items()
    }
    verbs = {b: Verb(base=b, **v) for b, v in raw["verbs"].items()}
    objects: dict[tuple[str, str], tuple[str, ...]] = {}
    place_mode: dict[tuple[str, str], str] = {}
    for row in raw["selection"]:
        for verb in row["verbs"]:
            key = (verb, row["subjects"])
            objects[key] = _expand(row.get("objects", []), classes)
            default = NO_PLACE if verb in raw["no_location"] else OPTIONAL
            place_mode[key] = row.get("place", default)
    pron = raw["pronouns"]
    object_key = {p["object"]: k for k, p in pron.items()}
    return Lexicon(
        nouns=nouns,
        pronoun_subject={p["subject"].lower(): k for k, p in pron.items()},
        pronoun_object=object_key,
        object_form={k: p["object"] for k, p in pron.items()},
        may_ask=frozenset(k for k, p in pron.items() if p["may_ask"]),
        # JSON lists English object forms; index them by pronoun key.
        forbidden_objects={
            k: frozenset(object_key[form] for form in v) for k, v in raw["forbidden_objects"].items()
        },
        classes=classes,
        vowel_sound=frozenset(raw["vowel_sound"]),
        places={k: v for k, v in raw["places"].items() if not k.startswith("_")},
        adjectives={a: v["ko"] for a, v in raw["adjectives"].items()},
        adjective_nouns=adjective_nouns,
        time_adverbs={t: v["ko"] for t, v in raw["time_adverbs"].items()},
        time_tenses={t: frozenset(v["tenses"]) for t, v in raw["time_adverbs"].items()},
        verbs=verbs,
        objects=objects,
        place_mode=place_mode,
    )


def load_raw() -> dict[str, Any]:
    """The raw JSON content of ``lexicon.json``."""
    text = resources.files("attnscope.core.data").joinpath("lexicon.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The indexed lexicon (loaded once per process)."""
    return _build(load_raw())
