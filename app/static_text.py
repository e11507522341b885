"""Prepared text for labels drawn on every repaint.

``QPainter.drawText`` lays its string out again on each call (about 14 µs a label here);
a prepared ``QStaticText`` draws in about 3 µs and knows its own size. Views that paint
many short labels per keystroke (axes, the beam tree, value labels) share this cache.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QStaticText, QTransform

_MAX = 4096  # pieces, scores and tick labels seen recently; cleared when it fills
_cache: dict[tuple[str, str], QStaticText] = {}
_IDENTITY = QTransform()


def static_text(text: str, font: QFont, font_key: str | None = None) -> QStaticText:
    """A prepared QStaticText for ``text`` in ``font`` (draw it with the same font set).

    Painters drawing many labels pass ``font.key()`` once as ``font_key``.
    """
    key = (text, font_key if font_key is not None else font.key())
    st = _cache.get(key)
    if st is None:
        if len(_cache) >= _MAX:
            _cache.clear()
        st = QStaticText(text)
        st.setTextFormat(Qt.TextFormat.PlainText)
        st.setPerformanceHint(QStaticText.PerformanceHint.AggressiveCaching)
        st.prepare(_IDENTITY, font)
        _cache[key] = st
    return st
