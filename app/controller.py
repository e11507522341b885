"""Glue between the user's intent and the engine: text, decode config, what-if, bundles.

Not a widget. The window calls ``set_text`` / ``set_config`` / ``force`` / ``revert`` /
``load_bundle``; each (except a failed load) asks the runner for a fresh decode, and the
newest result lands in the AppState, which every view watches. ``load_in_background``
opens a bundle off the GUI thread (the 8-bit mode quantises for minutes at NLLB size)
while the open engine keeps translating.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from attnscope.app.inference_runner import InferenceRunner
from attnscope.app.state import AppState
from attnscope.core.config import DecodeConfig
from attnscope.core.inference.inspection import Inspection
from attnscope.core.inference.protocols import InspectionEngine

PARTIAL_IDLE = 8.0  # after painting a partial result, stay idle this many times as long


class EngineLoader(Protocol):
    """Opens a bundle (None: the shipped one) as an engine; raises when it cannot."""

    def __call__(self, bundle: str | Path | None, precision: str = "float") -> InspectionEngine: ...


def load_real_engine(bundle: str | Path | None, precision: str = "float") -> InspectionEngine:
    """``core.inference.engine.Engine.load`` imported lazily (the app starts without it)."""
    from attnscope.core.inference.engine import Engine  # noqa: PLC0415 - optional until core ships it

    return Engine.load(bundle, precision=precision)


class Controller(QObject):
    engine_changed = Signal(object)  # the new engine
    loaded = Signal(object, str)  # a background load's engine (None: failed) and why it failed
    _load_done = Signal(int, object, str)  # load number, engine or None, message (from the loading thread)
    forced_changed = Signal(object)  # description str, or None when decoding freely
    timing = Signal(float, float)  # engine ms, request -> drawn ms
    error = Signal(str)

    def __init__(self, state: AppState, engine: InspectionEngine | None,
                 loader: EngineLoader = load_real_engine,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.engine = engine
        self.loader = loader
        self.text = ""
        self.config = DecodeConfig()
        self.forced: tuple[int, ...] = ()
        self.runner = InferenceRunner(engine, self, streaming=True)
        self.runner.result.connect(self._on_result)
        self.runner.partial.connect(self._on_partial)
        self.runner.error.connect(self._on_error)
        self._asked_at: dict[int, float] = {}
        self._first_painted: set[int] = set()
        self.latencies_ms: list[float] = []  # request -> every visible view repainted (complete)
        self.first_paint_ms: list[float] = []  # request -> its first partial result on screen
        self._loads = self._loads_done = 0  # background loads started / ended; the newest one's engine is used
        self._closed = False
        self._load_done.connect(self._on_load_done)
        state.piece_fn = engine.piece if engine is not None else None
        state.contributions_fn = getattr(engine, "contributions", None)

    # -- requests ---------------------------------------------------------------
    def set_text(self, text: str) -> None:
        if text == self.text and self.state.inspection is not None:
            return
        self.text = text
        if self.forced:  # a what-if belongs to the sentence it was made on
            self.forced = ()
            self.forced_changed.emit(None)
        self._request()

    def set_config(self, config: DecodeConfig) -> None:
        self.config = config
        self._request()

    def force(self, step: int, piece_id: int) -> None:
        """What-if: keep the selected path's pieces before ``step``, force ``piece_id`` there."""
        self.forced = self.state.forced_prefix_for(step, piece_id)
        self.forced_changed.emit(
            f"“{self.state.piece(piece_id)}” forced at step {step + 1}")
        self._request()

    def revert(self) -> None:
        if not self.forced:
            return
        self.forced = ()
        self.forced_changed.emit(None)
        self._request()

    def refresh(self) -> None:
        self._request()

    def _request(self) -> int:
        cfg = self.config.replace(forced_prefix=self.forced)
        rid = self.runner.request(self.text, cfg)
        self._asked_at[rid] = time.perf_counter()
        return rid

    def _on_partial(self, rid: int, ins: Inspection, _ms: float) -> None:
        """The decode so far (encoder and step 1, then later steps): painted while the search runs.

        After each, the runner holds the request's partials until the GUI has been idle for
        ``PARTIAL_IDLE`` times as long as the paint took, so painting takes at most a ninth of
        the time the decode could use (they share the interpreter, and on small machines the
        cores): the tree and the translation still grow several times a second.
        """
        if not ins.steps:  # the views draw a decode from its first step on; this would blank them
            return
        first = rid not in self._first_painted
        self._first_painted.add(rid)
        t0 = time.perf_counter()
        self.state.set_inspection(ins, growing=not first)  # the first: every view; then the tree
        QTimer.singleShot(0, lambda: self._on_partial_drawn(rid, t0, first))

    def _on_partial_drawn(self, rid: int, t0: float, first: bool) -> None:
        now = time.perf_counter()
        self.runner.hold_partials(rid, now + PARTIAL_IDLE * (now - t0))
        asked = self._asked_at.get(rid)
        if first and asked is not None:
            self.first_paint_ms.append((now - asked) * 1e3)

    def _on_error(self, message: str) -> None:
        if self.state.growing and self.state.inspection is not None:  # no final result will come
            self.state.set_inspection(self.state.inspection)
        self.error.emit(message)

    def _on_result(self, rid: int, ins: Inspection, engine_ms: float) -> None:
        self.state.set_inspection(ins)  # every visible view updates its items here
        asked = self._asked_at.pop(rid, None)
        for old in [k for k in self._asked_at if k < rid]:
            del self._asked_at[old]
        self._first_painted = {k for k in self._first_painted if k > rid}
        # The paint events those updates posted run before a zero-delay timer fires, so
        # this measures request -> pixels on screen, not just -> data handed to the views.
        QTimer.singleShot(0, lambda: self._on_drawn(asked, engine_ms))

    def _on_drawn(self, asked: float | None, engine_ms: float) -> None:
        total = (time.perf_counter() - asked) * 1e3 if asked is not None else engine_ms
        self.latencies_ms.append(total)
        self.timing.emit(engine_ms, total)

    # -- bundles ----------------------------------------------------------------
    def load_bundle(self, bundle: str | Path | None, precision: str = "float") -> InspectionEngine:
        """Load a bundle; on failure raise and keep the current engine untouched.

        ``precision="int8"`` (opt-in only) quantises the graphs and measures what that
        changes in the attention; the status bar shows both."""
        engine = self._open(bundle, precision)
        self.use_engine(engine)
        return engine

    def _open(self, bundle: str | Path | None, precision: str) -> InspectionEngine:
        return self.loader(bundle) if precision == "float" else self.loader(bundle, precision=precision)

    def load_in_background(self, bundle: str | Path | None, precision: str = "float") -> None:
        """``load_bundle`` on a worker thread: the open engine keeps translating meanwhile,
        and ``loaded`` fires when the new one is in use (or with None and the reason it
        failed, the open engine untouched). A newer call supersedes a running one."""
        self._loads += 1
        number = self._loads

        def work() -> None:
            try:
                engine = self._open(bundle, precision)
            except Exception as exc:  # noqa: BLE001 - any failure keeps the open engine
                self._load_done.emit(number, None, f"{type(exc).__name__}: {exc}")
                return
            self._load_done.emit(number, engine, "")

        # A daemon thread: closing the window does not wait minutes for a quantiser.
        threading.Thread(target=work, name="attnscope-load", daemon=True).start()

    @property
    def loading(self) -> bool:
        """A background load is running."""
        return self._loads > self._loads_done

    def _on_load_done(self, number: int, engine: InspectionEngine | None, message: str) -> None:
        self._loads_done = max(self._loads_done, number)
        if number != self._loads or self._closed:  # superseded by a newer load, or shut down
            return
        if engine is not None:
            self.use_engine(engine)
        self.loaded.emit(engine, message)

    def use_engine(self, engine: InspectionEngine) -> None:
        """Make ``engine`` the one every request runs on, and decode the sentence again."""
        self.engine = engine
        self.runner.set_engine(engine)
        self.state.piece_fn = engine.piece
        self.state.contributions_fn = getattr(engine, "contributions", None)
        self.engine_changed.emit(engine)
        self.forced = ()
        self.forced_changed.emit(None)
        self._request()

    def shutdown(self) -> None:
        self._closed = True  # a background load that ends later is not used
        self.runner.shutdown()
