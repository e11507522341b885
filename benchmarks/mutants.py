"""`make mutants`: plant the bugs we fear, one at a time, and name the test that kills each.

Each mutation replaces exact source text in a scratch copy of the package (the working
tree's core/, app/, export/ laid out as ``attnscope``), which the tests then import through
PYTHONPATH ahead of the installed wheel. A pattern that is no longer in the source stops
the run with "pattern not found": the source moved and the mutation must follow it.
A tiny model is trained once, with the unmutated code, and reused by every run (the
tiny bundle is exported afresh by each mutant's own code). Writes results/mutants.json
and results/mutants.md; exits 1 when a mutation survives.

    python -m benchmarks.mutants [--only NAME ...] [--list]   (--only reruns those rows of the table)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import RESULTS, machine

ROOT = Path(__file__).resolve().parent.parent
# The fast tests that must kill the mutants, in the order they run (-x: the first failure wins).
TESTS = ["tests/core/test_oracles.py", "tests/core/test_search.py", "tests/app/test_prob_bars_kept.py"]


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # repository path
    edits: tuple[tuple[str, str], ...]  # (exact old text, new text), each must occur once


MUTATIONS = (
    Mutation("KV cache not reordered after the beam re-ranks", "core/inference/engine.py",
             (("past_k, past_v = out.present_k[:, rows], out.present_v[:, rows]",
               "past_k, past_v = out.present_k[:, np.sort(rows)], out.present_v[:, np.sort(rows)]"),)),
    Mutation("every hypothesis gets beam row 0's attention (build_path)", "core/inference/inspection.py",
             (("self_attn[:, :, i, :width] = rec.self_attention[:, :, k, :]",
               "self_attn[:, :, i, :width] = rec.self_attention[:, :, 0, :]"),
              ("cross[:, :, i, :] = rec.cross_attention[:, :, k, :]",
               "cross[:, :, i, :] = rec.cross_attention[:, :, 0, :]"))),
    Mutation("position off by one on the decoder-step graph's path only", "core/model.py",
             (("start.reshape(1) + self.offset + torch.arange(t, device=x.device)",
               "start.reshape(1) + self.offset + 1 + torch.arange(t, device=x.device)"),)),
    Mutation("softmax_with_temperature multiplies by T", "core/inference/inspection.py",
             (("z = logits.astype(np.float64) / max(float(temperature), 1e-6)",
               "z = logits.astype(np.float64) * max(float(temperature), 1e-6)"),)),
    Mutation("cross-attention rows from the wrong layer", "core/inference/engine.py",
             (("cross_attention=out.cross_attn[:, :, :, 0, :].transpose(0, 2, 1, 3)",
               "cross_attention=out.cross_attn[::-1, :, :, 0, :].transpose(0, 2, 1, 3)"),)),
    Mutation("length-penalty exponent ignored", "core/inference/search.py",
             (("return float(((5.0 + n) / 6.0) ** alpha)", "return float((5.0 + n) / 6.0)"),)),
    Mutation("EOS does not end a beam hypothesis", "core/inference/search.py",
             (("elif tok != self.eos_id and len(new_alive) < k:", "elif len(new_alive) < k:"),)),
    Mutation("EOS does not end a greedy/sampled hypothesis", "core/inference/search.py",
             (("        if token == self.eos_id:\n            self._finished.append(nid)",
               "        if token == -1:\n            self._finished.append(nid)"),)),
    Mutation("encoder attention from another head", "core/inference/engine.py",
             (("encoder_attention=enc.enc_attn[:, 0]", "encoder_attention=np.roll(enc.enc_attn[:, 0], 1, axis=1)"),)),
    Mutation("the bars' kept set drifts from the sampler's (top-k dropped)", "app/prob_bars.py",
             (("logits.kept_set(temp, cfg.top_k, cfg.top_p,",
               "logits.kept_set(temp, 0, cfg.top_p,"),)),
    Mutation("the sampler's top-p over the mass before top-k", "core/inference/search.py",
             (("cum = np.cumsum(p / p.sum())", "cum = np.cumsum(p / np.exp(z[np.isfinite(z)] - z[order[0]]).sum())"),)),
    Mutation("decoder self-attention sees the next piece (causal mask)", "core/model.py",
             (("torch.full((t, t), NEG_INF, device=tgt_in.device), diagonal=1)",
               "torch.full((t, t), NEG_INF, device=tgt_in.device), diagonal=2)"),)),
    Mutation("the top of a row breaks ties unlike the full sort", "core/inference/logits.py",
             (("return cand[np.argsort(-z[cand], kind=\"stable\")][:n].astype(np.int64)",
               "return cand[np.argsort(-z[cand], kind=\"quicksort\")][:n].astype(np.int64)"),)),
    Mutation("the nucleus renormalised over the sorted prefix only", "core/inference/search.py",
             (("cum = np.cumsum(np.exp(z[order] - z_max) / total)",
               "cum = np.cumsum(np.exp(z[order] - z_max) / np.exp(z[order] - z_max).sum())"),)),
    Mutation("sampling ignores the temperature", "core/inference/search.py",
             (("z = np.asarray(logits, dtype=np.float64) / temperature\n    z[bos_id] = -np.inf",
               "z = np.asarray(logits, dtype=np.float64)\n    z[bos_id] = -np.inf"),)),
)


class PatternNotFound(RuntimeError):
    pass


def scratch_package(dest: Path) -> Path:
    """The working tree laid out as the installed package: dest/attnscope/{core,app,export,...}."""
    pkg = dest / "attnscope"
    shutil.copytree(ROOT / "package", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for sub in ("core", "app", "export"):
        shutil.copytree(ROOT / sub, pkg / sub, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "resources").symlink_to(ROOT / "resources")  # the shipped bundle: read-only, 24 MB
    return pkg


def apply(pkg: Path, m: Mutation) -> None:
    target = pkg / m.file
    text = target.read_text(encoding="utf-8")
    for old, new in m.edits:
        n = text.count(old)
        if n != 1:
            raise PatternNotFound(f"{m.file}: pattern not found exactly once ({n}x), update the mutation "
                                  f"{m.name!r}: {old!r}")
        text = text.replace(old, new)
    target.write_text(text, encoding="utf-8")


def run_tests(site: Path, tiny_run: Path, timeout_s: float) -> tuple[bool, str, float, str]:
    """(all passed, first failing test, seconds, output tail) with ``site`` ahead of the wheel."""
    run_copy = Path(tempfile.mkdtemp(prefix="attnscope-mutant-run-")) / "run"
    shutil.copytree(tiny_run, run_copy)
    env = {**os.environ, "PYTHONPATH": str(site), "ATTNSCOPE_TINY_RUN": str(run_copy),
           "QT_QPA_PLATFORM": "offscreen", "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-P", "-m", "pytest", "-q", "-x", "-rf", "-p", "no:cacheprovider", *TESTS]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
        text, passed = out.stdout + out.stderr, out.returncode == 0
    except subprocess.TimeoutExpired as e:
        text, passed = f"timed out after {timeout_s:.0f} s\n{e.stdout or ''}", False
    finally:
        shutil.rmtree(run_copy.parent, ignore_errors=True)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", text, flags=re.M)
    killer = failed[0] if failed else ("timeout" if "timed out" in text[:40] else "")
    return passed, killer, time.perf_counter() - t0, text[-3000:]


def check_site(site: Path) -> None:
    code = "import attnscope.core.inference.engine as e; print(e.__file__)"
    out = subprocess.run([sys.executable, "-P", "-c", code], env={**os.environ, "PYTHONPATH": str(site)},
                         capture_output=True, text=True, check=True)
    if not out.stdout.strip().startswith(str(site)):
        raise SystemExit(f"the scratch package is not the one imported: {out.stdout.strip()}")


def train_tiny(dest: Path) -> Path:
    from attnscope.core.train import train  # the same call as the tiny_run fixture

    run = dest / "run"
    train("tiny", run, max_steps=60, progress=False, overrides={"pairs": 3000})
    return run


def write_results(rows: list[dict], baseline: dict, started: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    data = {"date": started, "machine": machine(), "tests": TESTS, "baseline": baseline, "mutations": rows,
            "killed": sum(r["killed"] for r in rows), "total": len(rows)}
    (RESULTS / "mutants.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = ["# Mutation check", "",
             f"`make mutants`, {started}: each planted bug alone in a scratch copy, then "
             f"`pytest -x {' '.join(TESTS)}`. Killed {data['killed']} of {data['total']}; "
             f"the unmutated copy passes ({baseline['seconds']:.0f} s).", "",
             "| planted bug | file | killed by | s |", "|---|---|---|---|"]
    for r in rows:
        killer = f"`{r['killed_by']}`" if r["killed"] else "**SURVIVED**"
        again = f" (rerun {r['rerun']})" if r.get("rerun") else ""
        lines.append(f"| {r['name']}{again} | `{r['file']}` | {killer} | {r['seconds']:.0f} |")
    (RESULTS / "mutants.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="run only mutations whose name contains one of these")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per test run")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or any(s in m.name for s in args.only)]
    if args.list:
        for m in MUTATIONS:
            print(f"{m.file:32} {m.name}")
        return 0
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    work = Path(tempfile.mkdtemp(prefix="attnscope-mutants-"))
    try:
        for m in chosen:  # every pattern is checked before anything runs
            apply(scratch_package(work / "check" / m.name.replace(" ", "_").replace("/", "_")), m)
        print("training the tiny model once ...", flush=True)
        tiny = train_tiny(work / "tiny")
        site = work / "site"
        pkg = scratch_package(site)
        check_site(site)
        passed, killer, secs, tail = run_tests(site, tiny, args.timeout)
        if not passed:
            print(tail)
            raise SystemExit(f"the unmutated copy fails ({killer}): fix that first")
        baseline = {"passed": True, "seconds": round(secs, 1)}
        print(f"{'unmutated copy':60} passes ({secs:.0f} s)", flush=True)
        rows = []
        for m in chosen:
            shutil.rmtree(pkg)
            pkg = scratch_package(site)
            apply(pkg, m)
            passed, killer, secs, tail = run_tests(site, tiny, args.timeout)
            killed = not passed and bool(killer)  # a run that died without naming a test proves nothing
            rows.append({"name": m.name, "file": m.file, "killed": killed, "killed_by": killer,
                         "seconds": round(secs, 1)})
            print(f"{m.name:60} {'killed by ' + killer if killed else 'SURVIVED'} ({secs:.0f} s)", flush=True)
            if not passed and not killer:
                print(tail, flush=True)
        if args.only:  # a rerun replaces those rows of the recorded table, keeping the others
            old = json.loads((RESULTS / "mutants.json").read_text(encoding="utf-8")) \
                if (RESULTS / "mutants.json").is_file() else {"mutations": []}
            again = {r["name"]: {**r, "rerun": started} for r in rows}
            merged = [again.pop(r["name"], r) for r in old["mutations"]]
            rows = merged + list(again.values())
            started = old.get("date", started)
        write_results(rows, baseline, started)
        survivors = [r["name"] for r in rows if not r["killed"]]
        print(f"killed {len(rows) - len(survivors)} of {len(rows)}; table in {RESULTS / 'mutants.md'}")
        return 1 if survivors else 0
    except PatternNotFound as e:
        print(f"mutants: {e}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
