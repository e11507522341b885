"""Bundles: every broken or hostile file gives a BundleError naming it."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import onnx
import pytest

from attnscope.core.bundle import BundleError, read_bundle


def load(path: Path) -> None:
    from attnscope.core.inference.engine import Engine

    Engine.load(path)


@pytest.fixture()
def copy(tiny_bundle: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "b"
    shutil.copytree(tiny_bundle, dst)
    return dst


@pytest.mark.parametrize("name", ["config.json", "spm.model", "encoder.onnx", "decoder.onnx"])
@pytest.mark.parametrize("damage", ["missing", "empty", "truncated", "random"])
def test_damaged_file_is_named(copy: Path, name: str, damage: str) -> None:
    f = copy / name
    data = f.read_bytes()
    if damage == "missing":
        f.unlink()
    elif damage == "empty":
        f.write_bytes(b"")
    elif damage == "truncated":
        f.write_bytes(data[: len(data) // 2])
    else:
        f.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(4096)))
    with pytest.raises(BundleError) as err:
        load(copy)
    assert name in str(err.value)


def test_unknown_format_version(copy: Path) -> None:
    cfg = json.loads((copy / "config.json").read_text())
    cfg["format_version"] = 99
    (copy / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(BundleError, match=r"config\.json.*format_version 99"):
        load(copy)


def test_vocabulary_that_does_not_match_the_model(copy: Path) -> None:
    cfg = json.loads((copy / "config.json").read_text())
    cfg["model"]["vocab_size"] += 5
    (copy / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(BundleError, match="spm.model"):
        load(copy)


def test_external_data_cannot_leave_the_bundle(copy: Path, tmp_path: Path) -> None:
    proto = onnx.load(str(copy / "encoder.onnx"))
    init = proto.graph.initializer[0]
    init.ClearField("raw_data")
    init.data_location = onnx.TensorProto.EXTERNAL
    entry = init.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    onnx.save(proto, str(copy / "encoder.onnx"))
    with pytest.raises(BundleError, match="outside the bundle"):
        read_bundle(copy)


def test_zip_slip_is_refused(copy: Path, tmp_path: Path) -> None:
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in copy.iterdir():
            zf.write(f, f.name)
        zf.writestr("../../escaped.txt", "gotcha")
    with pytest.raises(BundleError, match="outside the bundle"):
        read_bundle(z)
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_zipped_bundle_loads(copy: Path, tmp_path: Path) -> None:
    z = tmp_path / "good.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in copy.iterdir():
            zf.write(f, f"tiny/{f.name}")
    from attnscope.core.inference.engine import Engine

    assert Engine.load(z).inspect("I love you").source_pieces


def test_cli_reports_a_bad_bundle_without_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "attnscope", "inspect", "--bundle", str(tmp_path / "nope"), "hi"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "no such bundle" in out.stderr and "Traceback" not in out.stderr
