"""The AttnScope main window: docks around the attention grid, menus, status bar, settings."""

from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QEvent, QSettings, QSignalBlocker, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCursor, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from attnscope.app import theme
from attnscope.app.attention_grid import AttentionGrid
from attnscope.app.beam_tree import BeamTree
from attnscope.app.controller import Controller
from attnscope.app.decode_controls import DecodeControls
from attnscope.app.evolution_view import EvolutionView
from attnscope.app.export_view import FILTERS, VIEW_OF_DOCK, export_dock
from attnscope.app.first_run import FirstRunHint
from attnscope.app.head_roles_view import load_heads
from attnscope.app.language_picker import LanguagePicker
from attnscope.app.lazy import Deferred, LazyView
from attnscope.app.model_import import ImportProblem, ModelImport, display_name, folder_kind
from attnscope.app.prob_bars import ProbBars
from attnscope.app.sentence_panel import SentencePanel
from attnscope.app.settings_store import SettingsStore
from attnscope.app.state import AppState
from attnscope.app.step_scrubber import StepScrubber
from attnscope.app.training_dashboard import TrainingDashboard
from attnscope.app.training_run import TrainingRun, python_for_training
from attnscope.core.config import DecodeConfig
from attnscope.core.inference.familiarity import load_piece_counts
from attnscope.core.inference.protocols import InspectionEngine

if TYPE_CHECKING:
    from attnscope.app.attention_detail import AttentionDetail
    from attnscope.app.data_flow import DataFlow
    from attnscope.app.gradient_flow import GradientFlow
    from attnscope.app.head_roles_view import HeadRolesView
    from attnscope.core.inference.snapshots import SnapshotSet


def example_sentences() -> list[str]:
    """English sentences the shipped model's grammar covers (its required pairs)."""
    from attnscope.core.data import required_pairs

    return list(dict.fromkeys(p.en for p in required_pairs() if p.en[0].isupper()))


# Smallest readable size of each dock's content (width, height) in pixels.
MIN_DOCK = {"Beam tree": (280, 150), "Next-piece probabilities": (280, 150), "Step scrubber": (300, 130)}
RIGHT_PX, BOTTOM_PX = (300, 520), (170, 360)  # bounds of the side column width, bottom height


def deferred_panel(name: str) -> property:
    """The panel of a background tab, built when first asked for (or first raised)."""
    return property(lambda self: self.deferred[name].panel(), doc=f"The {name} panel.")


class MainWindow(QMainWindow):
    def __init__(self, engine: InspectionEngine, settings: QSettings | None = None, loader=None) -> None:
        super().__init__()
        self.setWindowTitle("AttnScope")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        # The right column (tree, bars) runs full height; the bottom tabs sit under the grid.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.TopDockWidgetArea)
        self.state = AppState(self)
        kw = {"loader": loader} if loader is not None else {}
        self.controller = Controller(self.state, engine, parent=self, **kw)
        self.store = SettingsStore(settings or QSettings())
        # -- views ---------------------------------------------------------------
        self.sentence = SentencePanel(self.state)
        self.controls = DecodeControls(self.store.decode_config())
        self.languages = LanguagePicker()
        self.importer = ModelImport(python=python_for_training(), parent=self)
        # The bundle the controller's background load opens and what Open recent lists for
        # it; None while it switches precision (8-bit) instead.
        self._opening: tuple[str, str] | None = None
        self._defaults_of: Path | None = None  # the bundle whose generation defaults are in use
        self._own_config: DecodeConfig | None = None  # the user's settings while an imported model decodes
        self._import_source = ""  # the Hugging Face folder being (or last) imported
        self.grid = AttentionGrid(self.state)
        self.tree = BeamTree(self.state)
        self.bars = ProbBars(self.state)
        self.scrubber = StepScrubber(self.state)
        # Background tabs: built when first raised (or first asked for), not at start-up.
        self.deferred: dict[str, Deferred] = {
            "Head detail": Deferred(self._make_detail),
            "Data flow": Deferred(self._make_flow),
            "Head statistics": Deferred(self._make_stats),
            "Head roles": Deferred(self._make_roles),
            "Gradient flow": Deferred(self._make_gradients),
            "Contributions": Deferred(self._make_contributions),
        }
        self.evolution = EvolutionView(self.state)
        self.training = TrainingRun(self, python=python_for_training())
        self.dashboard = TrainingDashboard(self.training)
        self.eager_views = (self.sentence, self.grid, self.tree, self.bars, self.scrubber,
                            self.evolution, self.dashboard)
        top = QWidget()
        lay = QVBoxLayout(top)
        lay.setContentsMargins(0, 0, 4, 4)
        self.hint = FirstRunHint()
        self.hint.setVisible(not self.store.s.value("hint_dismissed", False, type=bool))
        self.hint.dismissed.connect(self._on_hint_dismissed)
        lay.addWidget(self.hint)
        lay.addWidget(self.sentence)
        lay.addWidget(self.controls)
        lay.addWidget(self.languages)
        self.setCentralWidget(self.grid)
        self.docks: dict[str, QDockWidget] = {}
        self._dock("Sentence", top, Qt.DockWidgetArea.TopDockWidgetArea)
        self._dock("Beam tree", self.tree, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Next-piece probabilities", self.bars, Qt.DockWidgetArea.RightDockWidgetArea)
        d = self.deferred
        for name, w in (("Step scrubber", self.scrubber), ("Head detail", d["Head detail"]),
                        ("Data flow", d["Data flow"]), ("Head statistics", d["Head statistics"]),
                        ("Head roles", d["Head roles"]), ("Evolution", self.evolution),
                        ("Training", self.dashboard), ("Gradient flow", d["Gradient flow"]),
                        ("Contributions", d["Contributions"])):
            self._dock(name, w, Qt.DockWidgetArea.BottomDockWidgetArea)
        for name in ("Head detail", "Data flow", "Head statistics", "Head roles", "Evolution",
                     "Training", "Gradient flow", "Contributions"):
            self.tabifyDockWidget(self.docks["Step scrubber"], self.docks[name])
        self.docks["Step scrubber"].raise_()
        self.resize(1280, 800)
        self.resizeDocks([self.docks["Beam tree"]], [440], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["Beam tree"], self.docks["Next-piece probabilities"]],
                         [380, 250], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["Step scrubber"]], [230], Qt.Orientation.Vertical)
        self._default_state = self.saveState()
        # The side column and the bottom tabs keep their share of the window as it is
        # resized (Qt gives all new room to the centre); dragging a divider sets the share.
        self.right_share, self.bottom_share = 440 / 1280, 230 / 800
        self._fitted_size: QSize | None = None
        self._fitted_docks = (0, 0)
        self._fitting = False
        self._fit_timer = QTimer(self, singleShot=True, interval=0)
        self._fit_timer.timeout.connect(self.fit_docks)
        # -- status bar ----------------------------------------------------------
        self.provider_label, self.bundle_label, self.time_label = QLabel(), QLabel(), QLabel()
        # A fixed size: the timing changes every keystroke and must not relayout the window.
        fm = self.time_label.fontMetrics()
        self.time_label.setFixedSize(fm.horizontalAdvance("Inference 9999.9 ms · drawn 99999.9 ms") + 8,
                                     fm.height() + 4)
        # A Hugging Face folder being imported: how far, and a way to stop it.
        self.import_bar, self.import_cancel = QProgressBar(), QToolButton()
        self.import_bar.setRange(0, 1000)
        self.import_bar.setMinimumWidth(fm.horizontalAdvance("Importing nllb-200-distilled-600M: "
                                                             "exporting the ONNX graphs · 100%") + 24)
        self.import_cancel.setText("Cancel")
        self.import_cancel.setToolTip("Stop the import; the model open now stays")
        for bit in (self.import_bar, self.import_cancel):
            bit.setVisible(False)
            self.statusBar().addPermanentWidget(bit)
        for label in (self.bundle_label, self.provider_label, self.time_label):
            self.statusBar().addPermanentWidget(label)
        self._build_menus()
        # -- wiring --------------------------------------------------------------
        self.sentence.text_changed.connect(self.controller.set_text)
        self.sentence.revert_requested.connect(self.controller.revert)
        self.controls.config_changed.connect(self._on_config_changed)
        self.bars.force_requested.connect(self.controller.force)
        self.bars.apply_requested.connect(self.controls.set_temperature)
        self.state.attention_selected.connect(self._on_attention_selected)
        self.grid.cmap_box.currentIndexChanged.connect(self._on_cmap_changed)
        self.controller.forced_changed.connect(self.sentence.set_forced)
        self.controller.forced_changed.connect(self._on_forced_changed)
        self.controller.timing.connect(self._on_timing)
        self.controller.error.connect(self._on_engine_error)
        self.controller.engine_changed.connect(self._on_engine_changed)
        self.controller.loaded.connect(self._on_background_load)
        self.training.records_added.connect(self._on_training_records)
        self.languages.languages_changed.connect(self._on_languages_changed)
        self.importer.progress.connect(self._on_import_progress)
        self.importer.finished.connect(self._on_import_finished)
        self.importer.failed.connect(self._on_import_failed)
        self.importer.cancelled.connect(self._on_import_cancelled)
        self.import_cancel.clicked.connect(self._on_import_cancel_clicked)
        self.controller.config = self.controls.config()
        self.state.display_temperature = self.controls.config().temperature
        self._no_snapshots_text = self.evolution.empty_label.text()
        self.bars.set_decode_temperature(self.controls.config().temperature)
        self._on_engine_changed(engine)
        self.store.restore_window(self)
        self.grid.set_options(**self.store.grid_options())

    # -- panels built on first use -------------------------------------------------
    def _make_detail(self) -> QWidget:
        from attnscope.app.attention_detail import AttentionDetail

        panel = AttentionDetail(self.state)
        panel.set_colormap(self.grid.cmap_name)
        panel.detach_requested.connect(self.detach_detail)
        return panel

    def _make_flow(self) -> QWidget:
        from attnscope.app.data_flow import DataFlow

        return DataFlow(self.state)

    def _make_stats(self) -> QWidget:
        from attnscope.app.head_stats_view import HeadStatsView

        return HeadStatsView(self.state)

    def _make_roles(self) -> QWidget:
        from attnscope.app.head_roles_view import HeadRolesView

        return HeadRolesView(self.state)

    def _make_gradients(self) -> QWidget:
        from attnscope.app.gradient_flow import GradientFlow

        panel = GradientFlow()
        panel.set_series(self.training.series)
        return panel

    def _make_contributions(self) -> QWidget:
        from attnscope.app.contributions_view import ContributionsView

        return ContributionsView(self.state)

    detail = deferred_panel("Head detail")
    flow = deferred_panel("Data flow")
    stats = deferred_panel("Head statistics")
    roles = deferred_panel("Head roles")
    gradients = deferred_panel("Gradient flow")
    contributions = deferred_panel("Contributions")

    @property
    def views(self) -> tuple:
        """Every panel built so far."""
        return self.eager_views + tuple(d.panel() for d in self.deferred.values() if d.built)

    def _dock(self, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(name, self)
        size = MIN_DOCK.get(name)
        if size is not None:  # a dock never shrinks below what its view can draw
            widget.setMinimumSize(*size)
        dock.setObjectName(name.replace(" ", "_").lower())
        dock.setWidget(widget)
        if isinstance(widget, LazyView | Deferred):  # a raised dock tab repaints what it missed
            dock.visibilityChanged.connect(
                lambda shown, w=widget: shown and QTimer.singleShot(0, w.catch_up))
        self.addDockWidget(area, dock)
        self.docks[name] = dock
        return dock

    # -- menus and shortcuts -------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        # triggered passes Qt's `checked` flag; the slot takes no argument and never sees it.
        act.triggered.connect(lambda *_flag: slot())
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action(file_menu, "&Open model…", self._on_open_triggered,
                                        QKeySequence.StandardKey.Open)
        self.open_action.setToolTip("A model bundle folder, or a Hugging Face model folder (imported once)")
        self.open_zip_action = self._action(file_menu, "Open bundle .&zip…", self._on_open_zip_triggered,
                                            "Ctrl+Shift+O")
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        self.export_action = self._action(file_menu, "&Export the view under the cursor…",
                                          self._on_export_under_cursor, "Ctrl+E")
        self.export_menu = file_menu.addMenu("Export &view")
        self.export_actions = {
            name: self._action(self.export_menu, f"{name} ({view})…", partial(self.export_view, name))
            for name, view in VIEW_OF_DOCK.items()}
        self._action(file_menu, "Save &screenshot…", self._on_screenshot_triggered,
                     "Ctrl+Shift+S")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        decode = self.menuBar().addMenu("&Decode")
        # Esc, not Ctrl+Z: in the sentence field Ctrl+Z undoes typing, as everywhere else.
        self.revert_action = self._action(decode, "&Back to the model's choice",
                                          self.controller.revert, "Esc")
        self.revert_action.setEnabled(False)
        self._action(decode, "&Previous step", lambda: self.state.set_step(self.state.step - 1),
                     "Alt+Left")
        self._action(decode, "&Next step", lambda: self.state.set_step(self.state.step + 1),
                     "Alt+Right")
        self._action(decode, "Re-&run", self.controller.refresh, "F5")
        self.int8_action = self._action(decode, "&8-bit weights (faster, approximate)",
                                        self._on_int8_triggered)
        self.int8_action.setCheckable(True)
        self._action(decode, "Focus the &input", self._on_focus_input, "Ctrl+L")
        view = self.menuBar().addMenu("&View")
        for i, (kind, label) in enumerate((("encoder", "&Encoder"), ("decoder", "&Decoder"),
                                           ("cross", "&Cross"))):
            self._action(view, f"{label} attention", partial(self.grid.set_options, kind=kind),
                         f"Ctrl+{i + 1}")
        view.addSeparator()
        group = QActionGroup(self)
        self.theme_actions = {}
        for name in theme.THEMES:
            act = self._action(view, f"{name.title()} theme", partial(self.set_theme, name))
            act.setCheckable(True)
            group.addAction(act)
            self.theme_actions[name] = act
        self._action(view, "Toggle &theme", self._on_toggle_theme, "Ctrl+T")
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        self._action(view, "Reset &layout", self._on_reset_layout)
        self._action(view, "Head &detail in its own window", self.detach_detail, "Ctrl+D")
        view.addSeparator()
        self.raw_action = self._action(view, "&Raw byte pieces", self.sentence.raw.toggle)
        self.raw_action.setCheckable(True)
        self.sentence.raw.toggled.connect(self.raw_action.setChecked)
        self.theme_actions[theme.current().name].setChecked(True)
        self.examples_menu = self.menuBar().addMenu("E&xamples")
        for text in example_sentences():
            self._action(self.examples_menu, text, partial(self.sentence.set_text, text))
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Getting started", self._on_show_hint, "F1")
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.store.recent_bundles():
            self._action(self.recent_menu, path, partial(self.open_model, path))
        self.recent_menu.setEnabled(bool(self.store.recent_bundles()))

    # -- bundles -----------------------------------------------------------------
    def open_bundle(self, path: str | Path, recent: str | Path | None = None, wait: bool = True) -> bool:
        """Load a bundle; on failure show why and keep the model that was loaded.
        ``recent``: what Open recent lists for it (an imported bundle: its source folder).

        ``wait=False`` (what the menus, a drop and a finished import do) loads it on a worker
        thread: an NLLB-size bundle takes tens of seconds to open, and the open model keeps
        translating meanwhile. True then means the load has started."""
        if not wait:
            self._opening = (str(path), str(recent or path))
            self.statusBar().showMessage(f"Opening {Path(path).name}…")
            self.int8_action.setEnabled(False)
            self.controller.load_in_background(path)
            return True
        try:
            self.controller.load_bundle(path)
        except Exception as exc:  # noqa: BLE001 - BundleError once core.bundle exists
            QMessageBox.critical(
                self, "Could not load the model bundle",
                f"{path}\n\n{type(exc).__name__}: {exc}\n\n"
                "The previously loaded model is still in use.")
            return False
        self.store.add_recent(str(recent or path))
        self._fill_recent()
        return True

    def open_model(self, path: str | Path) -> bool:
        """A bundle (folder or .zip) opens at once; a Hugging Face model folder is imported
        in the background (or found in the cache) and opens when ready. False: refused."""
        try:
            kind = folder_kind(path)
        except ImportProblem as e:
            self._show_import_error(str(path), str(e))
            return False
        if kind == "bundle":
            return self.open_bundle(path, wait=False)
        self.importer.cancel()  # the newest request wins
        self._import_source = str(path)
        self.import_bar.setValue(0)
        self.import_bar.setVisible(True)
        self.import_cancel.setVisible(True)
        self.importer.start(path)
        return True

    def _on_open_triggered(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open model: a bundle folder or a Hugging Face model folder")
        if path:
            self.open_model(path)

    # -- importing a Hugging Face folder ---------------------------------------------
    def _on_import_progress(self, fraction: float, what: str) -> None:
        name = Path(self._import_source).name
        self.import_bar.setValue(int(1000 * fraction))
        self.import_bar.setFormat(f"Importing {name}: {what} · {int(100 * fraction)}%")

    def _end_import(self) -> None:
        self.import_bar.setVisible(False)
        self.import_cancel.setVisible(False)

    def _on_import_finished(self, bundle: str) -> None:
        self._end_import()
        self.open_bundle(bundle, recent=self._import_source, wait=False)

    def _on_import_failed(self, line: str) -> None:
        self._end_import()
        self._show_import_error(self._import_source, line)

    def _on_import_cancelled(self) -> None:
        self._end_import()
        self.statusBar().showMessage(f"Import of {self._import_source} cancelled; nothing was cached", 8000)

    def _on_import_cancel_clicked(self) -> None:
        self.importer.cancel()

    def _show_import_error(self, source: str, line: str) -> None:
        """One line in the status bar and a message box that does not block the window."""
        self.statusBar().showMessage(f"Could not open {source}: {line}", 30_000)
        self.import_error = QMessageBox(QMessageBox.Icon.Warning, "Could not open the model",
                                        f"{source}\n\n{line}\n\nThe previously loaded model is still in use.",
                                        QMessageBox.StandardButton.Ok, self)
        self.import_error.open()

    def _on_open_zip_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open zipped model bundle", "",
                                              "Model bundle (*.zip);;All files (*)")
        if path:
            self.open_bundle(path, wait=False)

    def dragEnterEvent(self, ev) -> None:  # noqa: N802 - Qt override
        urls = ev.mimeData().urls() if ev.mimeData().hasUrls() else []
        if urls and urls[0].isLocalFile():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802 - Qt override
        urls = ev.mimeData().urls()
        if urls and urls[0].isLocalFile():
            ev.acceptProposedAction()
            path = urls[0].toLocalFile()
            QTimer.singleShot(0, lambda: self.open_model(path))

    # -- slots ---------------------------------------------------------------------
    def _on_engine_changed(self, engine: InspectionEngine) -> None:
        self.provider_label.setText(f"Provider: {engine.provider} · {engine.precision_text}")
        path = engine.bundle_path
        self.bundle_label.setText(f"Model: {display_name(path, engine.bundle.config) or path}")
        self.bundle_label.setToolTip(str(path))
        self._use_model_defaults(engine)
        config = engine.model_config
        self.sentence.set_counts(load_piece_counts(engine.bundle_path), config.unk_id)
        self.deferred["Data flow"].when_built("model", lambda p: cast("DataFlow", p).set_model_config(config))
        bundle_path = engine.bundle_path
        heads = load_heads(bundle_path)
        self.deferred["Head roles"].when_built("heads", lambda p: cast("HeadRolesView", p).set_heads(heads))
        problems = []
        if heads is None and (bundle_path / "heads.json").exists():
            problems.append(f"{bundle_path / 'heads.json'} is not valid JSON: "
                            "the validation-set head table is not shown")
        if bundle_path is not None and Path(str(bundle_path)).is_dir():
            self.training.show_log(bundle_path)  # the open model's own training log
        snapshots, problem = snapshot_set(engine)
        self.evolution.set_snapshots(snapshots)
        # The model itself loaded; say why its training history cannot be shown.
        self.evolution.empty_label.setText(f"Snapshots not shown: {problem}" if problem
                                           else self._no_snapshots_text)
        if problem:
            problems.append(f"Snapshots not shown: {problem}")
        if problems:
            self.statusBar().showMessage(" · ".join(problems), 20_000)

    def _use_model_defaults(self, engine: InspectionEngine) -> None:
        """An imported model decodes as its generation_config.json says (beam, penalties,
        forced pieces), with the languages chosen last time; our own models drop those."""
        cfg = self.controls.config()
        if engine.bundle_path != self._defaults_of:  # not merely the same bundle in 8 bits
            self._defaults_of = engine.bundle_path
            if "generation" in engine.bundle.config:
                self._own_config = self._own_config or cfg
                cfg = engine.decode_defaults().replace(temperature=cfg.temperature, top_k=cfg.top_k,
                                                       top_p=cfg.top_p, seed=cfg.seed)
            else:  # back to one of ours: the settings the user had for it
                own, base = self._own_config or cfg, DecodeConfig()
                self._own_config = None
                cfg = own.replace(**{k: getattr(base, k) for k in (
                    "length_penalty_kind", "early_stopping", "min_length", "no_repeat_ngram_size",
                    "forced_bos_id", "forced_eos_id")})
        langs = engine.languages()
        by_id = {i: code for code, i in langs.items()}
        source = by_id.get(engine.special.source_lang) if langs else None
        target = by_id.get(cfg.forced_bos_id) or by_id.get(engine.special.decoder_start)  # (mBART-cc25: the start)
        saved = self.store.s.value(self._languages_key(engine), "")
        try:
            source, target = (c if c in langs else d for c, d in zip(json.loads(str(saved)), (source, target),
                                                                          strict=True))
        except (TypeError, ValueError):
            pass  # never chosen for this bundle: its own defaults
        if source:
            engine.set_source_language(source)
        if target:
            cfg = engine.target_language(cfg, target)
        self.languages.set_languages(list(langs), source, target)
        self.sentence.set_hidden(frozenset(engine.piece(i) for i in langs.values()))
        self.controls.set_config(cfg)
        self.controller.config = cfg

    @staticmethod
    def _languages_key(engine: InspectionEngine) -> str:
        return "languages/" + hashlib.sha256(str(engine.bundle_path).encode()).hexdigest()[:16]

    def _on_languages_changed(self, source: str, target: str) -> None:
        """Frame the input with ``source``, force ``target`` first, and decode again."""
        engine = self.controller.engine
        if engine is None:
            return
        langs = engine.languages()
        if source in langs:
            # The tokenizer changes under a decode that may be running; that decode is
            # superseded by the request below, so its result is never drawn.
            engine.set_source_language(source)
        cfg = self.controls.config()
        if target in langs:
            cfg = engine.target_language(cfg, target)
        self.store.s.setValue(self._languages_key(engine), json.dumps([source, target]))
        self.controls.set_config(cfg)
        self._on_config_changed(cfg)

    def _on_int8_triggered(self) -> None:
        self._on_int8_toggled(self.int8_action.isChecked())

    def _on_int8_toggled(self, checked: bool) -> None:
        """Reload the same bundle quantised to 8 bits, or back to float (never silently)."""
        precision = "int8" if checked else "float"
        engine = self.controller.engine
        if engine is None or engine.precision == precision:
            return
        # On a worker thread: at NLLB size quantising takes minutes, and the open model
        # keeps translating meanwhile. The action waits until the new engine is in use.
        self.statusBar().showMessage("Quantising to 8 bits… (float until it is ready)"
                                     if checked else "Loading the float graphs…")
        self.int8_action.setEnabled(False)
        self._opening = None
        self.controller.load_in_background(engine.bundle_path, precision=precision)

    def _on_background_load(self, engine: object, message: str) -> None:
        """A bundle opened, or the 8-bit (or float) engine is in use, or it could not be
        made (the open model stays): say so."""
        self.int8_action.setEnabled(True)
        opening, self._opening = self._opening, None
        if opening is not None:
            path, recent = opening
            if engine is None:
                self._show_import_error(recent, message)  # what the user opened (a cache path names itself in the message)
            else:
                self.store.add_recent(recent)
                self._fill_recent()
                imported = recent != path
                self.statusBar().showMessage(f"Opened {Path(recent).name}" + (": imported and cached" if imported else ""),
                                             10_000)
        elif engine is None:
            self.statusBar().showMessage(f"8-bit mode not available: {message}", 10_000)
        else:
            self.statusBar().clearMessage()
        with QSignalBlocker(self.int8_action):
            now = self.controller.engine
            self.int8_action.setChecked(now is not None and now.precision == "int8")

    def _on_training_records(self, _records: list) -> None:
        series = self.training.series
        self.deferred["Gradient flow"].when_built("series", lambda p: cast("GradientFlow", p).set_series(series))

    def _on_config_changed(self, cfg) -> None:
        self.state.set_display_temperature(cfg.temperature)
        self.bars.set_decode_temperature(cfg.temperature)
        self.controller.set_config(cfg)

    def _on_forced_changed(self, description) -> None:
        self.revert_action.setEnabled(description is not None)

    def _on_timing(self, engine_ms: float, total_ms: float) -> None:
        self.time_label.setText(f"Inference {engine_ms:.1f} ms · drawn {total_ms:.1f} ms")

    def _on_engine_error(self, message: str) -> None:
        self.statusBar().showMessage(f"Inference failed: {message}", 8000)

    def _on_attention_selected(self, *_args) -> None:
        dock = self.docks["Head detail"]
        dock.show()
        dock.raise_()

    def _on_cmap_changed(self, _index: int) -> None:
        name = self.grid.cmap_name
        self.deferred["Head detail"].when_built("cmap", lambda p: cast("AttentionDetail", p).set_colormap(name))

    def _on_focus_input(self) -> None:
        self.sentence.source.setFocus()
        self.sentence.source.selectAll()

    def _on_toggle_theme(self) -> None:
        self.set_theme("light" if theme.current().name == "dark" else "dark")

    def _on_reset_layout(self) -> None:
        self.restoreState(self._default_state)
        self.right_share, self.bottom_share = 440 / 1280, 230 / 800
        self.fit_docks()

    def detach_detail(self) -> None:
        """The head detail as its own resizable window, large enough to label every row."""
        dock = self.docks["Head detail"]
        self.deferred["Head detail"].panel()
        dock.setFloating(True)
        dock.resize(max(dock.width(), 900), max(dock.height(), 650))
        dock.show()
        dock.raise_()

    def _on_hint_dismissed(self) -> None:
        self.store.s.setValue("hint_dismissed", True)
        QTimer.singleShot(0, self, self._fit_sentence_dock)

    def _fit_sentence_dock(self) -> None:
        """The hint's room goes back to the views below it (a top dock keeps its height)."""
        dock = self.docks["Sentence"]
        if not dock.isFloating():
            self.resizeDocks([dock], [dock.minimumSizeHint().height()], Qt.Orientation.Vertical)

    def _on_show_hint(self) -> None:
        self.hint.show()

    def dock_under_cursor(self) -> str:
        """The dock (or the central grid) under the mouse pointer; the grid when none is."""
        w = self.childAt(self.mapFromGlobal(QCursor.pos()))
        while w is not None:
            if w is self.grid:
                return "Attention grid"
            for name, dock in self.docks.items():
                if w is dock:
                    return name
            w = w.parentWidget()
        return "Attention grid"

    def _on_export_under_cursor(self) -> None:
        self.export_view(self.dock_under_cursor())

    def export_view(self, dock: str) -> None:
        """Ask for a file and write ``dock``'s figure or data (as ``attnscope figure`` does)."""
        stem = dock.lower().replace(" ", "-")
        path, _ = QFileDialog.getSaveFileName(self, f"Export {dock}", f"{stem}.png", FILTERS)
        if not path:
            return
        try:
            export_dock(self, dock, path)
        except Exception as exc:  # noqa: BLE001 - FigureError, OSError: say why, keep going
            QMessageBox.warning(self, "Could not export", f"{dock} → {path}\n\n{exc}")
            return
        self.statusBar().showMessage(f"Exported {dock} to {path}", 8000)

    def _on_screenshot_triggered(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "attnscope.png",
                                              "PNG (*.png)")
        if path:
            self.grab().save(path)

    def set_theme(self, name: str) -> None:
        theme.apply(name)
        self.theme_actions[theme.current().name].setChecked(True)
        for v in self.views:
            if hasattr(v, "apply_theme"):
                v.apply_theme()
        self.sentence._on_state_changed()
        self.hint.apply_theme()

    # -- layout --------------------------------------------------------------------
    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        self._fit_timer.start()

    def event(self, ev) -> bool:  # noqa: D102 - Qt override
        # The dock dividers belong to the main window, and QMainWindow.event() takes the
        # release that ends a divider drag (mouseReleaseEvent never sees it).
        handled = super().event(ev)
        if ev.type() == QEvent.Type.MouseButtonRelease:
            self._note_dragged_dividers()
        return handled

    def _note_dragged_dividers(self) -> None:
        """A dock whose size differs from the last fit's was dragged: keep that share."""
        if self._fitted_size != self.size() or self._fit_timer.isActive():
            return
        w, h = self.width(), self.height()
        tree, bottom = self.docks["Beam tree"], self._bottom_dock()
        if not tree.isFloating() and abs(tree.width() - self._fitted_docks[0]) > 4:
            self.right_share = tree.width() / max(w, 1)
        if not bottom.isFloating() and abs(bottom.height() - self._fitted_docks[1]) > 4:
            self.bottom_share = bottom.height() / max(h, 1)

    def fit_docks(self) -> None:
        """Give the side column and the bottom tabs their share of the window's size."""
        w, h = self.width(), self.height()
        right = int(min(max(self.right_share * w, RIGHT_PX[0]), RIGHT_PX[1], 0.45 * w))
        bottom = int(min(max(self.bottom_share * h, BOTTOM_PX[0]), BOTTOM_PX[1], 0.4 * h))
        self._fitting = True
        try:
            self.resizeDocks([self.docks["Beam tree"]], [right], Qt.Orientation.Horizontal)
            self.resizeDocks([self._bottom_dock()], [bottom], Qt.Orientation.Vertical)
        finally:
            self._fitting = False
        self._fitted_size = self.size()
        self._fitted_docks = (self.docks["Beam tree"].width(), self._bottom_dock().height())

    def _bottom_dock(self) -> QDockWidget:
        """The raised tab of the bottom docks: only it has the area's real size (Qt parks
        the other tabs off-screen at their old one)."""
        tabs = [d for d in self.docks.values() if self.dockWidgetArea(d) == Qt.DockWidgetArea.BottomDockWidgetArea
                and not d.isFloating() and d.isVisible() and not d.visibleRegion().isEmpty()]
        return tabs[0] if tabs else self.docks["Step scrubber"]

    # -- lifecycle -----------------------------------------------------------------
    def start(self, text: str) -> None:
        """Show ``text`` and decode it (the first request of the session)."""
        self.sentence.set_text(text)
        if self.controller.text != text or self.state.inspection is None:
            self.controller.set_text(text)

    def closeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        # An imported model's generation defaults are its own; what is kept is the user's.
        self.store.save(self, self._own_config or self.controls.config(), self.grid.options(),
                        self.sentence.source.text())
        self.controller.shutdown()
        self.importer.shutdown()
        self.evolution.shutdown()
        if self.training.running:  # the window owns the process: do not orphan it
            self.training.stop()
            if self.training.process is not None:
                self.training.process.waitForFinished(5000)
        super().closeEvent(ev)


def snapshot_set(engine: InspectionEngine) -> tuple[SnapshotSet | None, str | None]:
    """(SnapshotSet of the engine's bundle or None, why not): None for a bundle without
    snapshots (the fake's), and for a broken snapshots/ folder, which only disables the view."""
    from attnscope.core.inference.snapshots import SnapshotSet

    try:
        snapshots = SnapshotSet(engine.bundle)
    except Exception as exc:  # noqa: BLE001 - BundleError names the file; anything else too
        return None, str(exc)
    return (snapshots if len(snapshots) else None), None
