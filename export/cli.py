"""``attnscope figure``: render a view of one sentence (or a run's training curves) to a file.

    attnscope figure "I love you." --view cross -o cross.pdf
    attnscope figure "I love you." --view head --kind dec --layer 2 --head 1 --width single -o h.svg
    attnscope figure "I love you." --view probs --step 3 --temperatures 0.1 0.5 1 2 -o p.png --dpi 600
    attnscope figure --view curves --run runs/default -o curves.pdf
    attnscope figure --batch sentences.txt --view grid --kind enc --format pdf -o figs/
    attnscope figure "I love you." --view trace -o trace.json      # the numbers behind it

Layers, heads and steps count from 1 here, as in the app and the figure titles.
Errors a user can make print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from attnscope.core.bundle import BundleError
from attnscope.export.data import KINDS, TEMPERATURES, VIEWS
from attnscope.export.figures import DATA_FORMATS, FIGURE_FORMATS, FigureError, render
from attnscope.export.fonts import CJKFontNotFound
from attnscope.export.style import WIDTHS, MissingGlyphs

PROG = "attnscope figure"
FORMATS = tuple(s.lstrip(".") for s in FIGURE_FORMATS + DATA_FORMATS)


class UsageError(Exception):
    """A mistake in the command line or its inputs; reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _width(s: str) -> str | float:
    if s in WIDTHS:
        return s
    try:
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r}: use single, double or inches") from None


def _head(s: str) -> int | None:
    if s == "mean":
        return None
    try:
        return int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r}: a head number or 'mean'") from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__.splitlines()[0],
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("text", nargs="?", help="English source sentence (not for --view curves)")
    p.add_argument("--view", required=True, choices=VIEWS)
    p.add_argument("-o", "--out", required=True,
                   help=f"output file ({', '.join(FORMATS)}); a folder with --batch")
    p.add_argument("--bundle", help="model bundle (default: the shipped model); curves read its metrics.jsonl")
    p.add_argument("--run", help="training run folder (or metrics.jsonl) for --view curves")
    p.add_argument("--kind", choices=list(KINDS), default="enc", help="attention kind for head and grid")
    p.add_argument("--layer", type=int, help="layer, from 1 (default: the last)")
    p.add_argument("--head", type=_head,
                   help="head, from 1, or 'mean' (default: 1 for head, mean for cross and trace)")
    p.add_argument("--step", type=int, default=1, help="decoding step for probs, from 1 (default 1)")
    p.add_argument("--temperatures", type=float, nargs="+", default=list(TEMPERATURES),
                   help="temperatures for probs (default: 0.1 0.5 1.0 2.0)")
    p.add_argument("--temperature", type=float, default=1.0, help="temperature for trace (default 1)")
    p.add_argument("--top", type=int, help="candidates shown (default: 8 for probs, 3 for trace)")
    p.add_argument("--vmax", help="top of the attention colour scale: a number in (0, 1] or 'auto' "
                   "(the data's maximum; default 1)")
    p.add_argument("--measure", choices=["weights", "norm"], default="weights",
                   help="head, grid, cross: attention weights or norm-based attention ||alpha f(x)||")
    p.add_argument("--runner-ups", action="store_true", help="beam: also draw candidates never kept")
    p.add_argument("--width", type=_width, default="double",
                   help="single (3.5 in), double (7 in) or inches (default double)")
    p.add_argument("--dpi", type=int, default=300, help="PNG resolution (default 300)")
    p.add_argument("--beam", type=int, default=4, help="beam size, 1 = greedy (default 4)")
    p.add_argument("--max-len", type=int, default=64, help="most generated pieces (default 64)")
    p.add_argument("--batch", metavar="FILE",
                   help="one figure per line of FILE (sentences; run folders for curves) into folder -o")
    p.add_argument("--format", choices=FORMATS, default="pdf", help="file type with --batch (default pdf)")
    return p


def load_engine(bundle: str | None) -> Any:
    """The inference engine (tests replace this with a FakeEngine)."""
    from attnscope.core.inference.engine import Engine

    return Engine.load(bundle)


def _options(a: argparse.Namespace) -> dict[str, Any]:
    """CLI numbers (from 1) to API options (from 0)."""
    for name in ("layer", "head", "step"):
        v = getattr(a, name)
        if v is not None and v < 1:
            raise UsageError(f"--{name} {v}: counts from 1")
    if a.dpi < 10 or a.dpi > 2400:
        raise UsageError(f"--dpi {a.dpi}: use 10-2400")
    if a.top is not None and a.top < 1:
        raise UsageError(f"--top {a.top}: must be at least 1")
    opts: dict[str, Any] = {"kind": "cross" if a.view == "cross" else a.kind, "runner_ups": a.runner_ups,
                            "step": a.step - 1, "temperatures": tuple(a.temperatures),
                            "temperature": a.temperature, "top": a.top, "vmax": a.vmax,
                            "measure": a.measure}
    if a.layer is not None:
        opts["layer"] = a.layer - 1
    if a.head is not None or a.view in ("cross", "trace"):
        opts["head"] = None if a.head is None else a.head - 1
    return opts


def _check_out(path: Path, batch: bool) -> None:
    if batch:
        if path.exists() and not path.is_dir():
            raise UsageError(f"-o {path}: with --batch, -o is a folder")
        if path.suffix.lower() in FIGURE_FORMATS + DATA_FORMATS:
            raise UsageError(f"-o {path}: with --batch, -o is a folder (choose the file type with --format)")
        return
    if path.suffix.lower() not in FIGURE_FORMATS + DATA_FORMATS:
        raise UsageError(f"-o {path}: unsupported extension {path.suffix or '(none)'!r}; "
                         f"use {', '.join('.' + f for f in FORMATS)}")
    if path.is_dir():
        raise UsageError(f"-o {path}: is a folder")


class _Renderer:
    """Loads the engine once, then renders one sentence (or run) per call."""

    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.opts = _options(a)
        self.engine: Any = None

    def __call__(self, subject: str | None, out: Path) -> None:
        a = self.a
        if a.view == "curves":
            if not subject:
                from attnscope.core.bundle import DEFAULT_BUNDLE

                subject = str(DEFAULT_BUNDLE)
            render(subject, "curves", out, width=a.width, dpi=a.dpi)
            return
        if not subject or not subject.strip():
            raise UsageError(f"--view {a.view} needs the TEXT to translate")
        if a.beam < 1 or a.max_len < 1:
            raise UsageError("--beam and --max-len must be at least 1")
        from attnscope.core.config import DecodeConfig

        if self.engine is None:
            self.engine = load_engine(a.bundle)
        cfg = DecodeConfig(strategy="greedy" if a.beam == 1 else "beam", beam_size=a.beam, max_len=a.max_len)
        ins = self.engine.inspect(subject, cfg)
        data = render(ins, a.view, out, width=a.width, dpi=a.dpi, piece=self.engine.piece, **self.opts)
        if a.view == "cross" and data.get("alignment") is None:
            print(f"note: no gold alignment drawn: {data['alignment_note']}", file=sys.stderr)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:40].rstrip("-") or "line"


def _batch(a: argparse.Namespace, draw: _Renderer) -> None:
    src = Path(a.batch)
    if not src.is_file():
        raise UsageError(f"--batch {src}: no such file")
    lines = [(n, ln.strip()) for n, ln in enumerate(src.read_text(encoding="utf-8").splitlines(), 1)]
    lines = [(n, ln) for n, ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise UsageError(f"--batch {src}: no lines to render")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, (n, line) in enumerate(lines, 1):
        target = out / f"{i:03d}-{_slug(Path(line).name if a.view == 'curves' else line)}.{a.format}"
        try:
            draw(line, target)
        except (UsageError, FigureError) as e:
            raise UsageError(f"{src}:{n}: {e}") from None
        print(target)


def main(argv: list[str] | None = None) -> int:
    """Run ``attnscope figure``; returns 0, or 2 after a one-line error."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        a = build_parser().parse_args(argv)
        out = Path(a.out)
        _check_out(out, bool(a.batch))
        draw = _Renderer(a)
        if a.batch:
            if a.text:
                raise UsageError("give either TEXT or --batch FILE, not both")
            _batch(a, draw)
        else:
            if a.view != "curves" and a.run:
                raise UsageError("--run is for --view curves")
            subject = (a.run or a.bundle or a.text) if a.view == "curves" else a.text
            out.parent.mkdir(parents=True, exist_ok=True)
            draw(subject, out)
            print(out)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except (UsageError, FigureError, CJKFontNotFound, MissingGlyphs) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except (BundleError, OSError) as e:  # a missing or broken bundle, an unwritable path
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
