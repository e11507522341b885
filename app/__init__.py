"""AttnScope's desktop window (PySide6 + pyqtgraph). Never imports torch."""
