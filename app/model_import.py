"""Open a Hugging Face model folder in the window: imported once, in the background, into
the user's cache, keyed by a hash of the folder's content. Not a widget.

The import itself is ``attnscope import`` in a subprocess (it needs torch, which the app
never imports). The cache entry appears only when the import succeeded: the subprocess
writes into a private temporary folder under the cache, renamed into place at the end, so
a failed or cancelled import leaves nothing behind.

The key is the SHA-256 of the files the import reads (config, generation config,
tokenizer files, weights), in full, and of the AttnScope version that imports them.
Re-reading several GB on every open would not be instant, so each file's digest is
remembered beside the cache with the file's inode, size, mtime and ctime: any write to a
file changes its ctime, which no user call can set back, so a file whose four values are
unchanged has unchanged bytes, and its digest is reused (except for a file written in the
last two seconds, as timestamps advance in coarse ticks: it is read again next time).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QRunnable, QStandardPaths, QThreadPool, Signal

from attnscope.app.subprocess_cli import cli_process, read_stderr, read_stdout, start_cli

FORMAT = "attnscope-import-1"  # part of every key, with the version and the bundle format (below)
CHUNK = 8 << 20  # bytes hashed per read
RACY_NS = 2_000_000_000  # a file written this recently is hashed again next time (see ContentHash)
WEIGHTS = ("model.safetensors.index.json", "model.safetensors", "pytorch_model.bin")
SMALL_SUFFIXES = (".json", ".spm", ".model", ".txt")  # config, tokenizer and vocabulary files
# What the import is doing, as the subprocess reports it (--progress), and how far that is.
STAGES = {"tokenizer": (0.05, "reading the tokenizer"), "weights": (0.10, "converting the weights"),
          "graphs": (0.35, "exporting the ONNX graphs"), "weights.safetensors": (0.85, "saving the weights")}


class ImportProblem(ValueError):
    """A folder that cannot be opened as a model; the message is one line naming the file."""


def folder_kind(path: str | Path) -> str:
    """"hf" for a Hugging Face model folder, else "bundle" (which the bundle reader checks).

    A Hugging Face config.json names a ``model_type``; a bundle's carries its
    ``format_version``. A Hugging Face folder without weights raises ImportProblem."""
    p = Path(path)
    try:
        data = json.loads((p / "config.json").read_text(encoding="utf-8")) if p.is_dir() else None
    except (OSError, UnicodeDecodeError, ValueError):
        return "bundle"  # missing or broken: the bundle reader names the problem
    if not isinstance(data, dict) or "format_version" in data or "model_type" not in data:
        return "bundle"
    if not any((p / w).is_file() for w in WEIGHTS):
        raise ImportProblem(f"{p / 'model.safetensors'}: missing (a Hugging Face model folder needs "
                            f"model.safetensors, model.safetensors.index.json or pytorch_model.bin)")
    return "hf"


def content_files(folder: Path) -> list[Path]:
    """The files the import reads, in a fixed order: the small ones, then the weights the
    importer picks (a sharded index and its shards, else model.safetensors, else the .bin)."""
    small = sorted(f for f in folder.iterdir() if f.suffix in SMALL_SUFFIXES and f.is_file())
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values()))
        except (OSError, ValueError, AttributeError) as e:
            raise ImportProblem(f"{index}: not a readable shard index ({e})") from e
        weights = [folder / s for s in shards]
    else:
        weights = [folder / w for w in WEIGHTS[1:] if (folder / w).is_file()][:1]
    for f in weights:
        if not f.is_file():
            raise ImportProblem(f"{f}: missing (named by {index.name})")
    return small + weights


class Cancelled(Exception):
    """The user cancelled while the folder was being hashed."""


class ContentHash:
    """Streaming SHA-256 of a folder's model files, with the per-file memo described above."""

    def __init__(self, memo_file: Path) -> None:
        self.memo_file = memo_file
        try:
            self.memo: dict[str, dict] = json.loads(memo_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.memo = {}
        self.bytes_read = 0  # bytes actually read by the last digest() (0: all from the memo)

    @staticmethod
    def _stamp(f: Path) -> list[int]:
        st = f.stat()  # follows links: a Hugging Face cache snapshot links into blobs/
        return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]

    def digest(self, folder: Path, progress=None, cancel: threading.Event | None = None) -> str:
        """Hex key of ``folder``; ``progress(done, total)`` in bytes; raises Cancelled."""
        files = content_files(folder)
        total = sum(f.stat().st_size for f in files)
        key, done = hashlib.sha256(importer_version().encode()), 0
        self.bytes_read = 0
        for f in files:
            real, stamp = str(f.resolve()), self._stamp(f)
            memo = self.memo.get(real)
            if memo is not None and memo.get("stamp") == stamp:
                file_hex = memo["sha256"]
            else:
                h = hashlib.sha256()
                with open(f, "rb") as fh:
                    while chunk := fh.read(CHUNK):
                        if cancel is not None and cancel.is_set():
                            raise Cancelled
                        h.update(chunk)
                        self.bytes_read += len(chunk)
                        if progress is not None:
                            progress(done + fh.tell(), total)
                file_hex = h.hexdigest()
                # A file changed moments ago could change again within the same timestamp tick
                # (git's "racy clean" case): remember only digests of files that have been still.
                if time.time_ns() - max(stamp[2], stamp[3]) > RACY_NS:
                    self.memo[real] = {"stamp": stamp, "sha256": file_hex}
            done += stamp[1]
            key.update(f"{f.name}\0{stamp[1]}\0{file_hex}\n".encode())
        self._save()
        return key.hexdigest()[:32]

    def _save(self) -> None:
        self.memo_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.memo_file.with_name(f".{self.memo_file.name}.{os.getpid()}")
        tmp.write_text(json.dumps(self.memo), encoding="utf-8")
        os.replace(tmp, self.memo_file)


def importer_version() -> str:
    """What made an entry: a new AttnScope version (a fixed converter) never reuses old ones."""
    from importlib.metadata import PackageNotFoundError, version

    from attnscope.core.bundle import FORMAT_VERSION

    try:
        ours = version("attnscope")
    except PackageNotFoundError:
        ours = "unknown"
    return f"{FORMAT}/attnscope-{ours}/bundle-{FORMAT_VERSION}"


def cache_root() -> Path:
    """Where imported bundles live: <user cache>/attnscope/imports ($XDG_CACHE_HOME on Linux)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericCacheLocation)
    return Path(base or Path.home() / ".cache") / "attnscope" / "imports"


class _HashSignals(QObject):
    progress = Signal(int, float)  # job, fraction of the bytes hashed
    done = Signal(int, str)  # job, the key
    failed = Signal(int, str)  # job, one line


class _HashJob(QRunnable):
    def __init__(self, job: int, hasher: ContentHash, folder: Path, signals: _HashSignals,
                 cancel: threading.Event) -> None:
        super().__init__()
        self.job, self.hasher, self.folder, self.signals, self.cancel = job, hasher, folder, signals, cancel

    def run(self) -> None:
        try:
            key = self.hasher.digest(self.folder, lambda d, t: self.signals.progress.emit(self.job, d / max(t, 1)),
                                     self.cancel)
        except Cancelled:
            return
        except (OSError, ImportProblem) as e:
            self.signals.failed.emit(self.job, str(e))
            return
        self.signals.done.emit(self.job, key)


class ModelImport(QObject):
    """``start(folder)``: hash it, open the cached bundle or import it in a subprocess.

    Reports ``progress(fraction, what)``, then ``finished(bundle_path)`` or ``failed(line)``;
    ``cancel()`` stops either phase and leaves the cache as it was.
    """

    progress = Signal(float, str)
    finished = Signal(str)  # the bundle folder to open
    failed = Signal(str)  # one line, shown to the user
    cancelled = Signal()

    def __init__(self, python: str = sys.executable, root: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.python = python
        self._root = root
        self.folder: Path | None = None
        self.key = ""
        self.process: QProcess | None = None
        self.launched = 0  # import subprocesses started (a cache hit starts none)
        self.stderr = ""
        self.hasher: ContentHash | None = None  # the last start's (bytes_read: 0 when the memo answered)
        self._tmp: Path | None = None
        self._cancel: threading.Event | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _HashSignals(self)
        self._signals.progress.connect(self._on_hash_progress)
        self._signals.done.connect(self._on_hashed)
        self._signals.failed.connect(self._on_hash_failed)
        self._job = 0  # the current hashing job; reports of older (cancelled) ones are ignored

    @property
    def root(self) -> Path:
        return self._root or cache_root()

    @property
    def running(self) -> bool:
        return self._cancel is not None

    def start(self, folder: str | Path) -> None:
        if self.running:
            raise RuntimeError("an import is already running")
        self.folder = Path(folder).resolve()
        self.stderr, self.key = "", ""
        self._cancel = threading.Event()
        self._job += 1
        self.progress.emit(0.0, f"hashing {self.folder.name}")
        self.hasher = ContentHash(self.root / "hashes.json")
        self._pool.start(_HashJob(self._job, self.hasher, self.folder, self._signals, self._cancel))

    def cancel(self) -> None:
        """Stop hashing or kill the import; its temporary folder is removed."""
        if self._cancel is None:
            return
        self._cancel.set()
        if self.process is not None:
            proc, self.process = self.process, None
            proc.finished.disconnect(self._on_finished)
            proc.kill()
            proc.waitForFinished(5000)
        self._cleanup()
        self._cancel = None
        self.cancelled.emit()

    def shutdown(self) -> None:
        self.cancel()
        self._pool.waitForDone(10_000)

    def entry(self, key: str) -> Path:
        return self.root / key

    # -- internals ------------------------------------------------------------------
    def _current(self, job: int) -> bool:
        return job == self._job and self._cancel is not None and not self._cancel.is_set()

    def _on_hash_progress(self, job: int, fraction: float) -> None:
        if self._current(job) and self.process is None:
            self.progress.emit(0.05 * fraction, f"hashing {self.folder.name if self.folder else ''}")

    def _on_hash_failed(self, job: int, line: str) -> None:
        if self._current(job):
            self._fail(line)

    def _on_hashed(self, job: int, key: str) -> None:
        if not self._current(job):
            return
        self.key = key
        entry = self.entry(key)
        if (entry / "config.json").is_file():  # imported before: nothing to run
            self._cancel = None
            self.progress.emit(1.0, "found in the cache")
            self.finished.emit(str(entry))
            return
        self._sweep()
        self._tmp = self.root / f".tmp-{key}-{os.getpid()}"
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir(parents=True)
        assert self.folder is not None
        proc = cli_process(self, self._on_stdout, self._on_stderr, self._on_finished, self._on_error)
        self.process = proc
        self.launched += 1
        self.progress.emit(0.05, "starting the import")
        start_cli(proc, self.python, ["import", str(self.folder), "--out", str(self._tmp / "bundle"),
                                      "--name", self.folder.name, "--progress"])

    def _on_stdout(self) -> None:
        if self.process is None:
            return
        for line in read_stdout(self.process).splitlines():
            if line.startswith("stage: ") and line[7:].strip() in STAGES:
                self.progress.emit(*STAGES[line[7:].strip()])

    def _on_stderr(self) -> None:
        if self.process is not None:
            self.stderr += read_stderr(self.process)

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._on_stderr()
        self._on_stdout()
        self.process = None
        if code != 0 or status != QProcess.ExitStatus.NormalExit:
            lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
            self._fail(lines[-1] if lines else f"the import process ended with exit code {code}")
            return
        assert self._tmp is not None
        entry = self.entry(self.key)
        try:
            os.rename(self._tmp / "bundle", entry)
        except OSError:
            if not (entry / "config.json").is_file():  # another window may have finished first
                self._fail(f"{entry}: could not be written to the cache")
                return
        self._cleanup()
        self._cancel = None
        self.progress.emit(1.0, "imported")
        self.finished.emit(str(entry))

    def _on_error(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart and self.process is not None:
            self.process = None
            self._fail(f"could not start {self.python} for the import")

    def _fail(self, line: str) -> None:
        self._cleanup()
        self._cancel = None
        self.failed.emit(line)

    def _cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _sweep(self) -> None:
        """Remove temporary folders that imports of processes no longer running left."""
        for d in self.root.glob(".tmp-*") if self.root.is_dir() else ():
            pid = d.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                shutil.rmtree(d, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def display_name(bundle_path: Path, config: dict) -> str:
    """What the status bar calls a bundle: an imported one by its source folder's name."""
    inside_cache = cache_root().resolve() in bundle_path.resolve().parents
    return str(config.get("name") or bundle_path.name) if inside_cache else bundle_path.name
