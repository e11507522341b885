"""The installed distribution: one import name, the model inside, extras by need."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from importlib.metadata import distribution
from pathlib import Path

import attnscope
from attnscope.core.bundle import DEFAULT_BUNDLE

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"core": "core", "app": "app", "export": "export", "resources": "resources"}


def test_the_distribution_adds_one_top_level_name() -> None:
    files = distribution("attnscope").files or []
    top = {f.parts[0] for f in files if not f.parts[0].endswith(".dist-info") and f.parts[0] != ".."}
    assert top == {"attnscope"}


def test_the_tests_run_against_the_installed_package_not_the_source_tree() -> None:
    installed = Path(attnscope.__file__).resolve().parent
    assert installed.parent == Path(sysconfig.get_paths()["purelib"]).resolve(), installed
    assert str(ROOT) not in sys.path and "" not in sys.path  # pytest runs under python -P


def test_every_source_module_and_the_shipped_model_are_in_the_package() -> None:
    installed = Path(attnscope.__file__).resolve().parent
    for sub, folder in FOLDERS.items():
        for src in (ROOT / folder).rglob("*.py"):
            assert (installed / sub / src.relative_to(ROOT / folder)).is_file(), f"{src} is not installed"
    assert installed in DEFAULT_BUNDLE.resolve().parents
    shipped = sorted(p.relative_to(ROOT / "resources") for p in (ROOT / "resources" / "models").rglob("*") if p.is_file())
    assert shipped and all((installed / "resources" / p).is_file() for p in shipped)
    assert (installed / "resources" / "icons" / "attnscope.svg").is_file()
    assert (installed / "resources" / "attnscope.desktop").is_file()


def test_python_dash_m_attnscope_is_the_command(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()  # a decoy in the working directory is never imported
    (tmp_path / "core" / "__init__.py").write_text("raise SystemExit('decoy imported')\n")
    out = subprocess.run([sys.executable, "-m", "attnscope", "translate"], input="I love you\n",
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "나는 너를 사랑한다"


def test_a_command_without_its_extra_says_how_to_install_it(monkeypatch, capsys) -> None:
    from attnscope.core.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails as if not installed
    for name in [m for m in sys.modules if m.startswith("attnscope.core.train")]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["train", "--preset", "tiny", "--out", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pip install 'attnscope[train]'" in err, err


def test_a_closed_pipe_ends_quietly() -> None:
    p = subprocess.Popen([sys.executable, "-m", "attnscope", "inspect", "I love you", "--json", "--top-logits", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.read(100)
    p.stdout.close()  # the reader goes away, as `| head -c 100` does
    err = p.stderr.read()
    assert p.wait(timeout=120) == 0 and err == b"", err


def test_the_desktop_entry_names_the_shipped_icon(tmp_path: Path) -> None:
    from attnscope.core.cli import main

    assert main(["desktop", "--prefix", str(tmp_path)]) == 0
    entry = (tmp_path / "applications" / "attnscope.desktop").read_text()
    assert "Icon=attnscope" in entry and "Exec=attnscope gui" in entry
    assert (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "attnscope.svg").read_text().startswith("<svg")
