"""``attnscope <command>`` beside the window (app/subprocess_cli.py): the installed package
runs whatever the working directory holds, stdout and stderr arrive apart, and the model
import and the training run start their processes through it (a stand-in interpreter, a
shell script, writes down the arguments and environment it was given)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QProcess

from attnscope.app.subprocess_cli import cli_process, read_stderr, read_stdout, start_cli


def _run(parent, cwd: Path, args: list[str]) -> tuple[str, str, int, list[QProcess.ProcessError]]:
    """Run ``attnscope *args`` to its end: (stdout, stderr, exit code, errors reported)."""
    out, err, errors = [], [], []
    proc: QProcess = cli_process(parent, lambda: out.append(read_stdout(proc)),
                                 lambda: err.append(read_stderr(proc)), lambda *_a: None, errors.append)
    proc.setWorkingDirectory(str(cwd))
    start_cli(proc, sys.executable, args)
    assert proc.waitForFinished(60_000)
    out.append(read_stdout(proc))
    err.append(read_stderr(proc))
    return "".join(out), "".join(err), proc.exitCode(), errors


def test_the_installed_package_runs_not_a_folder_of_that_name(qtbot, tmp_path: Path):
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    qtbot.addWidget(parent)
    shadow = tmp_path / "attnscope"  # what `python -m attnscope` would run from here without -P
    shadow.mkdir()
    (shadow / "__init__.py").write_text("")
    (shadow / "__main__.py").write_text("print('the folder in the working directory')\n")
    out, err, code, errors = _run(parent, tmp_path, ["--help"])
    assert (code, err, errors) == (0, "", []) and out.startswith("usage: attnscope")
    assert "working directory" not in out
    # A command line error: argparse's message on stderr alone, its exit status 2.
    out, err, code, errors = _run(parent, tmp_path, ["no-such-command"])
    assert (code, out, errors) == (2, "", []) and "invalid choice: 'no-such-command'" in err


def _stand_in(tmp_path: Path, body: str) -> tuple[Path, Path]:
    """An executable that records "$PYTHONUNBUFFERED" and its arguments, then runs ``body``."""
    seen = tmp_path / "seen.txt"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nprintf "%s\\n" "$PYTHONUNBUFFERED" "$@" > "{seen}"\n{body}\n')
    python.chmod(0o755)
    return python, seen


# The stand-in import: reports a stage on stdout and writes a bundle where --out says.
IMPORTS = """out=""; prev=""
for a in "$@"; do [ "$prev" = "--out" ] && out="$a"; prev="$a"; done
echo "stage: weights"
mkdir -p "$out" && echo '{}' > "$out/config.json"
"""


def _hf_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "opus-en-de"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "marian"}')
    (folder / "model.safetensors").write_bytes(bytes(range(256)))
    return folder


def test_the_import_runs_its_command_and_reads_progress_from_stdout(qtbot, tmp_path: Path):
    from attnscope.app.model_import import STAGES, ModelImport

    python, seen = _stand_in(tmp_path, IMPORTS)
    folder = _hf_folder(tmp_path)
    importer = ModelImport(python=str(python), root=tmp_path / "cache")
    stages: list[str] = []
    importer.progress.connect(lambda _f, what: stages.append(what))
    with qtbot.waitSignal(importer.finished, timeout=30_000) as done:
        importer.start(folder)
    entry = Path(done.args[0])
    assert entry.parent == tmp_path / "cache" and (entry / "config.json").read_text() == "{}\n"
    got = seen.read_text().splitlines()
    assert got[:6] == ["1", "-P", "-m", "attnscope", "import", str(folder.resolve())]
    assert got[6] == "--out" and Path(got[7]).name == "bundle" and got[8:] == ["--name", "opus-en-de", "--progress"]
    assert STAGES["weights"][1] in stages
    assert not any(p.name.startswith(".tmp-") for p in entry.parent.iterdir())


def test_a_failed_import_reports_the_last_line_of_stderr(qtbot, tmp_path: Path):
    from attnscope.app.model_import import ModelImport

    python, _seen = _stand_in(tmp_path, 'echo "stage: weights"\necho "Traceback" >&2\n'
                                        'echo "ValueError: tied weights differ" >&2\nexit 3')
    importer = ModelImport(python=str(python), root=tmp_path / "cache")
    with qtbot.waitSignal(importer.failed, timeout=30_000) as failed:
        importer.start(_hf_folder(tmp_path))
    assert failed.args == ["ValueError: tied weights differ"]
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["hashes.json"]  # nothing imported


def test_training_starts_its_command_unbuffered_through_the_interpreter(qtbot, tmp_path: Path):
    """The interpreter the run is given receives -P -m attnscope train ... and an unbuffered
    environment (a stand-in interpreter writes down what it got)."""
    from attnscope.app.training_run import TrainingRun

    python, seen = _stand_in(tmp_path, "")
    run = TrainingRun(python=str(python))
    out = tmp_path / "run"
    run.start(out, preset="tiny", max_steps=5)
    proc = run.process
    assert proc is not None and proc.waitForFinished(30_000)
    qtbot.waitUntil(lambda: run.state == "finished")
    assert seen.read_text().splitlines() == ["1", "-P", "-m", "attnscope", "train", "--preset", "tiny",
                                             "--out", str(out), "--max-steps", "5"]
    run.resume(max_steps=8)  # the same command again, continued from the checkpoint
    proc = run.process
    assert proc is not None and proc.waitForFinished(30_000)
    qtbot.waitUntil(lambda: run.state == "finished")
    assert seen.read_text().splitlines() == ["1", "-P", "-m", "attnscope", "train", "--preset", "tiny",
                                             "--out", str(out), "--max-steps", "8", "--resume"]
