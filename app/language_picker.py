"""Source and target language of a multilingual model (NLLB-200, M2M100, mBART-50).

Two editable combo boxes that complete as the user types (NLLB has over 200 codes, so
"fra" or "Hang" finds them anywhere in the code). A code is taken only when it is one of
the model's, or the only one containing what was typed; anything else is put back.
Hidden for models without language codes.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QComboBox, QCompleter, QHBoxLayout, QLabel, QWidget


class LanguageBox(QComboBox):
    """An editable combo box whose text must end as one of its items."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMaxVisibleItems(20)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        completer = QCompleter(self.model(), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setCompleter(completer)
        self.edit = self.lineEdit()
        assert self.edit is not None  # editable
        self.edit.editingFinished.connect(self._on_editing_finished)

    def _on_editing_finished(self) -> None:
        typed = self.currentText().strip()
        i = self.findText(typed, Qt.MatchFlag.MatchFixedString)
        if i < 0:  # part of one code only ("deu", "Hang"): that code
            found = [j for j in range(self.count()) if typed.lower() in self.itemText(j).lower()]
            i = found[0] if typed and len(found) == 1 else -1
        if i < 0:  # not a code of this model: show the one in use again
            with QSignalBlocker(self):
                self.setEditText(self.itemText(self.currentIndex()))
            return
        if i != self.currentIndex():
            self.setCurrentIndex(i)
        else:
            with QSignalBlocker(self):
                self.setEditText(self.itemText(i))


class LanguagePicker(QWidget):
    languages_changed = Signal(str, str)  # source code, target code

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source, self.target = LanguageBox(), LanguageBox()
        self.source.setToolTip("Source language: its code frames the input sentence")
        self.target.setToolTip("Target language: its code is forced as the first generated piece")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        for text, box in (("Source language", self.source), ("→ target", self.target)):
            label = QLabel(text)
            label.setBuddy(box)
            lay.addWidget(label)
            lay.addWidget(box)
        lay.addStretch(1)
        for box in (self.source, self.target):
            box.currentIndexChanged.connect(self._on_index_changed)
        self.setVisible(False)

    def set_languages(self, codes: list[str], source: str | None, target: str | None) -> None:
        """Offer ``codes`` (none: hide the picker) with ``source``/``target`` chosen; no signal."""
        with QSignalBlocker(self.source), QSignalBlocker(self.target):
            for box, chosen in ((self.source, source), (self.target, target)):
                box.clear()
                box.addItems(sorted(codes))
                box.setCurrentIndex(box.findText(chosen) if chosen in codes else -1)
        self.setVisible(bool(codes))

    def chosen(self) -> tuple[str, str]:
        return self.source.currentText(), self.target.currentText()

    def _on_index_changed(self, _index: int) -> None:
        src, tgt = self.chosen()
        self.languages_changed.emit(src, tgt)


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import app_instance

    app = app_instance()
    w = LanguagePicker()
    w.set_languages(["eng_Latn", "deu_Latn", "fra_Latn", "kor_Hang"], "eng_Latn", "fra_Latn")
    w.languages_changed.connect(print)
    w.show()
    sys.exit(app.exec())
