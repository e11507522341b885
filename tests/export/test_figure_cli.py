"""``attnscope figure``: files on success, one clear line and status 2 on a user's mistake."""

from __future__ import annotations

import json

import numpy as np
import pytest

import attnscope.export.cli as cli

SENTENCE = "I love you."  # as in conftest.py


@pytest.fixture
def fake(monkeypatch, fake_engine):
    """The CLI decodes with the FakeEngine (no model bundle needed)."""
    monkeypatch.setattr(cli, "load_engine", lambda bundle, snapshot=None: fake_engine)
    return fake_engine


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("attnscope figure: error: ")
    return err


@pytest.mark.parametrize("argv,needle", [
    ([SENTENCE, "--view", "head", "-o", "out.gif"], "unsupported extension '.gif'"),
    ([SENTENCE, "--view", "head", "-o", "out"], "unsupported extension"),
    ([SENTENCE, "--view", "head", "--layer", "4", "-o", "h.pdf"], "layer 4 is out of range"),
    ([SENTENCE, "--view", "head", "--layer", "0", "-o", "h.pdf"], "layers count from 1"),
    ([SENTENCE, "--view", "head", "--kind", "dec", "--head", "5", "-o", "h.pdf"], "head 5 is out of range"),
    ([SENTENCE, "--view", "heatmap", "-o", "h.pdf"], "invalid choice: 'heatmap'"),
    ([SENTENCE, "--view", "probs", "--step", "40", "-o", "p.png"], "step 40 is out of range"),
    ([SENTENCE, "--view", "probs", "--temperatures", "1", "-1", "-o", "p.png"], "-1 is outside (0, ∞)"),
    ([SENTENCE, "--view", "head", "--width", "wide", "-o", "h.pdf"], "'wide'"),
    ([SENTENCE, "--view", "head", "--dpi", "0", "-o", "h.png"], "argument --dpi: 0 is too small"),
    (["--view", "cross", "-o", "c.pdf"], "needs the TEXT"),
    (["--view", "curves", "--run", "no/such/run", "-o", "c.pdf"], "no/such/run: no such run folder"),
    (["--view", "grid", "--batch", "no/such/file.txt", "-o", "figs"], "no such file"),
    ([SENTENCE, "--view", "head"], "required: -o/--out"),
    ([SENTENCE, "-o", "x.pdf"], "required: --view"),
])
def test_user_errors_exit_2_with_one_line(fake, capsys, tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    assert needle in _error_line(capsys)


def test_missing_bundle_is_one_line(capsys, tmp_path):
    code = cli.main([SENTENCE, "--view", "head", "--bundle", str(tmp_path / "nope"), "-o", str(tmp_path / "h.pdf")])
    assert code == 2
    assert "nope" in _error_line(capsys)
    assert not (tmp_path / "h.pdf").exists()


def test_figure_and_data_files(fake, capsys, tmp_path):
    pdf, js = tmp_path / "sub" / "cross.pdf", tmp_path / "cross.json"
    assert cli.main([SENTENCE, "--view", "cross", "--layer", "2", "--width", "single", "-o", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    assert cli.main([SENTENCE, "--view", "cross", "--layer", "2", "--head", "3", "-o", str(js)]) == 0
    d = json.loads(js.read_text(encoding="utf-8"))
    assert d["layer"] == 1 and d["head"] == 2  # CLI counts from 1, the data from 0
    assert d["title"] == "cross-attention · layer 2 · head 3"
    assert str(pdf) in capsys.readouterr().out


def test_cli_options_reach_the_figure(fake, tmp_path):
    out = tmp_path / "p.json"
    assert cli.main([SENTENCE, "--view", "probs", "--step", "2", "--temperatures", "0.5", "3",
                     "--top", "4", "--beam", "1", "-o", str(out)]) == 0
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["step"] == 1 and d["temperatures"] == [0.5, 3.0] and len(d["pieces"]) == 4
    assert fake.calls[-1][1].strategy == "greedy"


def test_note_when_no_gold_alignment(fake, capsys, tmp_path):
    assert cli.main(["The cat sees the dog.", "--view", "cross", "-o", str(tmp_path / "c.svg")]) == 0
    assert "no gold alignment" in capsys.readouterr().err


def test_batch_writes_one_file_per_line(fake, capsys, tmp_path):
    lines = tmp_path / "sentences.txt"
    lines.write_text("I love you.\n\n# a comment\nThe cat sees the dog.\nShe reads a book.\n", encoding="utf-8")
    out = tmp_path / "figs"
    assert cli.main(["--batch", str(lines), "--view", "trace", "--format", "png", "--dpi", "30",
                     "-o", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["001-i-love-you.png", "002-the-cat-sees-the-dog.png", "003-she-reads-a-book.png"]
    assert [c[0] for c in fake.calls[-3:]] == ["I love you.", "The cat sees the dog.", "She reads a book."]


def test_batch_rejects_a_file_as_folder(fake, capsys, tmp_path):
    lines = tmp_path / "s.txt"
    lines.write_text("I love you.\n", encoding="utf-8")
    assert cli.main(["--batch", str(lines), "--view", "head", "-o", str(tmp_path / "out.pdf")]) == 2
    assert "-o is a folder" in _error_line(capsys)


def test_batch_reports_the_bad_line(fake, capsys, tmp_path):
    lines = tmp_path / "s.txt"
    lines.write_text("I love you.\nMe.\n", encoding="utf-8")  # 6 steps, then 3
    assert cli.main(["--batch", str(lines), "--view", "probs", "--step", "5", "-o", str(tmp_path / "f")]) == 2
    assert f"{lines}:2: step 5 is out of range" in _error_line(capsys)


def test_curves_from_a_run_folder(metrics_run, tmp_path):
    out = tmp_path / "curves.svg"
    assert cli.main(["--view", "curves", "--run", str(metrics_run), "-o", str(out)]) == 0
    assert "learning rate" in out.read_text(encoding="utf-8")


def test_help_returns_zero(capsys):
    assert cli.main(["--help"]) == 0
    assert "--view" in capsys.readouterr().out


def test_top_level_command_delegates(fake, tmp_path):
    from attnscope.core.cli import main as attnscope

    out = tmp_path / "h.png"
    assert attnscope(["figure", SENTENCE, "--view", "head", "--dpi", "30", "-o", str(out)]) == 0
    assert out.exists()


def test_curves_overlay_several_runs(metrics_run, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    lines = (metrics_run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    (other / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "c.json"
    assert cli.main(["--view", "curves", "--run", str(metrics_run), str(other), "-o", str(out)]) == 0
    d = json.loads(out.read_text(encoding="utf-8"))
    assert list(d["runs"]) == ["run", "other"]
    steps = [json.loads(x)["step"] for x in lines if json.loads(x)["kind"] == "train"]
    assert d["runs"]["other"]["train"]["step"] == steps
    fig_path = tmp_path / "c.png"
    assert cli.main(["--view", "curves", "--run", str(metrics_run), str(other), "--dpi", "40",
                     "-o", str(fig_path)]) == 0


def test_corpus_is_the_mean_over_sentences(fake, tmp_path, fake_engine):
    from attnscope.core.config import DecodeConfig
    from attnscope.export.data import corpus_data

    sentences = tmp_path / "s.txt"
    sentences.write_text("I love you.\nShe reads a book.\n", encoding="utf-8")
    out = tmp_path / "m.json"
    assert cli.main(["--view", "corpus", "--sentences", str(sentences), "--kind", "enc", "-o", str(out)]) == 0
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["sentences"] == ["I love you.", "She reads a book."]
    # the same sentence twice, as many bins as pieces: the mean is that sentence's attention
    ins = fake_engine.inspect("I love you.", DecodeConfig())
    n = len(ins.source_pieces)
    same = corpus_data([ins, ins], kind="enc", bins=n)
    np.testing.assert_allclose(same["matrices"], ins.encoder_attention, rtol=1e-6)
    # hand-binned: 4 keys into 2 bins sum pairs of columns, 4 queries average pairs of rows
    from attnscope.export.data import _binned

    m = np.arange(16, dtype=float).reshape(4, 4)
    expected = np.array([[(0 + 1 + 4 + 5) / 2, (2 + 3 + 6 + 7) / 2], [(8 + 9 + 12 + 13) / 2, (10 + 11 + 14 + 15) / 2]])
    np.testing.assert_allclose(_binned(m, 2), expected)


def test_snapshots_view_shows_one_head_in_every_snapshot(tmp_path):
    from attnscope.core.bundle import read_bundle
    from attnscope.core.config import DecodeConfig
    from attnscope.core.inference.engine import Engine

    text = "I love you"
    out = tmp_path / "evo.json"
    assert cli.main([text, "--view", "snapshots", "--layer", "2", "--head", "3", "-o", str(out)]) == 0
    d = json.loads(out.read_text(encoding="utf-8"))
    names = read_bundle(None).snapshots()
    assert len(d["snapshots"]) == len(names) and d["snapshots"][0].startswith(f"step {names[0].step}")
    final = Engine.load(None).inspect(text, DecodeConfig(beam_size=4))
    # the last panel is the final model teacher-forced on its own translation: the search's attention
    np.testing.assert_allclose(d["matrices"][-1], final.cross_attention[1, 2], atol=2e-5)
    assert d["y_pieces"] == list(final.target_pieces)
    png = tmp_path / "evo.png"
    assert cli.main([text, "--view", "snapshots", "--width", "single", "--dpi", "40", "-o", str(png)]) == 0


def test_views_of_heads_json_read_the_bundle(tmp_path):
    from attnscope.core.bundle import read_bundle

    b = read_bundle(None)
    heads = b.heads()
    out = tmp_path / "aer.json"
    assert cli.main(["--view", "aer", "-o", str(out)]) == 0
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["aer"] == heads["cross_aer"] and d["best_head"] == heads["best_head"]
    snap = b.snapshots()[0]
    out = tmp_path / "roles.json"
    assert cli.main(["--view", "roles", "--snapshot", snap.name, "-o", str(out)]) == 0
    d = json.loads(out.read_text(encoding="utf-8"))
    own = json.loads((snap.path / "heads.json").read_text(encoding="utf-8"))
    assert d["roles"]["cross"] == [[r["role"] for r in row] for row in own["roles"]["cross"]]
    assert d["bundle"]["snapshot"] == snap.name
    for view in ("entropy", "distance"):
        out = tmp_path / f"{view}.png"
        assert cli.main(["--view", view, "--width", "single", "--dpi", "40", "-o", str(out)]) == 0
