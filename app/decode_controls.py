"""Decoding controls (strategy, beam, length penalty, temperature, top-k/p, seed, max length).

Every change emits ``config_changed`` at once with a new DecodeConfig; fields that the
chosen strategy ignores are greyed out rather than hidden, so the row never jumps.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from attnscope.core.config import DecodeConfig


class DecodeControls(QWidget):
    config_changed = Signal(object)  # DecodeConfig

    def __init__(self, config: DecodeConfig | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._config = config or DecodeConfig()
        self.strategy = QComboBox()
        for s in ("greedy", "beam", "sample"):
            self.strategy.addItem(s, s)
        self.beam = self._spin(1, 16, "Hypotheses kept per step")
        self.length_penalty = self._dspin(0.0, 3.0, 0.1, "GNMT α: score = log p / ((5+n)/6)^α")
        self.temperature = self._dspin(0.05, 5.0, 0.05, "Sampling temperature")
        self.top_k = self._spin(0, 1000, "Sample among the k likeliest pieces (0 = off)")
        self.top_p = self._dspin(0.01, 1.0, 0.05, "Nucleus mass (1.0 = off)")
        self.seed = self._spin(0, 2**31 - 1, "Sampling seed")
        self.max_len = self._spin(1, 512, "Most generated pieces, EOS included")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        for label, w in (("Strategy", self.strategy), ("Beam", self.beam),
                         ("Len. penalty", self.length_penalty), ("T", self.temperature),
                         ("top-k", self.top_k), ("top-p", self.top_p), ("Seed", self.seed),
                         ("Max len", self.max_len)):
            lab = QLabel(label)
            lab.setBuddy(w)
            lay.addWidget(lab)
            lay.addWidget(w)
            lay.addSpacing(6)
        lay.addStretch(1)
        self.set_config(self._config)
        self.strategy.currentIndexChanged.connect(self._on_value_changed)
        for w in (self.beam, self.length_penalty, self.temperature, self.top_k, self.top_p,
                  self.seed, self.max_len):
            w.valueChanged.connect(self._on_value_changed)

    def _spin(self, lo: int, hi: int, tip: str) -> QSpinBox:
        w = QSpinBox()
        w.setRange(lo, hi)
        w.setToolTip(tip)
        w.setKeyboardTracking(True)
        return w

    def _dspin(self, lo: float, hi: float, step: float, tip: str) -> QDoubleSpinBox:
        w = QDoubleSpinBox()
        w.setRange(lo, hi)
        w.setSingleStep(step)
        w.setDecimals(2)
        w.setToolTip(tip)
        return w

    def set_temperature(self, t: float) -> None:
        """Decode with temperature ``t`` (as typing it in the T box does)."""
        self.temperature.setValue(t)

    def config(self) -> DecodeConfig:
        return self._config

    def set_config(self, cfg: DecodeConfig) -> None:
        """Show ``cfg`` without emitting (the model pushing into the view)."""
        self._config = cfg
        widgets = (self.strategy, self.beam, self.length_penalty, self.temperature,
                   self.top_k, self.top_p, self.seed, self.max_len)
        blockers = [QSignalBlocker(w) for w in widgets]
        self.strategy.setCurrentIndex(max(0, self.strategy.findData(cfg.strategy)))
        self.beam.setValue(cfg.beam_size)
        self.length_penalty.setValue(cfg.length_penalty)
        self.temperature.setValue(cfg.temperature)
        self.top_k.setValue(cfg.top_k)
        self.top_p.setValue(cfg.top_p)
        self.seed.setValue(cfg.seed)
        self.max_len.setValue(cfg.max_len)
        del blockers
        self._update_enabled()

    def _update_enabled(self) -> None:
        s = self._config.strategy
        self.beam.setEnabled(s == "beam")
        self.length_penalty.setEnabled(s == "beam")  # only beam search ranks by length
        for w in (self.temperature, self.top_k, self.top_p, self.seed):
            w.setEnabled(s == "sample")

    def _on_value_changed(self, *_args) -> None:
        self._config = self._config.replace(
            strategy=self.strategy.currentData(), beam_size=self.beam.value(),
            length_penalty=round(self.length_penalty.value(), 4),
            temperature=round(self.temperature.value(), 4), top_k=self.top_k.value(),
            top_p=round(self.top_p.value(), 4), seed=self.seed.value(),
            max_len=self.max_len.value())
        self._update_enabled()
        self.config_changed.emit(self._config)


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import app_instance

    app = app_instance()
    w = DecodeControls()
    w.config_changed.connect(print)
    w.show()
    if "--shot" in sys.argv:
        app.processEvents()
        w.grab().save(sys.argv[sys.argv.index("--shot") + 1])
        w.deleteLater()
        sys.exit(0)
    sys.exit(app.exec())
