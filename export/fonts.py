"""Find a font that renders Hangul, for Qt and matplotlib alike (no Qt, no matplotlib here).

With only DejaVu installed, Korean pieces render as boxes. The ``koreanize-matplotlib``
package ships NanumGothic (SIL OFL / MIT packaging); we use its files without importing
the package, because importing it rewrites matplotlib's rcParams and imports distutils.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

ENV_VAR = "ATTNSCOPE_CJK_FONT"  # explicit font file, checked first

# Regular-weight files only: bold would make every label shout.
_PACKAGED = ("NanumGothic.ttf",)
_SYSTEM_NAMES = (
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKkr-Regular.otf",
    "NotoSansKR-Regular.otf",
    "NotoSansKR-Regular.ttf",
    "NanumGothic.ttf",
    "UnDotum.ttf",
    "malgun.ttf",
    "AppleSDGothicNeo.ttc",
    "AppleGothic.ttf",
    "wqy-microhei.ttc",
    "wqy-zenhei.ttc",
    "DroidSansFallbackFull.ttf",
)
_SYSTEM_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/System/Library/Fonts",
    "/Library/Fonts",
    "C:/Windows/Fonts",
)


class CJKFontNotFound(FileNotFoundError):
    """No font able to draw Hangul was found."""


def packaged_font_dir() -> Path | None:
    """The ``fonts`` folder of koreanize-matplotlib, located without importing it."""
    try:
        spec = importlib.util.find_spec("koreanize_matplotlib")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        d = Path(loc) / "fonts"
        if d.is_dir():
            return d
    return None


def _system_fonts(dirs: tuple[str, ...] = _SYSTEM_DIRS) -> Path | None:
    wanted = {n.lower(): i for i, n in enumerate(_SYSTEM_NAMES)}
    best: tuple[int, Path] | None = None
    for d in dirs:
        root = Path(d).expanduser()
        if not root.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                rank = wanted.get(f.lower())
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, Path(dirpath) / f)
    return best[1] if best else None


def find_cjk_font() -> Path:
    """Path of a TTF/OTF/TTC that covers Hangul.

    Order: ``$ATTNSCOPE_CJK_FONT``, NanumGothic from koreanize-matplotlib, then a system
    CJK font. Raises :class:`CJKFontNotFound` with what to install when there is none.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        if p.is_file():
            return p
        raise CJKFontNotFound(f"${ENV_VAR} points to {p}, which is not a file")
    d = packaged_font_dir()
    if d is not None:
        for name in _PACKAGED:
            if (d / name).is_file():
                return d / name
    system = _system_fonts()
    if system is not None:
        return system
    raise CJKFontNotFound(
        "No font that can draw Korean was found: install the Python package "
        "'koreanize-matplotlib' (ships NanumGothic) or a system CJK font such as "
        f"fonts-noto-cjk, or set ${ENV_VAR} to a .ttf/.otf file."
    )
