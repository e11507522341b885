"""Checkpoints as safetensors plus a JSON state, written so a crash never leaves a half file.

Each checkpoint is a folder ``ckpt-<step>``; ``latest.json`` names the newest complete one
and is replaced atomically (``os.replace``) only after the folder is fully written and
synced. A kill at any moment leaves the previous checkpoint intact and named.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode())


def _optim_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, st in sd["state"].items():
        for key, val in st.items():
            name = f"{idx}.{key}"
            if torch.is_tensor(val):
                tensors[name] = val.detach().cpu().contiguous()
            else:
                scalars[name] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optim_state_dict(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, val in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = val
    for name, val in meta["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = val
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    run: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write ``ckpt-<step>`` (weights, optimiser, RNG, JSON state), then point latest.json at it."""
    step = int(state["step"])
    final = run / f"ckpt-{step}"
    tmp = run / f"ckpt-{step}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(tmp / "model.safetensors"))
    opt_tensors, opt_meta = _optim_tensors(optimizer)
    opt_tensors["__rng_cpu__"] = torch.get_rng_state()
    if torch.cuda.is_available():
        opt_tensors["__rng_cuda__"] = torch.cuda.get_rng_state()
    save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
    atomic_write_json(tmp / "state.json", {**state, "optimizer": opt_meta})
    for f in tmp.iterdir():  # make the files durable before the folder becomes visible
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    atomic_write_json(run / "latest.json", {"checkpoint": final.name, "step": step})
    old = sorted((p for p in run.glob("ckpt-*") if p.is_dir() and not p.name.endswith(".partial")),
                 key=lambda p: int(p.name.split("-")[1]))
    for p in old[:-keep]:
        if p != final:
            shutil.rmtree(p, ignore_errors=True)
    return final


def latest_checkpoint(run: Path) -> Path | None:
    pointer = run / "latest.json"
    if not pointer.exists():
        return None
    name = json.loads(pointer.read_text())["checkpoint"]
    path = run / name
    return path if (path / "state.json").exists() else None


def load_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None
) -> dict[str, Any]:
    """Restore weights, optimiser and RNG; return the JSON state."""
    state = json.loads((path / "state.json").read_text())
    model.load_state_dict(load_file(str(path / "model.safetensors")))
    tensors = load_file(str(path / "optimizer.safetensors"))
    rng = tensors.pop("__rng_cpu__")
    cuda_rng = tensors.pop("__rng_cuda__", None)
    if optimizer is not None:
        optimizer.load_state_dict(_optim_state_dict(tensors, state["optimizer"]))
    torch.set_rng_state(rng)
    if cuda_rng is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda_rng)
    return dict(state)
