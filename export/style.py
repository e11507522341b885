"""One publication style for every figure: sizes, colours, fonts, and the rc context.

Nothing here changes matplotlib's global rcParams: every figure is built and saved
inside :func:`figure_style`, an ``rc_context``. The CJK font from
:func:`export.fonts.find_cjk_font` is registered with the font manager (``addfont``)
and placed after DejaVu Sans in the family list, so Latin text and the ``▁`` word marker
come from DejaVu and Hangul falls back to the CJK font, in Agg, PDF and SVG alike.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from cycler import cycler
from matplotlib import font_manager, rc_context
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text

from attnscope.export.fonts import CJKFontNotFound, find_cjk_font

# Column widths in inches (two-column journals and proceedings: ~3.3-3.5 in and ~7 in).
WIDTHS = {"single": 3.5, "double": 7.0}
MAX_HEIGHT = 9.0  # inches; a page minus caption

# Okabe & Ito (2008), colour-blind safe; yellow (#F0E442) left out: unreadable on white.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#999999",
}
LINE_CYCLE = [OKABE_ITO[k] for k in ("black", "orange", "sky", "green", "blue", "vermillion", "purple")]
CMAP = "viridis"  # perceptually uniform and colour-blind safe; attention maps
CANDIDATE_CMAP = "Blues"  # probabilities in the step trace: one hue, light, distinct from attention
MASKED = "#dcdcdc"  # cells a query cannot attend to (the decoder's future)
HIGHLIGHT = OKABE_ITO["vermillion"]  # chosen piece, gold alignment, best path
BASE_PT = 8.0  # body text at print size (ACL and NeurIPS captions are 9-10 pt; figures 7-9)
MIN_PT = 7.0  # no text of any figure is smaller at print size
LATIN_FAMILY = "DejaVu Sans"  # matplotlib's own font: Latin, ▁ (U+2581), arrows
SVG_FONTTYPES = ("path", "text")


@dataclass(frozen=True)
class Typography:
    """How a figure's text is set; the defaults suit ACL and NeurIPS at print size."""

    font: str = LATIN_FAMILY  # Latin family; Hangul always falls back to the CJK font
    size: float = BASE_PT  # body text in points; tick labels and legends are 1 pt smaller, never < 7
    title: bool = True  # False: no titles (the caption says it)
    words: bool = False  # token axes show words (pieces merged) instead of pieces
    svg_fonttype: str = "path"  # "path": glyphs as outlines, Hangul shows in every viewer; "text": editable

    def __post_init__(self) -> None:
        if not (MIN_PT <= self.size <= 24):
            raise ValueError(f"font size {self.size:g} pt: use {MIN_PT:g}-24 pt (smaller is unreadable in print)")
        if self.svg_fonttype not in SVG_FONTTYPES:
            raise ValueError(f"svg font type {self.svg_fonttype!r}: use 'path' or 'text'")

    @property
    def small(self) -> float:
        """Tick labels, legends, colour bars: one point under the body, never under 7 pt."""
        return max(MIN_PT, self.size - 1)


def check_font(family: str) -> None:
    """Raise ValueError unless matplotlib can find ``family`` (no silent fallback)."""
    if family == LATIN_FAMILY:
        return
    try:
        font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    except ValueError:
        raise ValueError(f"font {family!r} is not installed (matplotlib cannot find it)") from None


_LOCK = threading.RLock()  # rcParams are process-global: one figure at a time


class MissingGlyphs(ValueError):
    """A label holds characters that no available font can draw (they would be boxes)."""


@lru_cache(maxsize=1)
def cjk_family() -> tuple[str | None, str | None]:
    """(family name, file) of the registered CJK font, or (None, error message)."""
    try:
        path = find_cjk_font()
    except CJKFontNotFound as e:
        return None, str(e)
    font_manager.fontManager.addfont(str(path))  # adds once per process; no rcParams change
    return font_manager.FontProperties(fname=str(path)).get_name(), str(path)


@lru_cache(maxsize=4)
def _charmap(path: str) -> frozenset[int]:
    return frozenset(FT2Font(path).get_charmap())


def _font_files() -> list[str]:
    files = [str(font_manager.findfont(font_manager.FontProperties(family=LATIN_FAMILY)))]
    family, path = cjk_family()
    if family is not None and path is not None:
        files.append(path)
    return files


def missing_glyphs(text: str) -> set[str]:
    """Characters of ``text`` that neither DejaVu Sans nor the CJK font can draw."""
    maps = [_charmap(f) for f in _font_files()]
    return {c for c in text if not c.isspace() and not any(ord(c) in m for m in maps)}


def check_glyphs(fig: Figure) -> None:
    """Raise rather than draw boxes: CJKFontNotFound without a CJK font, else MissingGlyphs."""
    missing: set[str] = set()
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text():
            missing |= missing_glyphs(t.get_text())
    if not missing:
        return
    chars = "".join(sorted(missing))
    family, info = cjk_family()
    if family is None:
        raise CJKFontNotFound(f"cannot draw {chars!r}: {info}")
    raise MissingGlyphs(f"no installed font can draw {chars!r} (DejaVu Sans and {family} lack them)")


def rc(dpi: float = 300, typo: Typography | None = None) -> dict[str, Any]:
    """The rcParams every figure is drawn and saved with."""
    t = typo or Typography()
    family, _ = cjk_family()
    families = [t.font] + ([LATIN_FAMILY] if t.font != LATIN_FAMILY else []) + ([family] if family else [])
    return {
        "font.family": families,
        "font.size": t.size,
        "axes.titlesize": t.size,
        "axes.labelsize": t.size,
        "figure.titlesize": t.size,
        "figure.labelsize": t.size,
        "xtick.labelsize": t.small,
        "ytick.labelsize": t.small,
        "legend.fontsize": t.small,
        "legend.title_fontsize": t.small,
        "legend.frameon": False,
        "axes.linewidth": 0.6,
        "axes.titlepad": 3.0,
        "axes.labelpad": 2.0,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": cycler(color=LINE_CYCLE),
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "xtick.major.size": 2.5,
        "ytick.major.size": 2.5,
        "xtick.major.pad": 1.5,
        "ytick.major.pad": 1.5,
        "lines.linewidth": 1.0,
        "image.cmap": CMAP,
        "image.interpolation": "nearest",
        "text.parse_math": False,  # pieces may hold "$"; never mathtext
        "pdf.fonttype": 42,  # TrueType (Type 42), embedded, text stays selectable
        "ps.fonttype": 42,
        # "path" draws glyphs as outlines: Hangul shows even where no Korean font is installed;
        # "none" keeps <text> (editable in Inkscape/Illustrator) but needs the font to show.
        "svg.fonttype": "path" if t.svg_fonttype == "path" else "none",
        "svg.hashsalt": "attnscope",  # stable ids: identical input gives identical SVG
        "savefig.dpi": dpi,
        "figure.dpi": 100,
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
    }


@contextmanager
def figure_style(dpi: float = 300, typo: Typography | None = None) -> Iterator[None]:
    """Draw and save inside this; rcParams are restored on exit. Thread-safe (serialised),
    so the app may export from a worker thread."""
    subset_log = logging.getLogger("fontTools")
    with _LOCK:
        level = subset_log.level
        subset_log.setLevel(logging.ERROR)  # "TSI0 NOT subset" chatter while embedding NanumGothic
        try:
            with rc_context(cast(Any, rc(dpi, typo))):
                yield
        finally:
            subset_log.setLevel(level)


def width_inches(width: str | float) -> float:
    """'single' (3.5 in), 'double' (7 in) or a number of inches."""
    if isinstance(width, str):
        if width not in WIDTHS:
            raise ValueError(f"width {width!r}: use 'single', 'double' or inches")
        return WIDTHS[width]
    w = float(width)
    if not 1.0 <= w <= 20.0:
        raise ValueError(f"width {w} in is out of range (1-20 in)")
    return w


def text_width_in(label: str, pt: float) -> float:
    """Rough printed width of a label in inches (Hangul and CJK glyphs are about 1 em)."""
    ems = sum(1.0 if ord(c) >= 0x1100 and c != "▁" else 0.35 if c == " " else 0.62 for c in label)
    return ems * pt / 72.0


def save_kwargs(path: Path, dpi: float) -> dict[str, Any]:
    """Format, dpi and reproducible metadata (no creation dates) for ``savefig``."""
    fmt = path.suffix.lower().lstrip(".")
    metadata: dict[str, dict[str, Any]] = {"pdf": {"Creator": "AttnScope", "CreationDate": None},
                                           "svg": {"Creator": "AttnScope", "Date": None},
                                           "png": {"Software": "AttnScope"}}
    return {"format": fmt, "dpi": dpi, "metadata": metadata[fmt]}
