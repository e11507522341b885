"""The training dashboard: start ``attnscope train`` (generated corpus or a TSV, a preset),
attach to a run folder, stop and resume; progress with ETA, how the run ended, and the
live curves. The process and the tailing live in ``TrainingRun``; this is only the view."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from attnscope.app import theme
from attnscope.app.training_curves import TrainingCurves
from attnscope.app.training_run import TrainingRun
from attnscope.app.widgets import scrolled
from attnscope.core.runlog import format_eta

STATE_COLORS = {"running": "finished", "attached": "finished", "finished": "finished",
                "stopped": "muted", "stalled": "warn", "ended": "warn", "failed": "forced", "killed": "forced", "idle": "muted"}


class TrainingDashboard(QWidget):
    def __init__(self, run: TrainingRun, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = run
        self.preset_box = QComboBox()
        self.preset_box.addItems(["tiny", "default", "base"])
        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText("generated EN→KO corpus (or a TSV / folder)")
        self.data_btn = QPushButton("TSV…")
        self.out_edit = QLineEdit("runs/app")
        self.steps_box = QSpinBox()
        self.steps_box.setRange(0, 10_000_000)
        self.steps_box.setSpecialValueText("preset")
        self.steps_box.setToolTip("optimiser steps (0 = the preset's)")
        self.start_btn, self.stop_btn, self.resume_btn, self.attach_btn = (
            QPushButton(s) for s in ("Start", "Stop", "Resume", "Attach…"))
        # Two rows, so the tab fits beside the side column of a 1000 px wide window.
        form = QHBoxLayout()
        for w in (QLabel("preset"), self.preset_box, QLabel("data"), self.data_edit, self.data_btn,
                  QLabel("run folder"), self.out_edit, QLabel("steps"), self.steps_box):
            form.addWidget(w)
        form.setStretchFactor(self.data_edit, 2)
        form.setStretchFactor(self.out_edit, 1)
        for edit in (self.data_edit, self.out_edit):
            edit.setMinimumWidth(60)
        self.progress = QProgressBar()
        self.progress.setFormat("step %v / %m")
        self.eta_label = QLabel("ETA —")
        self.status_label = QLabel("no run")
        self.snap_label = QLabel("snapshots: 0")
        prog = QHBoxLayout()
        for w in (self.start_btn, self.stop_btn, self.resume_btn, self.attach_btn):
            prog.addWidget(w)
        prog.addWidget(self.progress, 2)
        prog.addWidget(self.eta_label)
        prog.addWidget(self.snap_label)
        prog.addWidget(self.status_label, 3)
        self.curves = TrainingCurves()
        self.status_label.setMinimumWidth(40)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(form)
        lay.addLayout(prog)
        lay.addWidget(scrolled(self.curves), 1)
        self.start_btn.clicked.connect(self._on_start_clicked)
        self.stop_btn.clicked.connect(self.run.stop)
        self.resume_btn.clicked.connect(self.run.resume)
        self.attach_btn.clicked.connect(self._on_attach_clicked)
        self.data_btn.clicked.connect(self._on_data_clicked)
        run.records_added.connect(self._on_records_added)
        run.state_changed.connect(self._on_state_changed)
        run.snapshots_changed.connect(self._on_snapshots_changed)
        self._on_state_changed(run.state, run.message)

    # -- user -> run ---------------------------------------------------------------
    def _on_start_clicked(self) -> None:
        self.curves.clear_curves()
        try:
            self.run.start(self.out_edit.text().strip() or "runs/app", self.preset_box.currentText(),
                           self.data_edit.text().strip() or None, self.steps_box.value() or None)
        except RuntimeError as e:
            self._on_state_changed("failed", str(e))

    def _on_attach_clicked(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Attach to a run folder", self.out_edit.text())
        if path:
            self.attach(path)

    def attach(self, path: str | Path) -> None:
        self.curves.clear_curves()
        self.out_edit.setText(str(path))
        try:
            self.run.attach(path)
        except RuntimeError as e:
            self._on_state_changed(self.run.state, str(e))

    def _on_data_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Training pairs (TSV)", "", "TSV (*.tsv *.txt);;All (*)")
        if path:
            self.data_edit.setText(path)

    # -- run -> view -----------------------------------------------------------------
    def _on_records_added(self, _records: list) -> None:
        s = self.run.series
        self.curves.set_series(s)
        total = max(s.max_steps or s.step, 1)  # an old log names no target: it ran to its last step
        self.progress.setRange(0, total)
        self.progress.setValue(min(s.step, total))
        self.eta_label.setText(format_eta(s.eta_seconds()) if self.run.running else "ETA —")

    def _on_state_changed(self, state: str, message: str) -> None:
        color = getattr(theme.current(), STATE_COLORS.get(state, "text"))
        self.status_label.setText(f"<b style='color:{color}'>{html.escape(state)}</b> "
                                  f"{html.escape(message)}")
        self.status_label.setToolTip("\n".join(self.run.stderr_tail))
        busy = self.run.running
        self.start_btn.setEnabled(not busy)
        self.attach_btn.setEnabled(not busy)
        self.stop_btn.setEnabled(busy)
        self.resume_btn.setEnabled(not busy and bool(self.run.args) and state in ("stopped", "killed", "failed"))
        if not busy:
            self.eta_label.setText("ETA —")

    def _on_snapshots_changed(self, n: int) -> None:
        self.snap_label.setText(f"snapshots: {n}")

    def apply_theme(self) -> None:
        self.curves.apply_theme()


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import show_alone
    from attnscope.app.training_curves import fake_series

    def make() -> TrainingDashboard:
        run = TrainingRun()
        w = TrainingDashboard(run)
        run.series = fake_series()
        run.records_added.emit([])
        return w

    sys.exit(show_alone(make, (1200, 620)))
