"""Runs the engine off the GUI thread; the newest request wins, stale results are dropped.

At most one inference runs at a time and at most one waits: a request made while the
worker is busy replaces the waiting one, so fast typing never builds a queue. Every
request carries an id, and a result is delivered only if its id is still the newest.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from attnscope.core.config import DecodeConfig
from attnscope.core.inference.protocols import Inspector


def run_inspection(engine: Inspector, text: str, config: DecodeConfig) -> tuple[object, float]:
    """The engine call itself, Qt-free: its result (an Inspection) and the wall time in ms."""
    t0 = time.perf_counter()
    ins = engine.inspect(text, config)
    return ins, (time.perf_counter() - t0) * 1e3


class _Signals(QObject):
    done = Signal(int, object, float)  # request id, Inspection, ms
    failed = Signal(int, str)


class _Job(QRunnable):
    """One engine call on a pool thread; reports through ``signals`` (queued to the GUI)."""

    def __init__(self, signals: _Signals, request_id: int, engine: Inspector, text: str,
                 config: DecodeConfig) -> None:
        super().__init__()
        self.signals, self.request_id = signals, request_id
        self.engine, self.text, self.config = engine, text, config

    def run(self) -> None:
        try:
            ins, ms = run_inspection(self.engine, self.text, self.config)
        except Exception as exc:  # noqa: BLE001 - any engine error becomes a status message
            self.signals.failed.emit(self.request_id, f"{type(exc).__name__}: {exc}")
            return
        self.signals.done.emit(self.request_id, ins, ms)


class InferenceRunner(QObject):
    """``request()`` from the GUI thread; ``result`` fires only for the newest request."""

    result = Signal(int, object, float)  # request id, Inspection, engine ms
    error = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, engine: Inspector | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.latest_id = 0
        self.delivered_id = 0
        self.dropped = 0  # stale results thrown away (for tests and the curious)
        self._running: int | None = None
        self._pending: tuple[int, str, DecodeConfig] | None = None
        # A private one-thread pool: Qt owns the thread, and the pool's destructor waits
        # for a running job instead of aborting the way a destroyed running QThread does.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)

    def request(self, text: str, config: DecodeConfig) -> int:
        """Ask for a decode; returns its id. Supersedes every earlier request."""
        self.latest_id += 1
        self._pending = (self.latest_id, text, config)
        if self._running is None:
            self._launch()
        return self.latest_id

    @property
    def busy(self) -> bool:
        return self._running is not None

    def set_engine(self, engine: Inspector | None) -> None:
        self.engine = engine

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Drop the waiting request and wait for the running one (call before exit)."""
        self._pending = None
        self._pool.waitForDone(timeout_ms)

    def _launch(self) -> None:
        if self._pending is None or self.engine is None:
            return
        rid, text, config = self._pending
        self._pending = None
        self._running = rid
        self.busy_changed.emit(True)
        self._pool.start(_Job(self._signals, rid, self.engine, text, config))

    def _finish(self) -> None:
        self._running = None
        if self._pending is not None:
            self._launch()
        else:
            self.busy_changed.emit(False)

    @Slot(int, object, float)
    def _on_done(self, request_id: int, ins: object, ms: float) -> None:
        self._finish()
        if request_id != self.latest_id or request_id < self.delivered_id:
            self.dropped += 1
            return
        self.delivered_id = request_id
        self.result.emit(request_id, ins, ms)

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        self._finish()
        if request_id == self.latest_id:
            self.error.emit(message)
