"""The `attnscope` command: gui, corpus, train, export-onnx, heads, translate, inspect, figure, desktop.

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

from attnscope.core.cliargs import (
    Parser,
    UsageError,
    float_in,
    forced_config,
    int_at_least,
    read_utf8_lines,
    report,
    require,
    warn,
)

EXAMPLE = "I love you"
# Modules that only an extra brings, and the extra that brings them.
EXTRAS = {"torch": "train", "sacrebleu": "train", "tqdm": "train", "transformers": "hf", "tokenizers": "hf"}
COMMANDS = {  # every subcommand and its one-line help, in the order the top-level help lists them
    "gui": "open the inspector window (the default without a command)",
    "corpus": "write the generated EN→KO corpus (train/valid/test.tsv)",
    "train": "train a Transformer preset",
    "export-onnx": "export a run to a model bundle (graphs, snapshots, heads.json)",
    "import": "import a Hugging Face model folder (Marian/OPUS-MT, BART, mBART, M2M100, NLLB-200) as a bundle",
    "export-hf": "write a run or bundle as a Marian model folder that transformers loads",
    "heads": "per-head table of a bundle: head roles, and AER when the corpus had alignments",
    "translate": "translate lines from stdin",
    "inspect": "decode one sentence and print what the model saw",
    "figure": "render a figure (PDF/SVG/PNG) or its data (JSON/NPZ); see `attnscope figure --help`",
    "desktop": "install the desktop entry and icon for this user",
}
GUI_HELP = """usage: attnscope gui [--bundle B] [--text T] [--theme dark|light] [--screenshot PNG]

Open the inspector window on a model bundle and translate as you type.

options:
  --bundle B        model bundle folder or .zip (default: the shipped model)
  --text T          first sentence to translate (default: I love you)
  --theme THEME     colour theme: dark or light (default: the saved one)
  --screenshot PNG  render the window once, save it as PNG and exit (works headless with
                    QT_QPA_PLATFORM=offscreen)
"""


def _decode_args(p: argparse.ArgumentParser) -> None:
    """The decoding options of translate, inspect (and the window): checked while parsing."""
    p.add_argument("--bundle", help="model bundle folder or .zip (default: the shipped model)")
    p.add_argument("--snapshot", help="run a training snapshot of the bundle (step-NNNNNN) instead "
                   "of the final model")
    p.add_argument("--strategy", choices=["greedy", "beam", "sample"],
                   help="search (default: beam, or greedy with --beam 1)")
    p.add_argument("--beam", type=int_at_least(1, " (1 = greedy)"), default=None,
                   help="beam size (default: 4; an imported model: its generation_config.json)")
    p.add_argument("--length-penalty", type=float, default=None,
                   help="alpha, 0 = none (default: 0.6; an imported model: its generation_config.json)")
    p.add_argument("--length-penalty-kind", choices=["gnmt", "hf"], default=None,
                   help="gnmt: score / ((5+n)/6)^alpha; hf (transformers): score / n^alpha (default: the bundle's)")
    p.add_argument("--n-best", type=int_at_least(1), default=1, help="hypotheses returned (at most --beam)")
    p.add_argument("--temperature", type=float_in(0.0, low_open=True), default=1.0,
                   help="sampling temperature, > 0")
    p.add_argument("--top-k", type=int_at_least(0, " (0 = off)"), default=0, help="sample among the k likeliest")
    p.add_argument("--top-p", type=float_in(0.0, 1.0, low_open=True), default=1.0,
                   help="nucleus mass in (0, 1] (1 = off)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="sampling seed")
    p.add_argument("--max-len", type=int_at_least(1), default=None,
                   help="most generated pieces, EOS included (default: 64; an imported model: its max_length - 1)")
    p.add_argument("--source-lang", help="source language code of a multilingual model (e.g. eng_Latn)")
    p.add_argument("--target-lang", help="target language code, forced as the first piece (e.g. fra_Latn)")


def _decode_config(a: argparse.Namespace) -> Any:
    """The DecodeConfig of the parsed options; options that contradict each other are refused."""
    from attnscope.core.config import DecodeConfig, Strategy

    strategy: Strategy = a.strategy or ("greedy" if a.beam == 1 else "beam")
    beam = (a.beam or 4) if strategy == "beam" else 1
    require(a.n_best <= beam, f"--n-best {a.n_best} is more than the {strategy} search keeps "
            f"({beam}); raise --beam or lower --n-best")
    if strategy != "sample":
        for name, value, off in (("temperature", a.temperature, 1.0), ("top-k", a.top_k, 0),
                                 ("top-p", a.top_p, 1.0)):
            if value != off:  # kept in the inspection's settings, but it changes no choice
                warn(f"attnscope {a.command}", f"--{name} changes only --strategy sample; the {strategy} "
                     f"search ranks by the model's own probabilities")
    given = {"length_penalty": a.length_penalty, "length_penalty_kind": a.length_penalty_kind, "max_len": a.max_len}
    return DecodeConfig(strategy=strategy, beam_size=beam, n_best=a.n_best, temperature=a.temperature,
                        top_k=a.top_k, top_p=a.top_p, seed=a.seed, **{k: v for k, v in given.items() if v is not None})


def _with_bundle(a: argparse.Namespace, cfg: Any, engine: Any) -> Any:
    """An imported model decodes with its generation defaults unless an option says otherwise;
    ``--source-lang`` and ``--target-lang`` pick a multilingual model's languages."""
    if "generation" in engine.bundle.config:
        base = engine.decode_defaults()
        changes = {"n_best": cfg.n_best, "temperature": cfg.temperature, "top_k": cfg.top_k, "top_p": cfg.top_p,
                   "seed": cfg.seed}
        if a.strategy is not None or a.beam is not None:
            changes.update(strategy=cfg.strategy, beam_size=cfg.beam_size)
        for key, value in (("length_penalty", a.length_penalty), ("length_penalty_kind", a.length_penalty_kind),
                           ("max_len", a.max_len)):
            if value is not None:
                changes[key] = value
        cfg = base.replace(**changes)
    if a.source_lang:
        engine.set_source_language(a.source_lang)
    return engine.target_language(cfg, a.target_lang) if a.target_lang else cfg


def _load_engine(a: argparse.Namespace) -> Any:
    from attnscope.core.inference.engine import Engine

    return Engine.load(a.bundle, snapshot=a.snapshot)


def _warn_truncated(command: str, ins: Any, engine: Any, where: str = "the input") -> None:
    if ins.truncated_input:
        warn(f"attnscope {command}", f"{where} is longer than the model's {engine.model_config.max_len - 1} "
             f"pieces and was cut to its first {len(ins.source_pieces) - 1}")
    if ins.truncated_output:
        warn(f"attnscope {command}", f"the translation of {where} reached --max-len without ending")


def build_parser() -> argparse.ArgumentParser:
    ap = Parser(prog="attnscope", description=__doc__.splitlines()[0],
                epilog="`attnscope COMMAND --help` shows a command's options and defaults.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def add(name: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name])

    add("gui").add_argument("rest", nargs=argparse.REMAINDER, help="the window's options")

    p = add("corpus")
    p.add_argument("--out", required=True, help="folder for train.tsv, valid.tsv and test.tsv")
    p.add_argument("--pairs", type=int_at_least(1), default=60_000, help="lines in all three files")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="sampling seed")

    p = add("train")
    p.add_argument("--preset", default="default", choices=["tiny", "default", "base"], help="model size")
    p.add_argument("--data", help="TSV file, folder with train.tsv/valid.tsv, or SRC,TGT Moses files "
                   "(default: the generated corpus)")
    p.add_argument("--out", default="runs/default", help="run folder")
    p.add_argument("--max-steps", type=int_at_least(1), help="optimiser steps (default: the preset's)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to train")
    p.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    p.add_argument("--seed", type=int_at_least(0), help="random seed (default: the preset's)")
    p.add_argument("--pairs", type=int_at_least(1), help="size of the generated corpus")
    p.add_argument("--norm", choices=["post", "pre"], help="post-LN (paper) or pre-LN")
    p.add_argument("--optimizer", choices=["adam", "adamw"], help="optimiser (default: adam)")
    p.add_argument("--lr-factor", type=float_in(0.0, low_open=True), help="Noam factor")
    p.add_argument("--warmup", type=int_at_least(1), help="Noam warm-up steps")
    p.add_argument("--batch-tokens", type=int_at_least(1), help="target tokens per batch")
    p.add_argument("--valid-every", type=int_at_least(1), help="steps between validations")
    p.add_argument("--log-every", type=int_at_least(1), help="steps between training log lines")
    p.add_argument("--checkpoint-every", type=int_at_least(1), help="steps between checkpoints")
    p.add_argument("--snapshots", help="fractions of training to keep runnable snapshots at, "
                   "comma-separated (default 0,0.01,0.03,0.1,0.3,1)")

    p = add("export-onnx")
    p.add_argument("run", help="training run folder")
    p.add_argument("--out", required=True, help="bundle folder to write")
    p.add_argument("--verify", action="store_true", help="compare with torch on held-out sentences")
    p.add_argument("--no-snapshots", action="store_true", help="leave the training snapshots out")
    p.add_argument("--quantize", choices=["auto", "int8", "none"], default="auto",
                   help="snapshot graphs in 8 bits: when float would pass the 25 MB budget (auto; then also "
                   "leaves out intermediate snapshots if still over), always (int8), never (none)")

    p = add("import")
    p.add_argument("src", help="a local model folder, or a repo id already in the local Hugging Face cache")
    p.add_argument("--out", required=True, help="the bundle folder to write")
    p.add_argument("--verify", action="store_true", help="compare with transformers' generate() and forward")
    p.add_argument("--name", help="the bundle's display name (default: the folder's name)")
    p.add_argument("--target-lang", help="default target language of a multilingual model (e.g. fra_Latn)")
    p.add_argument("--progress", action="store_true", help="print each stage as `stage: NAME` on stdout "
                   "(for the window's progress bar)")

    p = add("export-hf")
    p.add_argument("run", help="training run folder, or a bundle folder with weights.safetensors")
    p.add_argument("--out", required=True, help="the Hugging Face model folder to write")

    p = add("heads")
    p.add_argument("--bundle", help="model bundle folder or .zip (default: the shipped model)")
    p.add_argument("--snapshot", help="a snapshot of the bundle (step-NNNNNN) instead of the final model")
    p.add_argument("--json", action="store_true", help="print heads.json")

    p = add("translate")
    _decode_args(p)

    p = add("inspect")
    p.add_argument("text", help="English source sentence")
    _decode_args(p)
    p.add_argument("--force-target", metavar="TEXT",
                   help="teacher-force this reference translation instead of searching")
    p.add_argument("--json", action="store_true", help="print the whole Inspection as JSON (schema: docs/dumps.md)")
    p.add_argument("--top-logits", type=int_at_least(0, " (0 = all)"), default=10,
                   help="top-k step logits in JSON (0 = all)")
    p.add_argument("--node-attention", action="store_true",
                   help="JSON: the attention of every beam-tree node, not only the best hypothesis")

    add("figure").add_argument("rest", nargs=argparse.REMAINDER, help="the figure's options")

    p = add("desktop")
    p.add_argument("--prefix", help="data folder (default: $XDG_DATA_HOME or ~/.local/share)")
    p.add_argument("--print", action="store_true", help="only print where the shipped files are")
    return ap


def cmd_corpus(a: argparse.Namespace) -> int:
    from attnscope.core.data.generate import required_variants, write_splits

    held = min(1000, max(a.pairs // 20, 10))  # validation and test each, as training's own corpus
    least = len(required_variants()) + 2 * held + 1
    require(a.pairs >= least, f"--pairs {a.pairs} is too small: the grammar's {len(required_variants())} "
            f"required pairs, {held} validation and {held} test pairs need at least {least}")
    info = write_splits(Path(a.out), n_pairs=a.pairs, seed=a.seed, valid=held, test=held)
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
            fractions = tuple(float(x) for x in a.snapshots.split(",") if x.strip())
        except ValueError:
            raise UsageError(f"--snapshots {a.snapshots!r} is not a comma-separated list of fractions") from None
        require(bool(fractions) and all(0 <= f <= 1 for f in fractions),
                f"--snapshots {a.snapshots!r}: fractions of training lie in [0, 1]")
        overrides["snapshot_fractions"] = fractions
    model_overrides = {"norm": a.norm} if a.norm else {}
    result = train(a.preset, a.out, a.data, a.max_steps, a.device, a.resume, overrides, model_overrides)
    print(json.dumps(result))
    if result.get("stopped"):  # stopped early (SIGTERM / Ctrl+C) with a checkpoint: 128 + signal
        return 128 + int(result.get("signal") or 1)
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from attnscope.core.onnx_export import export_bundle

    require(Path(a.run).is_dir(), f"{a.run}: no such run folder")
    report = export_bundle(Path(a.run), Path(a.out), verify=a.verify, snapshots=not a.no_snapshots,
                           quantize=a.quantize)
    print(json.dumps(report, indent=1))
    return 0 if report.get("verified", True) else 1


def cmd_import(a: argparse.Namespace) -> int:
    from attnscope.core.convert.importer import import_hf

    def stage(name: str) -> None:
        print(f"stage: {name}", flush=True)

    report = import_hf(a.src, Path(a.out), verify=a.verify, name=a.name, target_lang=a.target_lang,
                       progress=stage if a.progress else None)
    print(json.dumps(report, indent=1))
    return 0 if report.get("verified", True) else 1


def cmd_export_hf(a: argparse.Namespace) -> int:
    import torch  # noqa: F401 - the [train] extra: named before any work starts
    import transformers  # noqa: F401 - the [hf] extra

    from attnscope.core.convert.export_hf import export_hf

    print(json.dumps(export_hf(Path(a.run), Path(a.out)), indent=1))
    return 0


def cmd_translate(a: argparse.Namespace) -> int:
    cfg = _decode_config(a)  # options first: a bad one is reported before the model loads
    engine = _load_engine(a)
    cfg = _with_bundle(a, cfg, engine)
    for number, line in enumerate(read_utf8_lines(sys.stdin.buffer), 1):
        ins = engine.inspect(line, cfg)
        _warn_truncated("translate", ins, engine, f"stdin line {number}")
        print(ins.translation, flush=True)
    return 0


def cmd_inspect(a: argparse.Namespace) -> int:
    from attnscope.core.inference.serialize import inspection_to_json

    require(bool(a.text.strip()), "TEXT is empty: give an English sentence to inspect")
    cfg = _decode_config(a)
    engine = _load_engine(a)
    cfg = _with_bundle(a, cfg, engine)
    if a.force_target is not None:
        cfg = forced_config(engine, a.force_target, cfg)
    ins = engine.inspect(a.text, cfg)
    _warn_truncated("inspect", ins, engine)
    if a.json:
        data = inspection_to_json(ins, top_logits=a.top_logits, piece=engine.piece,
                                  node_attention=a.node_attention, bundle=engine.bundle)
        print(json.dumps(data, ensure_ascii=False, allow_nan=False))
    else:
        print(ins.translation)
        print("source:", " ".join(ins.source_pieces))
        print("target:", " ".join(ins.target_pieces))
        times = ", ".join(f"{k} {v:.1f} ms" for k, v in ins.timings_ms.items() if k != "steps")
        print(f"{engine.provider}; {len(ins.steps)} decoder steps; {times}")
    return 0


def cmd_heads(a: argparse.Namespace) -> int:
    from attnscope.core.bundle import read_bundle

    b = read_bundle(a.bundle)
    if a.snapshot:
        b = b.snapshot(a.snapshot)
    heads = b.heads()
    if heads is None:
        raise UsageError(f"{b.file('heads.json')}: missing; bundles exported before heads.json was written "
                         f"for every corpus lack it: export the run again with `attnscope export-onnx`")
    if a.json:
        print(json.dumps(heads, ensure_ascii=False, indent=1))
        return 0
    print(format_heads(heads))
    return 0


def format_heads(heads: dict[str, Any]) -> str:
    """The per-head table: every head's role and, with gold alignments, each cross head's AER."""
    aer = heads.get("cross_aer")
    roles = heads["roles"]
    n, aligned = heads.get("sentences", 0), heads.get("aligned_sentences", 0)
    if aer is not None:
        source = f"roles and AER: {aligned} of {n} validation sentences carry gold alignments"
    else:
        source = (f"roles only (no AER): the {n} validation sentences carry no gold alignment; a third "
                  f"TSV column of Pharaoh links (0-0 1-2 …) adds AER")
    lines = [f"{source}; teacher-forced loss {heads.get('nll')}"]
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
    if argv[0] == "gui" and ("-h" in argv[1:] or "--help" in argv[1:]):
        print(GUI_HELP, end="")  # the user's options, without loading Qt
        return 0
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
    handlers = {"corpus": cmd_corpus, "train": cmd_train, "export-onnx": cmd_export,
                "translate": cmd_translate, "inspect": cmd_inspect, "heads": cmd_heads, "import": cmd_import,
                "export-hf": cmd_export_hf,
                "desktop": cmd_desktop}
    command = argv[0] if argv[0] in handlers else None
    prog = f"attnscope {command}" if command else "attnscope"
    try:
        a = ap.parse_args(argv)
        if a.command is None:
            ap.print_help()
            return 2
        return handlers[a.command](a)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except UsageError as e:
        return report(prog, e)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as e:
        code = _missing_extra(command or "", e)
        if code is None:
            raise
        return code
    except BrokenPipeError:
        raise  # not a user's mistake: main() ends quietly
    except (ValueError, RuntimeError, OSError) as e:
        # User-fixable problems (bad corpus, bad bundle, unwritable folder) get one clear line.
        if type(e).__name__ in {"CorpusError", "BundleError", "TrainingError", "DecodeError", "ConvertError"} or isinstance(e, OSError):
            return report(prog, e)
        raise


if __name__ == "__main__":
    sys.exit(main())
