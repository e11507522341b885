"""AttnScope's desktop window (PySide6 + pyqtgraph). Never imports torch."""

from app._none_refcount import protect_none

NONE_PINNED = protect_none()  # PySide6 6.12.0 on Python 3.11 leaks None refs; see module
