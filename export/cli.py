"""``attnscope figure``: render a view of one sentence (or runs, a bundle's heads, a file of
sentences, the training snapshots) to a figure or to the data behind it.

    attnscope figure "I love you." --view cross -o cross.pdf
    attnscope figure "I love you." --view head --kind dec --layer 2 --head 1 --width single -o h.svg
    attnscope figure "I love you." --view head --kind enc --head rollout --words -o rollout.pdf
    attnscope figure "I love you." --view probs --step 3 --temperatures 0.1 0.5 1 2 -o p.png --dpi 600
    attnscope figure "I love you." --view cross --force-target "나는 너를 사랑한다." -o forced.pdf
    attnscope figure "I love you." --view snapshots --kind cross --layer 3 --head 1 -o evolution.pdf
    attnscope figure --view curves --run runs/a runs/b -o curves.pdf        # runs overlaid
    attnscope figure --view aer -o aer.pdf                                   # also roles, entropy, distance
    attnscope figure --view corpus --sentences valid.txt --kind enc -o mean.pdf
    attnscope figure --batch sentences.txt --view grid --kind enc --format pdf -o figs/
    attnscope figure "I love you." --view trace -o trace.json      # the numbers behind it

Layers, heads and steps count from 1 here, as in the app and the figure titles (the data
dumps count from 0; docs/dumps.md). An option the chosen view does not use is refused.
Errors a user can make print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attnscope.core.bundle import BundleError
from attnscope.core.cliargs import (
    Parser,
    UsageError,
    float_in,
    forced_config,
    int_at_least,
    int_in,
    read_utf8_lines,
    report,
    require,
    warn,
)
from attnscope.export.data import KINDS, REDUCTIONS, TEMPERATURES
from attnscope.export.figures import DATA_FORMATS, FIGURE_FORMATS, REGISTRY, VIEWS, FigureError, render
from attnscope.export.fonts import CJKFontNotFound
from attnscope.export.style import BASE_PT, MIN_PT, SVG_FONTTYPES, WIDTHS, MissingGlyphs, Typography

if TYPE_CHECKING:
    from attnscope.core.inference.protocols import InspectionEngine

PROG = "attnscope figure"
FORMATS = tuple(s.lstrip(".") for s in FIGURE_FORMATS + DATA_FORMATS)
INSPECTION_VIEWS = tuple(v for v, spec in REGISTRY.items() if spec.source in ("inspection", "snapshots"))
# View-specific options (CLI name -> views that use it); giving one to another view is an error.
APPLIES = {
    "kind": ("head", "grid", "corpus", "snapshots"),
    "layer": ("head", "cross", "trace", "snapshots"),
    "head": ("head", "cross", "trace", "snapshots"),
    "step": ("probs",),
    "temperatures": ("probs",),
    "temperature": ("trace",),
    "top": ("probs", "trace"),
    "vmax": ("head", "grid", "cross", "trace", "corpus", "snapshots"),
    "runner_ups": ("beam",),
    "words": ("head", "grid", "cross", "snapshots"),
    "measure": ("head", "grid", "cross"),
    "run": ("curves",),
    "sentences": ("corpus",),
    "beam": INSPECTION_VIEWS + ("corpus",),
    "max_len": INSPECTION_VIEWS + ("corpus",),
    "force_target": tuple(v for v in INSPECTION_VIEWS if v not in ("beam",)),
    "text": INSPECTION_VIEWS,
}


def _width(s: str) -> str | float:
    if s in WIDTHS:
        return s
    try:
        w = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r}: use single, double or inches") from None
    if not 1.0 <= w <= 20.0:
        raise argparse.ArgumentTypeError(f"{s} in is outside 1-20 in")
    return w


def _head(s: str) -> int | str:
    if s in REDUCTIONS:
        return s
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r}: a head number or one of {', '.join(REDUCTIONS)}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v}: heads count from 1")
    return v


def _vmax(s: str) -> str:
    if s == "auto":
        return s
    v = float_in(0.0, 1.0, low_open=True)(s)
    return str(v)


def build_parser() -> argparse.ArgumentParser:
    views = "\n".join(f"  {name:<10} {spec.help}" for name, spec in REGISTRY.items())
    p = Parser(prog=PROG, description=__doc__.splitlines()[0] + "\n\nviews:\n" + views,
               epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("text", nargs="?", help="English source sentence (the views of one decode)")
    p.add_argument("--view", required=True, choices=VIEWS, help="what to draw (see views above)")
    p.add_argument("-o", "--out", required=True,
                   help=f"output file ({', '.join(FORMATS)}); a folder with --batch")
    p.add_argument("--bundle", help="model bundle (default: the shipped model); curves read its metrics.jsonl")
    p.add_argument("--snapshot", help="decode with this training snapshot (step-NNNNNN) of the bundle; "
                   "the heads views read its heads.json")
    g = p.add_argument_group("view options (each refused by the views that do not use it)")
    g.add_argument("--run", nargs="+", help="training run folders (or metrics.jsonl) for curves, overlaid")
    g.add_argument("--sentences", metavar="FILE", help="corpus: the file of sentences (one a line) to average")
    g.add_argument("--kind", choices=list(KINDS), help="attention kind (default: enc; cross for snapshots)")
    g.add_argument("--layer", type=int_at_least(1, " (layers count from 1)"), help="layer (default: the last)")
    g.add_argument("--head", type=_head, help="head from 1, or mean / max over heads, or rollout (enc, dec) "
                   "(default: 1 for head and snapshots, mean for cross and trace)")
    g.add_argument("--step", type=int_at_least(1, " (steps count from 1)"), help="decoding step for probs (default: 1)")
    g.add_argument("--temperatures", type=float_in(0.0, low_open=True), nargs="+",
                   help=f"temperatures for probs (default: {' '.join(map(str, TEMPERATURES))})")
    g.add_argument("--temperature", type=float_in(0.0, low_open=True), help="temperature for trace (default: 1)")
    g.add_argument("--top", type=int_at_least(1), help="candidates shown (default: 8 for probs, 3 for trace)")
    g.add_argument("--vmax", type=_vmax, help="top of the attention colour scale: a number in (0, 1] or 'auto' "
                   "(the data's maximum; default 1)")
    g.add_argument("--measure", choices=["weights", "norm"], help="attention weights (default) or norm-based "
                   "attention ||alpha f(x)|| (Kobayashi et al. 2020), scaled to its maximum")
    g.add_argument("--runner-ups", action="store_true", help="beam: also draw candidates never kept")
    g.add_argument("--words", action="store_true", help="token axes in words: pieces merged (attention to a "
                   "word summed over its pieces, from a word averaged)")
    g.add_argument("--force-target", metavar="TEXT", help="teacher-force this reference translation instead of "
                   "searching (snapshots: default the final model's translation)")
    d = p.add_argument_group("decoding")
    d.add_argument("--beam", type=int_at_least(1, " (1 = greedy)"), help="beam size (default: 4)")
    d.add_argument("--max-len", type=int_at_least(1), help="most generated pieces (default: 64)")
    t = p.add_argument_group("typography and files")
    t.add_argument("--width", type=_width, default="double",
                   help="single (3.5 in), double (7 in) or inches")
    t.add_argument("--font", default="DejaVu Sans", help="font family of Latin text (Hangul: the CJK font)")
    t.add_argument("--font-size", type=float_in(MIN_PT, 24.0), default=BASE_PT,
                   help=f"body text in points; tick labels 1 pt smaller, never under {MIN_PT:g}")
    t.add_argument("--no-title", action="store_true", help="leave titles out (the caption says it)")
    t.add_argument("--svg-fonttype", choices=SVG_FONTTYPES, default="path",
                   help="SVG text as glyph outlines (path: Hangul shows in every viewer) or as editable text")
    t.add_argument("--dpi", type=int_in(10, 2400), default=300, help="PNG resolution")
    t.add_argument("--batch", metavar="FILE",
                   help="one figure per line of FILE (sentences; run folders for curves) into folder -o")
    t.add_argument("--format", choices=FORMATS, default="pdf", help="file type with --batch")
    return p


def load_engine(bundle: str | None, snapshot: str | None = None) -> InspectionEngine:
    """The inference engine (tests replace this with a FakeEngine)."""
    from attnscope.core.inference.engine import Engine

    return Engine.load(bundle, snapshot=snapshot)


def _given(a: argparse.Namespace, name: str) -> bool:
    v = getattr(a, name)
    return v not in (None, False)


def check_applies(a: argparse.Namespace) -> None:
    """Refuse an option the chosen view would ignore (one line naming the views that use it)."""
    for name, views in APPLIES.items():
        if name == "text" or not _given(a, name) or a.view in views:
            continue
        flag = "--" + name.replace("_", "-")
        raise UsageError(f"{flag} does not apply to --view {a.view} (it is for {', '.join(views)})")
    if a.text is not None and a.view not in APPLIES["text"]:
        raise UsageError(f"--view {a.view} takes no TEXT (it draws "
                         f"{'runs' if a.view == 'curves' else 'a file of sentences' if a.view == 'corpus' else 'a bundle'})")


def _options(a: argparse.Namespace) -> dict[str, Any]:
    """CLI numbers (from 1) to API options (from 0), for the options this view uses."""
    opts: dict[str, Any] = {"words": a.words or None, "runner_ups": a.runner_ups or None, "top": a.top,
                            "temperature": a.temperature, "vmax": a.vmax, "measure": a.measure}
    if a.view in ("head", "grid", "corpus", "snapshots"):
        opts["kind"] = a.kind or ("cross" if a.view == "snapshots" else "enc")
    if a.step is not None:
        opts["step"] = a.step - 1
    if a.temperatures is not None:
        opts["temperatures"] = tuple(a.temperatures)
    if a.layer is not None:
        opts["layer"] = a.layer - 1
    if a.head is not None or a.view in ("cross", "trace"):
        opts["head"] = None if a.head is None else a.head if isinstance(a.head, str) else a.head - 1
    return {k: v for k, v in opts.items() if v is not None or k == "head"}


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


def _read_lines(path: str, what: str) -> list[tuple[int, str]]:
    src = Path(path)
    require(src.is_file(), f"{what} {src}: no such file")
    with src.open("rb") as f:
        lines = list(enumerate(read_utf8_lines(f, str(src)), 1))
    lines = [(n, ln.strip()) for n, ln in lines if ln.strip() and not ln.strip().startswith("#")]
    require(bool(lines), f"{what} {src}: no lines")
    return lines


class _Renderer:
    """Loads the engine once, then renders one sentence (or run) per call."""

    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.opts = _options(a)
        self.engine: InspectionEngine | None = None
        self.typo = Typography(font=a.font, size=a.font_size, title=not a.no_title, svg_fonttype=a.svg_fonttype)

    def _engine(self) -> InspectionEngine:
        if self.engine is None:
            self.engine = load_engine(self.a.bundle, self.a.snapshot)
        return self.engine

    def _config(self, engine: Any, reference: str | None) -> Any:
        from attnscope.core.config import DecodeConfig

        beam = self.a.beam or 4
        cfg = DecodeConfig(strategy="greedy" if beam == 1 else "beam", beam_size=beam, max_len=self.a.max_len or 64)
        if reference is None:
            return cfg
        return forced_config(engine, reference, cfg)

    def _inspect(self, engine: Any, text: str, reference: str | None = None) -> Any:
        ins = engine.inspect(text, self._config(engine, reference))
        if ins.truncated_input:
            warn(PROG, f"{text[:30]!r}… is longer than the model's positions and was cut to "
                 f"{len(ins.source_pieces) - 1} pieces")
        return ins

    def _render(self, source: Any, out: Path, bundle: Any = None, **extra: Any) -> dict[str, Any]:
        return render(source, self.a.view, out, width=self.a.width, dpi=self.a.dpi, typography=self.typo,
                      bundle=bundle, **self.opts, **extra)

    def __call__(self, subject: str | None, out: Path) -> None:
        a = self.a
        spec = REGISTRY[a.view]
        if spec.source == "run":
            from attnscope.core.bundle import DEFAULT_BUNDLE

            runs = [subject] if subject else (a.run or [a.bundle or str(DEFAULT_BUNDLE)])
            self._render(runs, out)
            return
        if spec.source == "heads":
            from attnscope.core.bundle import read_bundle

            b = read_bundle(a.bundle)
            b = b.snapshot(a.snapshot) if a.snapshot else b
            self._render(b.graphs if b.graphs is not None else b.path, out, bundle=b)
            return
        if spec.source == "corpus":
            engine = self._engine()
            lines = _read_lines(a.sentences, "--sentences") if a.sentences else None
            require(lines is not None, "--view corpus needs --sentences FILE (one English sentence a line)")
            inspections = [self._inspect(engine, line) for _, line in lines or []]
            self._render(inspections, out, bundle=getattr(engine, "bundle", None))
            return
        if not subject or not subject.strip():
            raise UsageError(f"--view {a.view} needs the TEXT to translate")
        if spec.source == "snapshots":
            self._snapshots(subject, out)
            return
        engine = self._engine()
        ins = self._inspect(engine, subject, a.force_target)
        data = self._render(ins, out, bundle=getattr(engine, "bundle", None), piece=engine.piece)
        if a.view == "cross" and data.get("alignment") is None:
            print(f"note: no gold alignment drawn: {data['alignment_note']}", file=sys.stderr)

    def _snapshots(self, text: str, out: Path) -> None:
        """Every snapshot teacher-forced on one target (the final model's translation unless
        --force-target), so all panels share their axes."""
        from attnscope.core.bundle import read_bundle

        final = self._engine()
        b = read_bundle(self.a.bundle)
        infos = b.snapshots()
        require(bool(infos), f"{b.path}: the bundle has no training snapshots (export with snapshots)")
        reference = self.a.force_target
        if reference is None:
            reference = self._inspect(final, text).translation
        series = []
        for info in infos:
            engine = load_engine(self.a.bundle, info.name)
            frac = info.meta.get("fraction")
            label = f"step {info.step}" + (f" ({100 * frac:.0f}%)" if isinstance(frac, int | float) else "")
            series.append((label, self._inspect(engine, text, reference)))
        self._render(series, out, bundle=b)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:40].rstrip("-") or "line"


def _batch(a: argparse.Namespace, draw: _Renderer) -> None:
    lines = _read_lines(a.batch, "--batch")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, (n, line) in enumerate(lines, 1):
        target = out / f"{i:03d}-{_slug(Path(line).name if a.view == 'curves' else line)}.{a.format}"
        try:
            draw(line, target)
        except (UsageError, FigureError) as e:
            raise UsageError(f"{a.batch}:{n}: {e}") from None
        print(target)


def main(argv: list[str] | None = None) -> int:
    """Run ``attnscope figure``; returns 0, or 2 after a one-line error."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        a = build_parser().parse_args(argv)
        check_applies(a)
        out = Path(a.out)
        _check_out(out, bool(a.batch))
        draw = _Renderer(a)
        if a.batch:
            require(not a.text, "give either TEXT or --batch FILE, not both")
            require(REGISTRY[a.view].source in ("inspection", "run"),
                    f"--batch renders one sentence or run a line; --view {a.view} takes none")
            _batch(a, draw)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            draw(a.text, out)
            print(out)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except (UsageError, FigureError, CJKFontNotFound, MissingGlyphs, BundleError, OSError) as e:
        return report(PROG, e)  # a mistake in the input, a missing or broken bundle, an unwritable path
    except ValueError as e:  # a bad option combination the decoder refuses (e.g. Typography)
        return report(PROG, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
