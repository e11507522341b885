"""Reading a local Hugging Face model folder: never the network, never pickle.

Tensors stream one at a time from ``model.safetensors`` (single or sharded); a
``pytorch_model.bin`` is read only with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch


class ConvertError(ValueError):
    """A model folder that cannot be imported; the message names the file."""


def resolve_source(src: str) -> Path:
    """A folder, or a repo id that is already in the local Hugging Face cache (no download)."""
    p = Path(src).expanduser()
    if p.is_dir():
        return p
    if p.exists():
        raise ConvertError(f"{p}: not a folder (give a Hugging Face model folder)")
    if src.count("/") == 1 and not src.startswith((".", "/")):
        hub = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME") or
                   Path.home() / ".cache" / "huggingface") / "hub")
        repo = hub / ("models--" + src.replace("/", "--"))
        ref = repo / "refs" / "main"
        if ref.is_file():
            snap = repo / "snapshots" / ref.read_text().strip()
            if snap.is_dir():
                return snap
        snaps = sorted((repo / "snapshots").glob("*")) if (repo / "snapshots").is_dir() else []
        if snaps:
            return snaps[-1]
        raise ConvertError(f"{src}: not in the local Hugging Face cache ({hub}); download it first on a "
                            f"machine with internet: huggingface-cli download {src}")
    raise ConvertError(f"{p}: no such model folder")


def read_json(path: Path, required: bool = True) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise ConvertError(f"{path}: missing")
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConvertError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(data, dict):
        raise ConvertError(f"{path}: expected a JSON object")
    return data


class Tensors:
    """Name → tensor of a model folder, read lazily (one tensor in memory at a time)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where: dict[str, Path] = {}
        self._bin: dict[str, torch.Tensor] | None = None
        index = folder / "model.safetensors.index.json"
        single = folder / "model.safetensors"
        if index.is_file():
            for name, file in read_json(index).get("weight_map", {}).items():
                self.where[name] = folder / file
        elif single.is_file():
            from safetensors import safe_open

            with safe_open(str(single), framework="pt") as f:
                self.where = {k: single for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
        elif (folder / "pytorch_model.bin").is_file():
            # mmap: the tensors stay on disk until read; weights_only: no pickle code runs.
            self._bin = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True, mmap=True)
            self.where = {k: folder / "pytorch_model.bin" for k in self._bin}
        else:
            raise ConvertError(f"{folder / 'model.safetensors'}: missing (no model.safetensors, "
                                f"model.safetensors.index.json or pytorch_model.bin)")
        for f in set(self.where.values()):
            if not f.is_file():
                raise ConvertError(f"{f}: missing (named by model.safetensors.index.json)")

    def __contains__(self, name: str) -> bool:
        return name in self.where

    def get(self, name: str) -> torch.Tensor:
        if self._bin is not None:
            return self._bin[name].float()
        from safetensors import safe_open

        with safe_open(str(self.where[name]), framework="pt") as f:
            return f.get_tensor(name).float()

    def first(self, *names: str) -> torch.Tensor | None:
        for n in names:
            if n in self:
                return self.get(n)
        return None

    def names(self) -> Iterator[str]:
        return iter(self.where)
