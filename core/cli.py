"""The `attnscope` command: corpus, train, export-onnx, translate, inspect, heads, figure, gui.

This is the composition root. Each subcommand loads only what it needs, so `translate`
and `inspect` start without torch and `train` without Qt. The GUI and figure packages are
loaded by name (importlib) because `core` must not depend on them at import time.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

EXAMPLE = "I love you"
# Modules that only an extra brings, and the extra that brings them.
EXTRAS = {"torch": "train", "sacrebleu": "train", "tqdm": "train", "transformers": "hf", "tokenizers": "hf"}


def _decode_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", help="model bundle folder or .zip (default: the shipped model)")
    p.add_argument("--strategy", choices=["greedy", "beam", "sample"], default=None)
    p.add_argument("--beam", type=int, default=None, help="beam size (1 = greedy; default: the bundle's, ours 4)")
    p.add_argument("--length-penalty", type=float, default=None, help="alpha (default: the bundle's, ours 0.6)")
    p.add_argument("--length-penalty-kind", choices=["gnmt", "hf"], default=None,
                   help="gnmt: score / ((5+n)/6)^alpha; hf: score / n^alpha (default: the bundle's)")
    p.add_argument("--n-best", type=int, default=1)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-len", type=int, default=None, help="most generated pieces (default: the bundle's)")
    p.add_argument("--source-lang", help="source language code of a multilingual model (e.g. eng_Latn)")
    p.add_argument("--target-lang", help="target language code, forced as the first piece (e.g. fra_Latn)")


def _decode_config(a: argparse.Namespace, engine: Any) -> Any:
    """The bundle's generation defaults, overridden by what the command line gives."""
    base = engine.decode_defaults()
    beam = base.beam_size if a.beam is None else max(a.beam, 1)
    strategy = a.strategy or (base.strategy if a.beam is None else ("greedy" if a.beam <= 1 else "beam"))
    changes = {"strategy": strategy, "beam_size": beam, "n_best": a.n_best, "temperature": a.temperature,
               "top_k": a.top_k, "top_p": a.top_p, "seed": a.seed}
    for key, value in (("length_penalty", a.length_penalty), ("length_penalty_kind", a.length_penalty_kind),
                       ("max_len", a.max_len)):
        if value is not None:
            changes[key] = value
    cfg = base.replace(**changes)
    if a.source_lang:
        engine.set_source_language(a.source_lang)
    return engine.target_language(cfg, a.target_lang) if a.target_lang else cfg


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="attnscope", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command")

    p = sub.add_parser("corpus", help="write the generated EN→KO corpus (train/valid/test.tsv)")
    p.add_argument("--out", required=True)
    p.add_argument("--pairs", type=int, default=60_000)
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("train", help="train a Transformer preset")
    p.add_argument("--preset", default="default", help="tiny | default | base")
    p.add_argument("--data", help="TSV file, folder with train.tsv/valid.tsv, or SRC,TGT Moses files")
    p.add_argument("--out", default="runs/default")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--resume", action="store_true")
    p.add_argument("--seed", type=int)
    p.add_argument("--pairs", type=int, help="size of the generated corpus")
    p.add_argument("--norm", choices=["post", "pre"], help="post-LN (paper) or pre-LN")
    p.add_argument("--optimizer", choices=["adam", "adamw"])
    p.add_argument("--lr-factor", type=float)
    p.add_argument("--warmup", type=int)
    p.add_argument("--batch-tokens", type=int)
    p.add_argument("--valid-every", type=int, help="steps between validations")
    p.add_argument("--log-every", type=int, help="steps between training log lines")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    p.add_argument("--snapshots", help="fractions of training to keep runnable snapshots at, "
                   "comma-separated (default 0,0.01,0.03,0.1,0.3,1)")

    p = sub.add_parser("export-onnx", help="export a run to a model bundle")
    p.add_argument("run")
    p.add_argument("--out", required=True)
    p.add_argument("--verify", action="store_true", help="compare with torch on held-out sentences")
    p.add_argument("--no-snapshots", action="store_true", help="leave the training snapshots out")
    p.add_argument("--quantize", choices=["auto", "int8", "none"], default="auto",
                   help="snapshot graphs in 8 bits: when float would pass the 25 MB budget (auto; then also "
                   "leaves out intermediate snapshots if still over), always (int8), never (none)")

    p = sub.add_parser("import", help="import a Hugging Face model folder (Marian/OPUS-MT) as a bundle")
    p.add_argument("src", help="a local model folder, or a repo id already in the local Hugging Face cache")
    p.add_argument("--out", required=True, help="the bundle folder to write")
    p.add_argument("--verify", action="store_true", help="compare with transformers' generate() and forward")
    p.add_argument("--name", help="the bundle's display name (default: the folder's name)")
    p.add_argument("--target-lang", help="default target language of a multilingual model (e.g. fra_Latn)")

    p = sub.add_parser("heads", help="per-head table of a bundle: AER of cross-attention heads, roles")
    p.add_argument("--bundle", help="model bundle folder or .zip (default: the shipped model)")
    p.add_argument("--snapshot", help="a snapshot of the bundle (step-NNNNNN) instead of the final model")
    p.add_argument("--json", action="store_true", help="print heads.json")

    p = sub.add_parser("translate", help="translate lines from stdin")
    _decode_args(p)

    p = sub.add_parser("inspect", help="decode one sentence and print what the model saw")
    p.add_argument("text")
    _decode_args(p)
    p.add_argument("--json", action="store_true", help="print the whole Inspection as JSON")
    p.add_argument("--top-logits", type=int, default=10, help="top-k step logits in JSON (0 = all)")

    p = sub.add_parser("figure", help="render a figure (PDF/SVG/PNG) of an inspection")
    p.add_argument("rest", nargs=argparse.REMAINDER)

    p = sub.add_parser("gui", help="open the inspector window")
    p.add_argument("rest", nargs=argparse.REMAINDER)

    p = sub.add_parser("desktop", help="install the desktop entry and icon for this user")
    p.add_argument("--prefix", help="data folder (default: $XDG_DATA_HOME or ~/.local/share)")
    p.add_argument("--print", action="store_true", help="only print where the shipped files are")
    return ap


def cmd_corpus(a: argparse.Namespace) -> int:
    from attnscope.core.data.generate import write_splits

    info = write_splits(Path(a.out), n_pairs=a.pairs, seed=a.seed)
    print(json.dumps(info, ensure_ascii=False, default=str))
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    from attnscope.core.train import train

    overrides = {k: v for k, v in {"seed": a.seed, "pairs": a.pairs, "optimizer": a.optimizer,
                                   "lr_factor": a.lr_factor, "warmup": a.warmup,
                                   "batch_tokens": a.batch_tokens, "valid_every": a.valid_every,
                                   "log_every": a.log_every, "checkpoint_every": a.checkpoint_every,
                                   }.items() if v is not None}
    if a.snapshots:
        try:
            overrides["snapshot_fractions"] = tuple(float(x) for x in a.snapshots.split(",") if x.strip())
        except ValueError:
            print(f"attnscope train: --snapshots {a.snapshots!r} is not a list of fractions", file=sys.stderr)
            return 2
    model_overrides = {"norm": a.norm} if a.norm else {}
    result = train(a.preset, a.out, a.data, a.max_steps, a.device, a.resume, overrides, model_overrides)
    print(json.dumps(result))
    if result.get("stopped"):  # stopped early (SIGTERM / Ctrl+C) with a checkpoint: 128 + signal
        return 128 + int(result.get("signal") or 1)
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from attnscope.core.onnx_export import export_bundle

    report = export_bundle(Path(a.run), Path(a.out), verify=a.verify, snapshots=not a.no_snapshots,
                           quantize=a.quantize)
    print(json.dumps(report, indent=1))
    return 0 if report.get("verified", True) else 1


def cmd_import(a: argparse.Namespace) -> int:
    from attnscope.core.convert.importer import import_hf

    report = import_hf(a.src, Path(a.out), verify=a.verify, name=a.name, target_lang=a.target_lang)
    print(json.dumps(report, indent=1))
    return 0 if report.get("verified", True) else 1


def cmd_translate(a: argparse.Namespace) -> int:
    from attnscope.core.inference.engine import Engine

    engine = Engine.load(a.bundle)
    cfg = _decode_config(a, engine)
    for line in sys.stdin:
        print(engine.inspect(line.rstrip("\n"), cfg).translation, flush=True)
    return 0


def cmd_inspect(a: argparse.Namespace) -> int:
    from attnscope.core.inference.engine import Engine
    from attnscope.core.inference.serialize import inspection_to_json

    engine = Engine.load(a.bundle)
    ins = engine.inspect(a.text, _decode_config(a, engine))
    if a.json:
        from attnscope.core.inference.alignment import inspection_aer

        data = inspection_to_json(ins, top_logits=a.top_logits)
        gold = inspection_aer(ins)  # None outside the generated grammar
        data["gold_alignment"] = None if gold is None else {k: gold[k] for k in ("reference", "pharaoh", "links", "note")}
        data["aer"] = None if gold is None else gold["aer"]
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(ins.translation)
        print("source:", " ".join(ins.source_pieces))
        print("target:", " ".join(ins.target_pieces))
        times = ", ".join(f"{k} {v:.1f} ms" for k, v in ins.timings_ms.items() if k != "steps")
        print(f"{engine.provider}; {len(ins.steps)} decoder steps; {times}")
    return 0


def cmd_heads(a: argparse.Namespace) -> int:
    from attnscope.core.bundle import BundleError, read_bundle

    b = read_bundle(a.bundle)
    if a.snapshot:
        b = b.snapshot(a.snapshot)
    heads = b.heads()
    if heads is None:
        raise BundleError(f"{b.file('heads.json')}: missing (export the run again to measure the heads)")
    if a.json:
        print(json.dumps(heads, ensure_ascii=False, indent=1))
        return 0
    print(format_heads(heads))
    return 0


def format_heads(heads: dict[str, Any]) -> str:
    """The per-head table: AER of every cross-attention head and the role of every head."""
    aer = heads.get("cross_aer")
    roles = heads["roles"]
    lines = [f"{heads.get('sentences', 0)} validation sentences, "
             f"{heads.get('aligned_sentences', 0)} with gold alignments; teacher-forced loss {heads.get('nll')}"]
    if heads.get("best_head"):
        layer, head = heads["best_head"]
        lines.append(f"best alignment head: L{layer + 1} H{head + 1}, AER {heads['best_aer']:.3f}")
    lines.append(f"{'head':<6} {'cross AER':>9}  {'encoder':<28} {'decoder':<28} {'cross':<28}")
    n_layers = max(len(roles[k]) for k in ("encoder", "decoder", "cross"))
    n_heads = len(roles["encoder"][0]) if roles["encoder"] else 0
    for layer in range(n_layers):
        for head in range(n_heads):
            cells = []
            for kind in ("encoder", "decoder", "cross"):
                rows = roles[kind]
                r = rows[layer][head] if layer < len(rows) else None
                cells.append(f"{r['role']} ({r['measure']} {r['value']:.2f})" if r else "")
            a_txt = f"{aer[layer][head]:.3f}" if aer is not None and layer < len(aer) else "—"
            lines.append(f"L{layer + 1}H{head + 1:<3} {a_txt:>9}  {cells[0]:<28} {cells[1]:<28} {cells[2]:<28}")
    return "\n".join(lines)


def cmd_desktop(a: argparse.Namespace) -> int:
    """Copy the freedesktop entry and the icon into the user's data folder."""
    from importlib import resources

    res = resources.files("attnscope.resources")
    entry, icon = res.joinpath("attnscope.desktop"), res.joinpath("icons", "attnscope.svg")
    if a.print:
        print(entry)
        print(icon)
        return 0
    data = Path(a.prefix or os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    targets = {entry: data / "applications" / "attnscope.desktop",
               icon: data / "icons" / "hicolor" / "scalable" / "apps" / "attnscope.svg"}
    for src, dst in targets.items():
        dst.parent.mkdir(parents=True, exist_ok=True)
        with resources.as_file(src) as path:
            shutil.copyfile(path, dst)
        print(dst)
    return 0


def _missing_extra(command: str, e: ModuleNotFoundError) -> int | None:
    """A module that an optional extra brings is missing: one line saying how to install it."""
    top = (e.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    print(f"attnscope {command}: needs the [{extra}] extra ({top} is not installed): "
          f"pip install 'attnscope[{extra}]'", file=sys.stderr)
    return 2


def _quiet_broken_pipe() -> int:
    """stdout's reader went away (``| head``): end quietly, as a closed pipe is no error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
    return 0


def _delegate(module: str, rest: list[str]) -> int:
    return int(importlib.import_module(module).main(rest) or 0)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ["gui"]
    # The window and the figure renderer parse their own options.
    delegates = {"gui": "attnscope.app.main", "figure": "attnscope.export.cli"}
    if argv[0] in delegates:
        try:
            return _delegate(delegates[argv[0]], argv[1:])
        except ModuleNotFoundError as e:
            code = _missing_extra(argv[0], e)
            if code is None:
                print(f"attnscope {argv[0]}: this installation lacks {e.name}", file=sys.stderr)
            return 2
    ap = build_parser()
    a = ap.parse_args(argv)
    handlers = {"corpus": cmd_corpus, "train": cmd_train, "export-onnx": cmd_export,
                "translate": cmd_translate, "inspect": cmd_inspect, "heads": cmd_heads, "import": cmd_import,
                "desktop": cmd_desktop}
    try:
        if a.command is None:
            ap.print_help()
            return 2
        return handlers[a.command](a)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as e:
        code = _missing_extra(a.command, e)
        if code is None:
            raise
        return code
    except BrokenPipeError:
        raise  # not a user's mistake: main() ends quietly
    except (ValueError, RuntimeError, OSError) as e:
        # User-fixable problems (bad corpus, bad bundle, unwritable folder) get one clear line.
        if type(e).__name__ in {"CorpusError", "BundleError", "TrainingError", "DecodeError", "ConvertError"} or isinstance(e, OSError):
            print(f"attnscope {a.command}: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
