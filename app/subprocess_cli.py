"""``attnscope <command>`` in a subprocess beside the window: the import and training need
torch, which the app never imports, so both run the package's own command line in a
QProcess set up here the one same way. Not a widget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment


def cli_arguments(args: Sequence[str]) -> list[str]:
    """The interpreter's arguments for ``attnscope *args``: -P keeps the working directory
    off sys.path, so the installed package runs, never a folder named attnscope that
    happens to be where the app was started."""
    return ["-P", "-m", "attnscope", *args]


def cli_process(parent: QObject, on_stdout: Callable[[], None], on_stderr: Callable[[], None],
                on_finished: Callable[[int, QProcess.ExitStatus], None],
                on_error: Callable[[QProcess.ProcessError], None]) -> QProcess:
    """A QProcess for ``attnscope`` commands, not started yet (the caller keeps it first,
    as a start that fails reports through ``on_error``): Python's output unbuffered, so
    progress lines arrive as they are printed, stdout and stderr read apart, and the four
    slots connected."""
    proc = QProcess(parent)
    env = QProcessEnvironment.systemEnvironment()
    env.insert("PYTHONUNBUFFERED", "1")
    proc.setProcessEnvironment(env)
    proc.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
    proc.readyReadStandardOutput.connect(on_stdout)
    proc.readyReadStandardError.connect(on_stderr)
    proc.finished.connect(on_finished)
    proc.errorOccurred.connect(on_error)
    return proc


def start_cli(proc: QProcess, python: str, args: Sequence[str]) -> None:
    """Run ``python -P -m attnscope *args`` in ``proc`` (from ``cli_process``)."""
    proc.start(python, cli_arguments(args))


def read_stdout(proc: QProcess) -> str:
    """What the process printed since the last read (invalid UTF-8 replaced, not raised)."""
    return bytes(proc.readAllStandardOutput().data()).decode("utf-8", "replace")


def read_stderr(proc: QProcess) -> str:
    """What the process wrote to stderr since the last read."""
    return bytes(proc.readAllStandardError().data()).decode("utf-8", "replace")
