"""Runs the engine off the GUI thread; the newest request wins, stale results are dropped.

At most one inference runs at a time and at most one waits: a request made while the
worker is busy replaces the waiting one and cancels the running one, which stops within
one decoder step, so fast typing never builds a queue. Every request carries an id, and
a result is delivered only if its id is still the newest.

With ``streaming`` the engine's partial Inspections (encoder, then every step) come out
as ``partial`` while the decode runs. They are coalesced: the worker keeps only the
newest one in a one-slot mailbox, so a slow paint never queues up stale steps. While the
GUI has said, with ``hold_partials``, that it will not paint the next one yet, a partial is
neither assembled by the decode nor passed on.
"""

from __future__ import annotations

import threading
import time
from typing import cast

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from attnscope.core.config import DecodeConfig
from attnscope.core.inference.inspection import Inspection
from attnscope.core.inference.protocols import CancelFn, DueFn, InspectionEngine, Inspector, ProgressFn


def run_inspection(engine: Inspector | InspectionEngine, text: str, config: DecodeConfig,
                  progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                  progress_due: DueFn | None = None) -> tuple[object, float]:
    """The engine call itself, Qt-free: its result (an Inspection) and the wall time in ms.

    With ``progress``/``cancel`` the engine must be an InspectionEngine (it streams)."""
    t0 = time.perf_counter()
    if progress is None and cancel is None:
        ins = engine.inspect(text, config)
    else:
        ins = cast(InspectionEngine, engine).inspect(text, config, progress=progress, cancel=cancel,
                                                     progress_due=progress_due)
    return ins, (time.perf_counter() - t0) * 1e3


class _Signals(QObject):
    done = Signal(int, object, float)  # request id, Inspection, ms
    failed = Signal(int, str)
    partial = Signal()  # the mailbox holds a new partial Inspection


class _Mailbox:
    """One slot shared by the worker (put) and the GUI thread (take); newest wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: tuple[int, Inspection, float] | None = None

    def put(self, item: tuple[int, Inspection, float]) -> bool:
        """Store ``item``; True when the slot was empty (the GUI needs a nudge)."""
        with self._lock:
            was_empty = self._item is None
            self._item = item
        return was_empty

    def take(self) -> tuple[int, Inspection, float] | None:
        with self._lock:
            item, self._item = self._item, None
        return item


class _Gate:
    """The GUI's word on partials: none wanted for request ``held[0]`` before ``held[1]``."""

    def __init__(self) -> None:
        self.held = (0, 0.0)  # replaced whole from the GUI thread, read whole by the worker

    def due(self, request_id: int) -> bool:
        rid, until = self.held
        return rid != request_id or time.perf_counter() >= until


class _Job(QRunnable):
    """One engine call on a pool thread; reports through ``signals`` (queued to the GUI)."""

    def __init__(self, signals: _Signals, request_id: int, engine: Inspector | InspectionEngine, text: str,
                 config: DecodeConfig, mailbox: _Mailbox | None, gate: _Gate | None = None) -> None:
        super().__init__()
        self.signals, self.request_id = signals, request_id
        self.engine, self.text, self.config = engine, text, config
        self.mailbox, self.gate = mailbox, gate
        self.cancelled = threading.Event()

    def _due(self) -> bool:
        """Assemble the next partial only if the GUI would paint it."""
        return self.gate is None or self.gate.due(self.request_id)

    def _progress(self, ins: Inspection, t0: float) -> None:
        assert self.mailbox is not None
        if self.mailbox.put((self.request_id, ins, (time.perf_counter() - t0) * 1e3)):
            self.signals.partial.emit()

    def run(self) -> None:
        t0 = time.perf_counter()
        progress: ProgressFn | None = None
        cancel: CancelFn | None = None
        due: DueFn | None = None
        if self.mailbox is not None:
            progress, cancel, due = (lambda ins: self._progress(ins, t0)), self.cancelled.is_set, self._due
        try:
            ins, ms = run_inspection(self.engine, self.text, self.config, progress, cancel, due)
        except Exception as exc:  # noqa: BLE001 - any engine error becomes a status message
            self.signals.failed.emit(self.request_id, f"{type(exc).__name__}: {exc}")
            return
        self.signals.done.emit(self.request_id, ins, ms)


class InferenceRunner(QObject):
    """``request()`` from the GUI thread; ``result`` fires only for the newest request.

    ``streaming``: the engine's ``inspect`` takes ``progress`` and ``cancel`` (the real
    Engine does); ``partial`` then fires with the newest request's Inspection so far.
    """

    result = Signal(int, object, float)  # request id, Inspection, engine ms
    partial = Signal(int, object, float)  # request id, partial Inspection, ms since the job started
    error = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, engine: Inspector | InspectionEngine | None = None, parent: QObject | None = None,
                 streaming: bool = False) -> None:
        super().__init__(parent)
        self.engine = engine
        self.streaming = streaming
        self.latest_id = 0
        self.delivered_id = 0
        self.dropped = 0  # stale results thrown away (for tests and the curious)
        self.cancelled = 0  # running decodes told to stop by a newer request
        # The running job's cancel flag, not the job: the pool deletes a QRunnable when its
        # run() returns, and a Python reference kept to it past then can crash the collector.
        self._running: threading.Event | None = None
        self._pending: tuple[int, str, DecodeConfig] | None = None
        self._mailbox = _Mailbox()
        self._gate = _Gate()
        # A private one-thread pool: Qt owns the thread, and the pool's destructor waits
        # for a running job instead of aborting the way a destroyed running QThread does.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._signals.partial.connect(self._on_partial)

    def request(self, text: str, config: DecodeConfig) -> int:
        """Ask for a decode; returns its id. Supersedes (and cancels) every earlier request."""
        self.latest_id += 1
        self._pending = (self.latest_id, text, config)
        if self._running is None:
            self._launch()
        elif not self._running.is_set():
            self._running.set()
            self.cancelled += 1
        return self.latest_id

    def hold_partials(self, request_id: int, until: float) -> None:
        """No partial of ``request_id`` is wanted before ``until`` (``time.perf_counter``):
        the decode does not assemble one, and one already on its way is dropped."""
        self._gate.held = (request_id, until)

    @property
    def busy(self) -> bool:
        return self._running is not None

    def set_engine(self, engine: Inspector | InspectionEngine | None) -> None:
        self.engine = engine

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Drop the waiting request, stop the running one and wait for it (call before exit)."""
        self._pending = None
        if self._running is not None:
            self._running.set()
        self._pool.waitForDone(timeout_ms)

    def _launch(self) -> None:
        if self._pending is None or self.engine is None:
            return
        rid, text, config = self._pending
        self._pending = None
        job = _Job(self._signals, rid, self.engine, text, config, self._mailbox if self.streaming else None,
                   self._gate)
        self._running = job.cancelled
        self.busy_changed.emit(True)
        self._pool.start(job)

    def _finish(self) -> None:
        self._running = None
        if self._pending is not None:
            self._launch()
        else:
            self.busy_changed.emit(False)

    @Slot()
    def _on_partial(self) -> None:
        item = self._mailbox.take()
        if item is None:
            return
        request_id, ins, ms = item
        if request_id == self.latest_id and request_id > self.delivered_id and self._gate.due(request_id):
            self.partial.emit(request_id, ins, ms)

    @Slot(int, object, float)
    def _on_done(self, request_id: int, ins: object, ms: float) -> None:
        self._finish()
        if request_id != self.latest_id or request_id < self.delivered_id:
            self.dropped += 1
            return
        self._mailbox.take()  # a partial still waiting is older than this result
        self.delivered_id = request_id
        self.result.emit(request_id, ins, ms)

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        self._finish()
        if request_id == self.latest_id:
            self.error.emit(message)
