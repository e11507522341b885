"""Register a Hangul-capable font with Qt so Korean pieces never render as boxes."""

from __future__ import annotations

import logging

from PySide6.QtGui import QFont, QFontDatabase, QFontInfo
from PySide6.QtWidgets import QApplication

from attnscope.export.fonts import CJKFontNotFound, find_cjk_font

log = logging.getLogger(__name__)
_family: str | None = None


def install_cjk_font(app: QApplication) -> str | None:
    """Load the CJK font into Qt and make it every family's fallback; returns its family.

    The application font keeps its Latin family first (DejaVu on a bare Linux box) with the
    CJK family after it, and the CJK family is also registered as a substitution for the
    common families, so widgets that pick their own font (pyqtgraph axes) still get Hangul.
    """
    global _family
    if _family is not None:
        return _family
    try:
        path = find_cjk_font()
    except CJKFontNotFound as exc:
        log.warning("%s", exc)
        return None
    font_id = QFontDatabase.addApplicationFont(str(path))
    families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
    if not families:
        log.warning("Qt could not load the CJK font %s", path)
        return None
    _family = families[0]
    base = app.font()
    # The family the default font really resolves to (e.g. "Sans Serif" -> "DejaVu Sans"):
    # naming it keeps Latin text in the platform font and only Hangul in the CJK font.
    first = QFontInfo(base).family()
    font = QFont(base)
    font.setFamilies([first, _family])
    app.setFont(font)
    for fam in {first, "DejaVu Sans", "Helvetica", "Arial", "Segoe UI", "DejaVu Sans Mono"}:
        if _family not in QFont.substitutes(fam):
            QFont.insertSubstitution(fam, _family)
    return _family


def cjk_family() -> str | None:
    """The registered CJK family, or None before :func:`install_cjk_font` (or without one)."""
    return _family
