"""Read and check a model bundle (a folder, or a .zip of one) without torch.

Every problem becomes a ``BundleError`` that names the file and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from attnscope.core.config import DecodeConfig, ModelConfig, from_dict
from attnscope.core.tokenizer import tokenizer_files

FORMAT_VERSION = 1
REQUIRED = ("config.json", "encoder.onnx", "decoder.onnx")  # + the tokenizer's files (config.json names them)
# The shipped model travels in the package as data (``attnscope.resources``), so an installed
# wheel finds it wherever site-packages is.
DEFAULT_BUNDLE = Path(str(resources.files("attnscope.resources").joinpath("models", "default")))


class BundleError(ValueError):
    """A bundle that cannot be used; the message names the file and the problem."""


GRAPHS = ("encoder.onnx", "decoder.onnx")


@dataclass(frozen=True)
class SnapshotInfo:
    """One earlier training state kept in ``snapshots/<name>/`` with its own graphs."""

    name: str  # folder name, "step-000120"
    step: int
    path: Path
    meta: dict[str, Any]  # meta.json: step, fraction, losses, quantisation, per-head numbers


@dataclass(frozen=True)
class Bundle:
    path: Path
    config: dict[str, Any]
    model: ModelConfig
    graphs: Path | None = None  # a snapshot's folder: its encoder/decoder replace the final ones
    snapshot_name: str | None = None

    def file(self, name: str) -> Path:
        if self.graphs is not None and name in GRAPHS:
            return self.graphs / name
        return self.path / name

    def snapshots(self) -> list[SnapshotInfo]:
        """The runnable snapshots under ``snapshots/``, earliest first (none: empty list)."""
        root = self.path / "snapshots"
        out = []
        for d in sorted(root.iterdir()) if root.is_dir() else []:
            meta = _snapshot_meta(d) if d.is_dir() else {}
            if not (d.is_dir() and (meta.get("graphs") == "final" or all((d / g).is_file() for g in GRAPHS))):
                continue
            step = meta.get("step")
            if not isinstance(step, int):
                digits = "".join(c for c in d.name if c.isdigit())
                step = int(digits) if digits else -1
            out.append(SnapshotInfo(d.name, step, d, meta))
        return sorted(out, key=lambda s: (s.step, s.name))

    def snapshot(self, name: str) -> Bundle:
        """This bundle with the graphs of snapshot ``name`` (tokenizer and config shared)."""
        d = self.path / "snapshots" / name
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            raise BundleError(f"{name!r}: not a snapshot name")
        if d.is_dir() and _snapshot_meta(d).get("graphs") == "final":  # the final model itself
            return replace(self, graphs=None, snapshot_name=name)
        for g in GRAPHS:
            if not (d / g).is_file():
                known = ", ".join(s.name for s in self.snapshots()) or "none"
                raise BundleError(f"{d / g}: missing (snapshots of this bundle: {known})")
            _check_external_data(d / g, d)
        return replace(self, graphs=d, snapshot_name=name)

    @property
    def tokenizer_section(self) -> dict[str, Any]:
        tok = self.config.get("tokenizer")
        return tok if isinstance(tok, dict) else {}

    def decode_defaults(self) -> DecodeConfig:
        """The bundle's generation defaults (an imported model's generation_config.json)."""
        gen = self.config.get("generation")
        return from_dict(DecodeConfig, gen) if isinstance(gen, dict) else DecodeConfig()

    def heads(self) -> dict[str, Any] | None:
        """``heads.json`` (per-head AER, profiles and roles), or None when absent."""
        f = (self.graphs or self.path) / "heads.json"  # a snapshot keeps its own
        if not f.is_file():
            return None
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BundleError(f"{f}: not valid JSON ({e})") from e
        return data if isinstance(data, dict) else None


def _snapshot_meta(d: Path) -> dict[str, Any]:
    """A snapshot folder's meta.json ({} when it has none)."""
    if not (d / "meta.json").is_file():
        return {}
    try:
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{d / 'meta.json'}: not valid JSON ({e})") from e
    return meta if isinstance(meta, dict) else {}


def _safe_extract(zpath: Path) -> Path:
    """Extract a zipped bundle to a private folder, refusing entries that leave it (zip-slip)."""
    try:
        zf = zipfile.ZipFile(zpath)
    except (zipfile.BadZipFile, OSError) as e:
        raise BundleError(f"{zpath}: not a readable zip file ({e})") from e
    h = hashlib.sha256()
    with zpath.open("rb") as f:  # in blocks: an NLLB-size bundle is several GB
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    digest = h.hexdigest()[:16]
    dest = Path(tempfile.gettempdir()) / f"attnscope-bundle-{digest}"
    root = dest.resolve()
    with zf:
        for info in zf.infolist():
            target = (dest / info.filename).resolve()
            if info.filename.startswith(("/", "\\")) or (target != root and root not in target.parents):
                raise BundleError(f"{zpath}: entry {info.filename!r} would be written outside the bundle")
            if info.external_attr >> 16 & 0o170000 == 0o120000:
                raise BundleError(f"{zpath}: entry {info.filename!r} is a symbolic link")
        zf.extractall(dest)
    inner = [p for p in dest.iterdir() if p.is_dir()]
    if not (dest / "config.json").exists() and len(inner) == 1:
        return inner[0]
    return dest


def _mentions(path: Path, word: bytes, block: int = 1 << 24) -> bool:
    """Whether the file contains ``word``, read in blocks (a graph may hold 2 GB inline)."""
    tail = b""
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            if word in tail + chunk[: len(word)] or word in chunk:
                return True
            tail = chunk[-len(word):]
    return False


def _check_external_data(onnx_path: Path, folder: Path) -> None:
    """External-data locations must stay inside the bundle folder (no ../ or absolute paths)."""
    # Fast path: an initializer stored outside the file names its "location"; a graph
    # without that key has no external data (parsing it would cost an onnx import, ~0.3 s).
    try:
        if not _mentions(onnx_path, b"location"):
            return
    except OSError as e:
        raise BundleError(f"{onnx_path}: cannot be read ({e.strerror})") from e
    import onnx  # only the protobuf reader; no weights are loaded here

    try:
        proto = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as e:  # protobuf raises its own DecodeError types
        raise BundleError(f"{onnx_path}: not a valid ONNX file ({type(e).__name__}: {e})") from e
    root = folder.resolve()
    for init in proto.graph.initializer:
        for entry in init.external_data:
            if entry.key != "location":
                continue
            loc = entry.value
            target = (folder / loc).resolve()
            if os.path.isabs(loc) or root not in target.parents:
                raise BundleError(f"{onnx_path}: external data {loc!r} points outside the bundle folder")
            if not target.exists():
                raise BundleError(f"{onnx_path}: external data file {loc!r} is missing")


def read_bundle(path: str | Path | None = None) -> Bundle:
    """Check a bundle's files and config; ``None`` is the shipped default model."""
    p = Path(path) if path is not None else DEFAULT_BUNDLE
    if not p.exists():
        raise BundleError(f"{p}: no such bundle folder or zip")
    if p.is_file():
        if not zipfile.is_zipfile(p):
            raise BundleError(f"{p}: a bundle is a folder or a .zip of one")
        p = _safe_extract(p)
    def check(names: tuple[str, ...]) -> None:
        for name in names:
            f = p / name
            if not f.exists():
                raise BundleError(f"{f}: missing (a bundle needs {', '.join(names)})")
            if f.stat().st_size == 0:
                raise BundleError(f"{f}: empty file")

    check(REQUIRED[:1])
    try:
        config = json.loads((p / "config.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{p / 'config.json'}: not valid JSON ({e})") from e
    if not isinstance(config, dict):
        raise BundleError(f"{p / 'config.json'}: expected a JSON object")
    tok = config.get("tokenizer")
    check(REQUIRED + tokenizer_files(tok if isinstance(tok, dict) else {}))
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{p / 'config.json'}: unknown format_version {version!r} "
                          f"(this AttnScope reads version {FORMAT_VERSION})")
    try:
        model = from_dict(ModelConfig, config["model"])
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"{p / 'config.json'}: bad or missing 'model' section ({e})") from e
    for name in ("encoder.onnx", "decoder.onnx"):
        _check_external_data(p / name, p)
    return Bundle(p, config, model)
