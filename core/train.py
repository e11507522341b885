"""Training loop: Adam + Noam, label smoothing, token buckets, validation, checkpoints, DDP.

Run under ``torchrun --nproc-per-node N`` for data parallelism (gloo on CPU, NCCL on GPU):
every process builds the same global batch and trains on its share of the rows.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import sacrebleu
import torch
import torch.distributed as dist
from safetensors.torch import save_file
from tqdm import tqdm

from attnscope.core.checkpoint import atomic_write_json, latest_checkpoint, load_checkpoint, save_checkpoint
from attnscope.core.config import PRESETS, ModelConfig, TrainConfig, to_dict
from attnscope.core.data.corpus import load_corpus  # noqa: E402
from attnscope.core.model import LabelSmoothingLoss, Transformer, count_parameters, noam_rate
from attnscope.core.tokenizer import BOS, EOS, PAD, Tokenizer
from attnscope.core.train_probe import validation_extras


class TrainingError(RuntimeError):
    """A problem the user can fix (bad folder, diverged loss); printed without a traceback."""


@dataclass(frozen=True)
class Example:
    src: list[int]
    tgt: list[int]  # BOS ... EOS


def encode_pairs(tok: Tokenizer, pairs: list[tuple[str, str]], max_len: int) -> list[Example]:
    out = []
    for en, ko in pairs:
        s = tok.encode(en)[: max_len - 1] + [EOS]
        t = [BOS] + tok.encode(ko)[: max_len - 2] + [EOS]
        out.append(Example(s, t))
    return out


def make_batches(examples: list[Example], batch_tokens: int) -> list[list[int]]:
    """Token buckets: sort by length, cut into batches of at most ``batch_tokens`` padded pieces."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i].tgt), len(examples[i].src)))
    batches: list[list[int]] = []
    cur: list[int] = []
    longest = 0
    for i in order:
        n = max(len(examples[i].tgt), len(examples[i].src))
        if cur and max(longest, n) * (len(cur) + 1) > batch_tokens:
            batches.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        batches.append(cur)
    return batches


def collate(examples: list[Example], idx: list[int], device: torch.device) -> tuple[torch.Tensor, ...]:
    s_len = max(len(examples[i].src) for i in idx)
    t_len = max(len(examples[i].tgt) for i in idx)
    src = torch.full((len(idx), s_len), PAD, dtype=torch.long)
    tgt = torch.full((len(idx), t_len), PAD, dtype=torch.long)
    for r, i in enumerate(idx):
        src[r, : len(examples[i].src)] = torch.tensor(examples[i].src)
        tgt[r, : len(examples[i].tgt)] = torch.tensor(examples[i].tgt)
    return src.to(device), tgt[:, :-1].to(device), tgt[:, 1:].to(device)


@torch.no_grad()
def greedy_decode(model: Transformer, src: torch.Tensor, max_len: int) -> list[list[int]]:
    """Batched greedy decoding with a key/value cache (the exported decoder's step, in torch)."""
    model.eval()
    mask = model.src_mask(src)
    memory, _ = model.encode(src, mask)
    kv = model.cross_kv(memory)
    past: list[tuple[torch.Tensor | None, torch.Tensor | None]] = [(None, None)] * len(model.decoder)
    tok = torch.full((src.size(0), 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    out: list[torch.Tensor] = []
    for t in range(max_len):
        y = model.embed_target(tok, t)
        new_past = []
        for layer, (ck, cv), (pk, pv) in zip(model.decoder, kv, past, strict=True):
            y, k, v, _, _ = layer(y, ck, cv, mask, None, pk, pv)
            new_past.append((k, v))
        past = new_past
        nxt = model.generator(model.dec_norm(y))[:, 0].argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        out.append(nxt)
        done |= nxt == EOS
        tok = nxt[:, None]
        if bool(done.all()):
            break
    rows = torch.stack(out, dim=1).tolist() if out else [[] for _ in range(src.size(0))]
    return [row[: row.index(EOS)] if EOS in row else [i for i in row if i != PAD] for row in rows]


def evaluate(model: Transformer, tok: Tokenizer, pairs: list[tuple[str, str]], device: torch.device,
             batch: int = 200) -> dict[str, float]:
    """Greedy-translate ``pairs``: BLEU and chrF (sacrebleu) and exact-match rate."""
    hyps: list[str] = []
    for i in range(0, len(pairs), batch):
        chunk = pairs[i: i + batch]
        exs = encode_pairs(tok, chunk, model.cfg.max_len)
        src, _, _ = collate(exs, list(range(len(exs))), device)
        for ids in greedy_decode(model, src, min(model.cfg.max_len - 1, src.size(1) * 2 + 8)):
            hyps.append(tok.decode(ids))
    refs = [ko for _, ko in pairs]
    exact = sum(h == r for h, r in zip(hyps, refs, strict=True)) / max(len(refs), 1)
    return {
        "bleu": float(sacrebleu.corpus_bleu(hyps, [refs]).score),
        "chrf": float(sacrebleu.corpus_chrf(hyps, [refs]).score),
        "exact_match": float(exact),
    }


def layer_groups(model: Transformer) -> dict[str, list[torch.nn.Parameter]]:
    groups: dict[str, list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")
        key = ".".join(parts[:2]) if parts[0] in ("encoder", "decoder") else parts[0]
        groups.setdefault(key, []).append(p)
    return groups


def grad_norms(model: Transformer) -> dict[str, float]:
    out = {}
    for key, ps in layer_groups(model).items():
        sq = sum(float(p.grad.detach().float().pow(2).sum()) for p in ps if p.grad is not None)
        out[key] = math.sqrt(sq)
    return out


def snapshot_steps(max_steps: int, fractions: tuple[float, ...]) -> list[int]:
    return sorted({int(round(f * max_steps)) for f in fractions})


def _dist_info() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return rank, world


def prepare_run(run: Path, resume: bool) -> None:
    """Fail early, with a message, on a run folder we cannot use."""
    if run.exists() and not run.is_dir():
        raise TrainingError(f"{run} exists and is not a folder")
    if run.exists() and any(run.iterdir()) and not resume and (run / "latest.json").exists():
        raise TrainingError(f"{run} already holds a run; pass --resume to continue it or choose another --out")
    try:
        run.mkdir(parents=True, exist_ok=True)
        probe = run / ".write-test"
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
    except OSError as e:
        raise TrainingError(f"cannot write to run folder {run}: {e.strerror or e}") from e
    free = shutil.disk_usage(run).free
    if free < 50 * 2**20:
        raise TrainingError(f"only {free // 2**20} MiB free under {run}; training needs at least 50 MiB")


class StopRequest:
    """SIGTERM or Ctrl+C while training: finish the step, save a checkpoint, return.

    The app's Stop button sends SIGTERM; so does a scheduler ending a job. A second
    signal stops at once (KeyboardInterrupt); the last saved checkpoint is still intact.
    Signal handlers can only be set from the main thread: elsewhere this does nothing.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *_exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def train(
    preset: str = "default",
    out: str | Path = "runs/default",
    data: str | None = None,
    max_steps: int | None = None,
    device: str = "auto",
    resume: bool = False,
    overrides: dict[str, Any] | None = None,
    model_overrides: dict[str, Any] | None = None,
    progress: bool = True,
    on_log: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train a preset on the generated corpus (or ``data``) into the run folder ``out``."""
    if preset not in PRESETS:
        raise TrainingError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    mcfg, tcfg = PRESETS[preset]
    tcfg = replace(tcfg, **(overrides or {}))
    if max_steps is not None:
        tcfg = replace(tcfg, max_steps=max_steps)
    run = Path(out)
    rank, world = _dist_info()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() and device != "cpu" else "gloo")
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    def load_data() -> tuple[Any, Tokenizer]:
        corpus = load_corpus(data, run / "data", pairs=tcfg.pairs, seed=tcfg.seed)
        if (run / "spm.model").exists():
            return corpus, Tokenizer.load(run / "spm.model")
        tok = Tokenizer.train([s for p in corpus.train for s in p], tcfg.vocab_size, tcfg.seed)
        tok.save(run / "spm.model")
        return corpus, tok

    # Rank 0 checks the folder, writes the corpus and the tokenizer; the others read them.
    if rank == 0:
        prepare_run(run, resume)
        corpus, tok = load_data()
    if world > 1:
        dist.barrier()
    if rank != 0:
        corpus, tok = load_data()
    mcfg = replace(mcfg, vocab_size=len(tok), **(model_overrides or {}))
    torch.manual_seed(tcfg.seed)
    model = Transformer(mcfg).to(dev)
    ddp_model: torch.nn.Module = model
    if world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(model)
    opt_cls = torch.optim.AdamW if tcfg.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(model.parameters(), lr=1.0, betas=(tcfg.beta1, tcfg.beta2), eps=tcfg.eps,
                        weight_decay=tcfg.weight_decay)
    criterion = LabelSmoothingLoss(mcfg.vocab_size, PAD, tcfg.label_smoothing)

    train_ex = encode_pairs(tok, corpus.train, mcfg.max_len)
    batches = make_batches(train_ex, tcfg.batch_tokens)
    valid = corpus.valid[: tcfg.valid_sentences]
    state: dict[str, Any] = {"step": 0, "epoch": 0, "index": 0}
    ckpt = latest_checkpoint(run) if resume else None
    if ckpt is not None:
        state = load_checkpoint(ckpt, model, optimizer)
        state.pop("optimizer", None)
    elif resume and rank == 0:
        print(f"no checkpoint in {run}; starting from step 0", file=sys.stderr)
    if rank == 0:
        atomic_write_json(run / "config.json", {
            "format_version": 1, "preset": preset, "model": to_dict(mcfg), "train": to_dict(tcfg),
            "data": corpus.provenance, "parameters": count_parameters(model),
            "tokenizer": {"type": "sentencepiece", "file": "spm.model", "vocab_size": len(tok),
                          "pad_id": PAD, "bos_id": BOS, "eos_id": EOS, "shared": True},
        })
    snaps = snapshot_steps(tcfg.max_steps, tcfg.snapshot_fractions)
    log_path = run / "metrics.jsonl"
    use_bf16 = dev.type == "cuda"
    bar = tqdm(total=tcfg.max_steps, initial=state["step"], disable=not progress or rank != 0,
               unit="step", dynamic_ncols=True)
    t_last, tok_count, last_metrics = time.perf_counter(), 0, {}
    last_train: dict[str, Any] = {}  # the newest train line's gradient numbers, repeated at validation

    def log(rec: dict[str, Any]) -> None:
        if rank != 0:
            return
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
        if on_log:
            on_log(rec)

    def save_snapshot(step: int) -> None:
        if rank == 0:
            (run / "snapshots").mkdir(exist_ok=True)
            weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
            save_file(weights, str(run / "snapshots" / f"step-{step:06d}.safetensors"))

    # pid and host let a window that follows this folder tell a dead run from a slow one.
    log({"kind": "start", "step": state["step"], "time": time.time(), "pid": os.getpid(),
         "host": socket.gethostname(), "preset": preset, "device": str(dev),
         "world_size": world, "threads": torch.get_num_threads(), "parameters": count_parameters(model), "resumed": ckpt is not None,
         "max_steps": tcfg.max_steps, "valid_every": tcfg.valid_every, "snapshot_steps": snaps})
    if state["step"] == 0 and 0 in snaps:
        save_snapshot(0)
    stopped_at = 0
    with StopRequest() as stop:
        while state["step"] < tcfg.max_steps:
            order = np.random.default_rng(tcfg.seed + state["epoch"]).permutation(len(batches))
            while state["index"] < len(order) and state["step"] < tcfg.max_steps:
                idx = batches[order[state["index"]]]
                src, tgt_in, tgt_out = collate(train_ex, idx[rank::world] or idx[:1], dev)
                n_tokens = sum(len(train_ex[i].tgt) - 1 for i in idx)  # global, same on every rank
                step = state["step"] + 1
                lr = noam_rate(step, mcfg.d_model, tcfg.lr_factor, tcfg.warmup)
                for g in optimizer.param_groups:
                    g["lr"] = lr
                ddp_model.train()
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                    logits = ddp_model(src, tgt_in)
                # Sum over this rank's tokens / global count, times world: DDP's mean of the
                # gradients then equals the gradient of the global token mean.
                local = criterion(logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1))
                local_tokens = int((tgt_out != PAD).sum())
                loss = local * local_tokens / n_tokens * world
                if not torch.isfinite(loss):
                    raise TrainingError(f"loss became {float(loss.detach())} at step {step}; the last good checkpoint "
                                        f"is kept in {run} (try a lower --lr-factor or longer warmup)")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                norms = grad_norms(model) if step % tcfg.log_every == 0 or step == 1 else {}
                total_norm = float(torch.nn.utils.clip_grad_norm_(
                    model.parameters(), tcfg.clip_norm if tcfg.clip_norm > 0 else float("inf")))
                before = [p.detach().clone() for p in model.parameters()] if norms else []
                optimizer.step()
                report = loss.detach() / world
                if world > 1:
                    dist.all_reduce(report)
                state["step"], state["index"] = step, state["index"] + 1
                tok_count += n_tokens
                bar.update(1)
                if norms:
                    upd = math.sqrt(sum(float((p.detach() - b).pow(2).sum()) for p, b in zip(model.parameters(), before, strict=True)))
                    par = math.sqrt(sum(float(b.pow(2).sum()) for b in before))
                    now = time.perf_counter()
                    rec = {"kind": "train", "step": step, "epoch": state["epoch"], "loss": float(report),
                           "ppl": math.exp(min(float(report), 50.0)), "lr": lr, "grad_norm": total_norm,
                           "layer_grad_norm": norms, "update_ratio": upd / max(par, 1e-12),
                           "tokens_per_s": tok_count / max(now - t_last, 1e-9), "time": time.time()}
                    t_last, tok_count = now, 0
                    last_train = {k: rec[k] for k in ("lr", "grad_norm", "layer_grad_norm", "update_ratio")}
                    log(rec)
                    bar.set_postfix(loss=f"{float(report):.3f}", lr=f"{lr:.2e}")
                if step in snaps:
                    save_snapshot(step)
                if step % tcfg.valid_every == 0 or step == tcfg.max_steps:
                    if rank == 0:
                        last_metrics = evaluate(model, tok, valid, dev)
                        # Validation loss and per-head attention statistics on a fixed probe set,
                        # beside the newest gradient-flow numbers: one line per validation.
                        extras = validation_extras(model, tok, valid, dev)
                        log({"kind": "valid", "step": step, **last_metrics, **extras, **last_train,
                             "time": time.time()})
                        bar.write(f"step {step}: valid loss {extras['valid_loss']:.3f} exact "
                                  f"{last_metrics['exact_match']:.3f} BLEU {last_metrics['bleu']:.1f} "
                                  f"chrF {last_metrics['chrf']:.1f}")
                    t_last = time.perf_counter()
                if (step % tcfg.checkpoint_every == 0 or step == tcfg.max_steps) and rank == 0:
                    save_checkpoint(run, model, optimizer, dict(state))
                stop_now = stop.signal is not None
                if world > 1:  # every rank stops after the same step
                    flag = torch.tensor([float(stop_now)], device=dev)
                    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                    stop_now = bool(flag.item())
                if stop_now and step < tcfg.max_steps:  # at the last step: just finish
                    stopped_at = step
                    break
            if stopped_at:
                break
            if state["index"] >= len(order):
                state["epoch"], state["index"] = state["epoch"] + 1, 0
    bar.close()
    if stopped_at:
        name = signal.Signals(stop.signal).name if stop.signal is not None else "stop"
        if rank == 0:
            if stopped_at % tcfg.checkpoint_every != 0:  # not just saved by the loop
                save_checkpoint(run, model, optimizer, dict(state))
            log({"kind": "stopped", "step": stopped_at, "signal": name, "time": time.time()})
            print(f"stopped at step {stopped_at} ({name}); the checkpoint is saved in {run}: "
                  "train again with --resume to continue", file=sys.stderr)
        return {"run": str(run), "step": stopped_at, "stopped": name, "signal": stop.signal or 0,
                **last_metrics}
    if rank == 0:
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(weights, str(run / "weights.safetensors"))
    if world > 1:
        dist.barrier()
    return {"run": str(run), "step": state["step"], **last_metrics}


def load_run_model(run: Path, weights: Path | None = None) -> tuple[Transformer, Tokenizer, dict[str, Any]]:
    """The trained model of a run folder (final weights, else its latest checkpoint)."""
    from safetensors.torch import load_file

    from attnscope.core.config import from_dict

    cfg = json.loads((run / "config.json").read_text())
    mcfg = from_dict(ModelConfig, cfg["model"])
    model = Transformer(mcfg)
    path = weights or run / "weights.safetensors"
    if not path.exists():
        ck = latest_checkpoint(run)
        if ck is None:
            raise TrainingError(f"{run} has no weights.safetensors and no checkpoint")
        path = ck / "model.safetensors"
    model.load_state_dict(load_file(str(path)))
    model.eval()
    return model, Tokenizer.load(run / "spm.model"), cfg


__all__ = ["TrainConfig", "train", "TrainingError", "evaluate", "load_run_model"]
