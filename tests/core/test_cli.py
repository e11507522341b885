"""Every subcommand checks its input the same way: one line on stderr, exit status 2, no
traceback, nothing written. The table holds every bad input found by trying the command
line as a user would; the model is the shipped one."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from attnscope.core.cli import COMMANDS, main

LONG_TEXT = " ".join(["the cat sees the dog"] * 400)  # 2000 words, far past the 127 pieces


def _run(argv: list[str], capsys, stdin: bytes | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


BAD = [
    # (argv, stdin, what the one line must say)
    (["inspect", "hi", "--temperature", "0"], None, "argument --temperature: 0 is outside (0, ∞)"),
    (["inspect", "hi", "--temperature", "-1"], None, "-1 is outside (0, ∞)"),
    (["inspect", "hi", "--temperature", "nan"], None, "nan is outside"),
    (["translate", "--temperature", "0"], b"hi\n", "argument --temperature"),
    (["inspect", "hi", "--top-p", "0"], None, "argument --top-p: 0 is outside (0, 1]"),
    (["inspect", "hi", "--top-p", "1.5"], None, "1.5 is outside (0, 1]"),
    (["translate", "--top-p", "2"], b"hi\n", "argument --top-p"),
    (["inspect", "hi", "--top-k", "-1"], None, "argument --top-k: -1 is too small: at least 0"),
    (["translate", "--top-k", "-3"], b"hi\n", "argument --top-k"),
    (["inspect", "hi", "--beam", "0"], None, "argument --beam: 0 is too small: at least 1"),
    (["inspect", "hi", "--n-best", "10", "--beam", "2"], None, "--n-best 10 is more than the beam search keeps (2)"),
    (["inspect", "hi", "--n-best", "2", "--strategy", "greedy"], None, "more than the greedy search keeps"),
    (["inspect", "hi", "--max-len", "0"], None, "argument --max-len: 0 is too small: at least 1"),
    (["inspect", "hi", "--beam", "two"], None, "'two' is not a whole number"),
    (["inspect", "   "], None, "TEXT is empty"),
    (["inspect", "hi", "--snapshot", "step-999999"], None, "step-999999"),
    (["inspect", "hi", "--bundle", "/no/such/bundle"], None, "/no/such/bundle: no such bundle"),
    (["translate"], b"I love you\n\xff\xfe broken\n", "stdin line 2: not valid UTF-8"),
    (["corpus", "--out", "{tmp}/c", "--pairs", "10"], None, "--pairs 10 is too small"),
    (["corpus", "--out", "{tmp}/c", "--pairs", "-5"], None, "argument --pairs: -5 is too small"),
    (["train", "--max-steps", "0"], None, "argument --max-steps: 0 is too small"),
    (["train", "--snapshots", "0,x"], None, "not a comma-separated list of fractions"),
    (["train", "--snapshots", "0,2"], None, "fractions of training lie in [0, 1]"),
    (["train", "--preset", "huge"], None, "invalid choice: 'huge'"),
    (["export-onnx", "{tmp}/no-run", "--out", "{tmp}/b"], None, "no-run: no such run folder"),
    (["heads", "--bundle", "{tmp}/no-bundle"], None, "no such bundle"),
    (["heads", "--snapshot", "step-1"], None, "step-1"),
    (["inspect"], None, "the following arguments are required: text"),
    (["nonsense"], None, "invalid choice: 'nonsense'"),
    (["figure", "I love you", "--view", "cross", "--kind", "enc", "-o", "{tmp}/c.pdf"], None,
     "--kind does not apply to --view cross"),
    (["figure", "I love you", "--view", "probs", "--layer", "2", "-o", "{tmp}/p.pdf"], None,
     "--layer does not apply to --view probs"),
    (["figure", "I love you", "--view", "curves", "-o", "{tmp}/c.pdf"], None, "--view curves takes no TEXT"),
    (["figure", "I love you", "--view", "head", "--font-size", "5", "-o", "{tmp}/h.pdf"], None,
     "argument --font-size: 5 is outside [7, 24]"),
    (["figure", "I love you", "--view", "head", "--font", "No Such Font", "-o", "{tmp}/h.pdf"], None,
     "font 'No Such Font' is not installed"),
    (["figure", "I love you", "--view", "head", "--svg-fonttype", "none", "-o", "{tmp}/h.svg"], None,
     "invalid choice: 'none'"),
    (["figure", "I love you", "--view", "head", "--head", "all", "-o", "{tmp}/h.pdf"], None,
     "'all': a head number or one of mean, max, rollout"),
    (["figure", "I love you", "--view", "cross", "--head", "rollout", "-o", "{tmp}/h.pdf"], None,
     "rollout composes self-attention layers"),
    (["figure", "--view", "corpus", "-o", "{tmp}/m.pdf"], None, "needs --sentences FILE"),
    (["figure", "I love you", "--view", "cross", "--force-target", "", "-o", "{tmp}/c.pdf"], None,
     "the reference translation is empty"),
]


@pytest.mark.parametrize("argv,stdin,needle", BAD, ids=[" ".join(a)[:60] for a, _, _ in BAD])
def test_bad_input_is_one_line_and_status_2(argv, stdin, needle, capsys, monkeypatch, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = _run(argv, capsys, stdin, monkeypatch)
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]
    assert lines[0].startswith(f"attnscope {argv[0]}: error: ") or lines[0].startswith("attnscope: error: ")
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_cut_input_is_warned_about(capsys, monkeypatch):
    code, out, err = _run(["inspect", LONG_TEXT, "--beam", "1", "--max-len", "4"], capsys)
    assert code == 0 and out.strip()
    assert "warning: the input is longer than the model's 127 pieces and was cut" in err
    code, out, err = _run(["translate", "--beam", "1", "--max-len", "4"], capsys,
                          f"I love you\n{LONG_TEXT}\n".encode(), monkeypatch)
    assert code == 0 and len(out.strip().splitlines()) == 2  # every line is still translated
    assert "stdin line 2 is longer than the model's 127 pieces" in err and "stdin line 1 " not in err


def test_options_without_effect_are_warned_about(capsys):
    code, _, err = _run(["inspect", "I love you", "--temperature", "2", "--beam", "2"], capsys)
    assert code == 0 and "--temperature changes only --strategy sample" in err


def test_corpus_of_2000_pairs(tmp_path, capsys):
    code, out, _ = _run(["corpus", "--out", str(tmp_path), "--pairs", "2000"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["train"] + info["valid"] + info["test"] == 2000
    assert len((tmp_path / "valid.tsv").read_text(encoding="utf-8").splitlines()) == 100


def test_help_shows_every_command_and_the_defaults(capsys):
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    for name in COMMANDS:
        assert f"    {name} " in top or f"    {name}\n" in top, name
    assert main(["inspect", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: 4;", "(default: 0.6;", "(default: 1.0)", "(default: 64;", "(default: 10)"):
        assert default in text, default
    assert main(["figure", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # help wraps lines
    assert "(default: double)" in text and "(default: path)" in text and "aer " in text


def test_gui_help_is_for_users(capsys):
    assert main(["gui", "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: attnscope gui") and "--bundle" in text and "--screenshot" in text
    assert "main(argv)" not in text and "--fake" not in text


def test_heads_says_which_measures_it_has(capsys, tmp_path):
    from attnscope.core.bundle import DEFAULT_BUNDLE

    code, out, _ = _run(["heads"], capsys)
    assert code == 0 and out.startswith("roles and AER: 200 of 200 validation sentences carry gold alignments")
    heads = json.loads((Path(DEFAULT_BUNDLE) / "heads.json").read_text(encoding="utf-8"))
    heads.update(cross_aer=None, best_head=None, best_aer=None, aligned_sentences=0)
    from attnscope.core.cli import format_heads

    assert format_heads(heads).startswith("roles only (no AER): the 200 validation sentences carry no gold")


@pytest.mark.parametrize("columns", [2, 3])
def test_heads_json_for_a_corpus_of_ones_own(columns, tmp_path, capsys):
    """A run trained on a TSV of one's own gets heads.json: roles always, AER only when a
    third column carries Pharaoh links; `attnscope heads` says which."""
    assert main(["corpus", "--out", str(tmp_path / "gen"), "--pairs", "1500", "--seed", "3"]) == 0
    lines = (tmp_path / "gen" / "train.tsv").read_text(encoding="utf-8").splitlines()
    mine = tmp_path / "mine.tsv"
    mine.write_text("\n".join("\t".join(ln.split("\t")[:columns]) for ln in lines) + "\n", encoding="utf-8")
    run, bundle = tmp_path / "run", tmp_path / "bundle"
    assert main(["train", "--preset", "tiny", "--data", str(mine), "--out", str(run), "--max-steps", "10",
                 "--valid-every", "10", "--device", "cpu"]) == 0
    assert not (run / "data" / "valid.tsv").exists()  # nothing but the user's file to go on
    assert main(["export-onnx", str(run), "--out", str(bundle), "--no-snapshots"]) == 0
    heads = json.loads((bundle / "heads.json").read_text(encoding="utf-8"))
    assert heads["sentences"] > 0 and set(heads["roles"]) == {"encoder", "decoder", "cross"}
    assert (heads["cross_aer"] is not None) == (columns == 3)
    assert heads["aligned_sentences"] == (heads["sentences"] if columns == 3 else 0)
    capsys.readouterr()
    assert main(["heads", "--bundle", str(bundle)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("roles and AER" if columns == 3 else "roles only (no AER)")


def test_inspect_a_snapshot(capsys):
    from attnscope.core.bundle import read_bundle

    first = read_bundle(None).snapshots()[0].name
    code, out, _ = _run(["inspect", "I love you", "--snapshot", first, "--json"], capsys)
    early = json.loads(out)
    code2, out2, _ = _run(["inspect", "I love you", "--json"], capsys)
    final = json.loads(out2)
    assert code == code2 == 0
    assert early["bundle"]["snapshot"] == first and final["bundle"]["snapshot"] is None
    assert early["bundle"]["sha256"] != final["bundle"]["sha256"]
    assert early["encoder_self_attention"] != final["encoder_self_attention"]  # other weights ran
