"""Loaders for real corpora: TSV pairs and Moses-style parallel files."""

from __future__ import annotations

from pathlib import Path

import pytest

from attnscope.core.data import (
    CorpusError,
    Pair,
    generate_pairs,
    load_parallel,
    load_tsv,
    read_parallel,
    read_tsv,
    write_splits,
)

TATOEBA = (
    "Go.\t가.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #8355888 (Eldad)\n"
    "Hi.\t안녕.\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #8355890 (Eldad)\n"
)


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def _error(excinfo: pytest.ExceptionInfo[CorpusError], path: Path, line: int) -> str:
    message = str(excinfo.value)
    assert path.name in message and f"line {line}" in message, message
    assert excinfo.value.line == line and excinfo.value.path == str(path)
    return message


def test_tatoeba_format_ignores_extra_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "kor.txt", TATOEBA)
    assert load_tsv(path) == [Pair("Go.", "가.", None), Pair("Hi.", "안녕.", None)]
    assert read_tsv(path).aligned is False


def test_two_columns_crlf_and_bom(tmp_path: Path) -> None:
    path = _write(tmp_path / "pairs.tsv", "\ufeffI love you\t나는 너를 사랑한다\r\nHi\t안녕\r\n")
    assert load_tsv(path) == [Pair("I love you", "나는 너를 사랑한다"), Pair("Hi", "안녕")]


def test_write_splits_files_keep_alignments(tmp_path: Path) -> None:
    write_splits(tmp_path, n_pairs=600, seed=2, valid=50, test=50)
    report = read_tsv(tmp_path / "valid.tsv")
    assert report.aligned and len(report.pairs) == 50
    assert all(p.alignment for p in report.pairs)
    pairs = generate_pairs(40, seed=4)
    path = _write(tmp_path / "g.tsv", "".join(f"{p.en}\t{p.ko}\t{p.alignment}\n" for p in pairs))
    assert load_tsv(path) == pairs
    assert all(p.alignment is None for p in load_tsv(path, alignment=False))


def test_blank_lines_are_skipped_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "gaps.tsv", "a\tb\n\n  \nc\td\n\n")
    report = read_tsv(path)
    assert report.skipped_blank == 3 and len(report.pairs) == 2 and report.lines == 5
    assert len(load_tsv(path)) == 2
    err = capsys.readouterr().err
    assert "3 blank lines skipped" in err and "gaps.tsv" in err


def test_no_report_when_nothing_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load_tsv(_write(tmp_path / "ok.tsv", "a\tb\n"))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("a\tb\nno tab here\n", 2, "missing column"),
        ("a\tb\nc\td\n\t안녕\n", 3, "empty source"),
        ("a\tb\nc\t  \n", 2, "empty target"),
        ("I love you\t나는 너를 사랑한다\t0-0 1-2 2-1\nHi\t안녕\n", 2, "expected 3 columns"),
        ("I love you\t나는 너를 사랑한다\t0-0 1-2 2-1\nHi\t안녕\tCC-BY\n", 2, "not a Pharaoh"),
        ("I love you\t나는 너를 사랑한다\t0-0 1-2 2-1\nHi\t안녕\t0-0 1-1\n", 2, "out of range"),
    ],
)
def test_malformed_tsv(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = _write(tmp_path / "bad.tsv", text)
    with pytest.raises(CorpusError) as excinfo:
        load_tsv(path)
    assert needle in _error(excinfo, path, line)


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "latin1.tsv", b"a\tb\n" * 2 + "café\tb\n".encode("latin-1"))
    with pytest.raises(CorpusError) as excinfo:
        load_tsv(path)
    assert "invalid UTF-8" in _error(excinfo, path, 3)
    assert isinstance(excinfo.value, ValueError)


def test_forced_alignment_on_plain_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "plain.tsv", "a\tb\n")
    with pytest.raises(CorpusError) as excinfo:
        load_tsv(path, alignment=True)
    _error(excinfo, path, 1)


def test_parallel_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "train.en", "I love you\n\nHi\n")
    tgt = _write(tmp_path / "train.ko", "나는 너를 사랑한다\n\n안녕\n")
    report = read_parallel(src, tgt)
    assert report.pairs == (Pair("I love you", "나는 너를 사랑한다"), Pair("Hi", "안녕"))
    assert report.skipped_blank == 1 and not report.aligned
    assert len(load_parallel(src, tgt)) == 2
    assert "1 blank lines skipped" in capsys.readouterr().err


def test_parallel_mismatched_line_counts(tmp_path: Path) -> None:
    src = _write(tmp_path / "a.en", "one\ntwo\nthree\n")
    tgt = _write(tmp_path / "a.ko", "하나\n둘\n")
    with pytest.raises(CorpusError) as excinfo:
        load_parallel(src, tgt)
    message = _error(excinfo, src, 3)
    assert "a.ko" in message and "3 lines" in message
    blank_tail = _write(tmp_path / "b.ko", "하나\n둘\n셋\n\n")
    with pytest.raises(CorpusError, match="extra lines are blank"):
        load_parallel(src, blank_tail)


def test_parallel_empty_side(tmp_path: Path) -> None:
    src = _write(tmp_path / "c.en", "one\n\nthree\n")
    tgt = _write(tmp_path / "c.ko", "하나\n둘\n셋\n")
    with pytest.raises(CorpusError) as excinfo:
        load_parallel(src, tgt)
    assert "empty source" in _error(excinfo, src, 2)
    with pytest.raises(CorpusError) as excinfo:
        load_parallel(tgt, src)
    assert "empty target" in _error(excinfo, src, 2)


def test_parallel_invalid_utf8(tmp_path: Path) -> None:
    src = _write(tmp_path / "d.en", "one\ntwo\n")
    tgt = _write(tmp_path / "d.ko", b"\xed\x95\x98\xeb\x82\x98\n\xff\xfe\n")
    with pytest.raises(CorpusError) as excinfo:
        load_parallel(src, tgt)
    assert "invalid UTF-8" in _error(excinfo, tgt, 2)


def test_corpus_error_without_location() -> None:
    err = CorpusError("data: no such file or folder")
    assert str(err) == "data: no such file or folder" and err.path is None and err.line is None
