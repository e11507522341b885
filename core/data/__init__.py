"""The generated English→Korean corpus (gold alignments) and loaders for real corpora."""

from attnscope.core.data.generate import (
    GeneratedCorpus,
    generate_corpus,
    generate_pairs,
    required_pairs,
    required_variants,
    sentence_key,
    write_splits,
)
from attnscope.core.data.grammar import (
    Clause,
    GrammarError,
    NounPhrase,
    PlacePhrase,
    Sentence,
    check,
    render_english,
    render_korean,
    render_pair,
    translate,
)
from attnscope.core.data.loaders import (
    CorpusError,
    LoadReport,
    load_parallel,
    load_tsv,
    read_parallel,
    read_tsv,
)
from attnscope.core.data.pair import Pair, alignment_in_range, format_alignment, parse_alignment, words
from attnscope.core.data.parse import parse

__all__ = [
    "Clause",
    "GeneratedCorpus",
    "CorpusError",
    "GrammarError",
    "LoadReport",
    "NounPhrase",
    "Pair",
    "PlacePhrase",
    "Sentence",
    "alignment_in_range",
    "check",
    "format_alignment",
    "generate_corpus",
    "generate_pairs",
    "load_parallel",
    "load_tsv",
    "parse",
    "parse_alignment",
    "read_parallel",
    "read_tsv",
    "render_english",
    "render_korean",
    "render_pair",
    "required_pairs",
    "required_variants",
    "sentence_key",
    "translate",
    "write_splits",
    "words",
]
