"""Loaders for real parallel corpora: tab-separated pairs and Moses-style file pairs.

Both return :class:`Pair` lists (``Pair.ko`` holds the target side whatever its
language). Malformed input raises :class:`CorpusError` naming the file and line;
blank lines are skipped and counted, never dropped silently.

Alignment column rule (TSV): a file is *aligned* when its first non-blank line has
exactly three columns and the third is a Pharaoh alignment (``0-0 1-2 2-1``), the
shape :func:`core.data.generate.write_splits` writes. Every line of an aligned file
must then have exactly three columns and an alignment whose indices fit both
sentences (words as :func:`core.data.pair.words` counts them). In any other file
(e.g. Tatoeba/manythings.org, whose third column is an attribution) columns after
the second are ignored and alignments are None. ``alignment=True``/``False``
forces either reading.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from attnscope.core.data.pair import Pair, looks_like_alignment, parse_alignment, words


class CorpusError(ValueError):
    """Malformed corpus input; the message names the file and (1-based) line."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        if path is not None:
            message = f"{path}, line {line}: {message}" if line is not None else f"{path}: {message}"
        super().__init__(message)


@dataclass(frozen=True)
class LoadReport:
    """Pairs read from a corpus plus what was skipped on the way."""

    pairs: tuple[Pair, ...]
    sources: tuple[str, ...]
    lines: int  # lines read (per file for parallel corpora)
    skipped_blank: int  # blank lines (TSV) or blank line pairs (parallel) skipped
    aligned: bool  # alignments were read from the file

    def summary(self) -> str:
        """One line for logs: counts of pairs read and lines skipped."""
        return (
            f"{' + '.join(self.sources)}: {len(self.pairs)} pairs from {self.lines} lines, "
            f"{self.skipped_blank} blank lines skipped"
        )


def _read_lines(path: str | Path) -> list[str]:
    """Decode ``path`` line by line so invalid UTF-8 is reported with its line."""
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):  # a BOM is not part of the first sentence
        data = data[3:]
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":  # the file's final newline ends a line, not starts one
        raw.pop()
    lines = []
    for number, line in enumerate(raw, start=1):
        try:
            lines.append(line.removesuffix(b"\r").decode("utf-8"))
        except UnicodeDecodeError as err:
            raise CorpusError(
                f"invalid UTF-8 at byte {err.start} of the line", path=path, line=number
            ) from None
    return lines


def _check_alignment(path: str | Path, number: int, en: str, ko: str, text: str) -> str:
    if not looks_like_alignment(text):
        raise CorpusError(f"column 3 is not a Pharaoh alignment: {text[:40]!r}", path=path, line=number)
    n_en, n_ko = len(words(en)), len(words(ko))
    for i, j in parse_alignment(text):
        if i >= n_en or j >= n_ko:
            raise CorpusError(
                f"alignment link {i}-{j} out of range ({n_en} source words, {n_ko} target words)",
                path=path,
                line=number,
            )
    return text


def read_tsv(path: str | Path, alignment: bool | None = None) -> LoadReport:
    """Read ``English<TAB>Other[<TAB>...]`` lines; see the module doc for alignments."""
    lines = _read_lines(path)
    pairs: list[Pair] = []
    skipped = 0
    aligned = alignment
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            skipped += 1
            continue
        cols = line.split("\t")
        if len(cols) < 2:
            raise CorpusError(
                "missing column: expected 'source<TAB>target', found no tab", path=path, line=number
            )
        en, ko = cols[0].strip(), cols[1].strip()
        if not en:
            raise CorpusError("empty source side (column 1)", path=path, line=number)
        if not ko:
            raise CorpusError("empty target side (column 2)", path=path, line=number)
        if aligned is None:  # decided once, by the first data line
            aligned = len(cols) == 3 and looks_like_alignment(cols[2].strip())
        links = None
        if aligned:
            if len(cols) != 3:
                raise CorpusError(
                    f"expected 3 columns (source, target, alignment), found {len(cols)}",
                    path=path,
                    line=number,
                )
            links = _check_alignment(path, number, en, ko, cols[2].strip())
        pairs.append(Pair(en, ko, links))
    return LoadReport(tuple(pairs), (str(path),), len(lines), skipped, bool(aligned))


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> LoadReport:
    """Read two Moses-style files, one sentence per line, line i of each a pair."""
    src, tgt = _read_lines(src_path), _read_lines(tgt_path)
    if len(src) != len(tgt):
        longer, extra = (src_path, src) if len(src) > len(tgt) else (tgt_path, tgt)
        first = min(len(src), len(tgt)) + 1
        hint = " (the extra lines are blank: remove them)" if not "".join(extra[first - 1 :]).strip() else ""
        raise CorpusError(
            f"line counts differ: {src_path} has {len(src)} lines, {tgt_path} has {len(tgt)}; "
            f"line {first} has no partner{hint}",
            path=longer,
            line=first,
        )
    pairs: list[Pair] = []
    skipped = 0
    for number, (en, ko) in enumerate(zip(src, tgt, strict=True), start=1):
        en, ko = en.strip(), ko.strip()
        if not en and not ko:
            skipped += 1
            continue
        if not en:
            raise CorpusError(f"empty source line (target: {ko[:40]!r})", path=src_path, line=number)
        if not ko:
            raise CorpusError(f"empty target line (source: {en[:40]!r})", path=tgt_path, line=number)
        pairs.append(Pair(en, ko, None))
    return LoadReport(tuple(pairs), (str(src_path), str(tgt_path)), len(src), skipped, False)


def _announce(report: LoadReport) -> None:
    # Skipping is reported, never silent: callers that want the counts use read_*.
    if report.skipped_blank:
        print(f"corpus: {report.summary()}", file=sys.stderr)


def load_tsv(path: str | Path, alignment: bool | None = None) -> list[Pair]:
    """Pairs of a TSV corpus; skipped blank lines are counted on stderr."""
    report = read_tsv(path, alignment)
    _announce(report)
    return list(report.pairs)


def load_parallel(src_path: str | Path, tgt_path: str | Path) -> list[Pair]:
    """Pairs of a Moses-style corpus (alignment None); skipped blank lines go to stderr."""
    report = read_parallel(src_path, tgt_path)
    _announce(report)
    return list(report.pairs)
