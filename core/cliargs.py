"""One way to check a command line, shared by every ``attnscope`` subcommand.

A mistake in the input is a :class:`UsageError`: the command prints one line,
``attnscope <command>: error: <what is wrong>``, on stderr and exits with status 2, with
no traceback and no usage dump. Option types here (``int_at_least``, ``float_in`` …)
refuse a bad number while parsing, so no command ever starts with one; ``--help`` shows
every default. No imports beyond the standard library: ``attnscope figure`` and the
window use these too, and must not pull in training code.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any, NoReturn

EXIT_USAGE = 2


class UsageError(ValueError):
    """A mistake in the command line or its input; reported in one line, exit status 2."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks and appends ``(default: X)`` to every option
    with a meaningful default (not None, not False, not already written in its help)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        meaningless = default is None or default is False or default == argparse.SUPPRESS  # 0 is a default
        if (action.option_strings and not meaningless
                and "default" not in text and not isinstance(action, argparse._HelpAction)):
            shown = " ".join(map(str, default)) if isinstance(default, list | tuple) else default
            text = f"{text} (default: {shown})" if text else f"(default: {shown})"
        return text


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are :class:`UsageError` (one line, exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def report(prog: str, e: BaseException) -> int:
    """Print ``prog: error: <first line of e>`` on stderr; returns the exit status 2."""
    text = str(e).strip()
    line = text.splitlines()[0] if text else type(e).__name__
    print(f"{prog}: error: {line}", file=sys.stderr)
    return EXIT_USAGE


def warn(prog: str, message: str) -> None:
    """A warning the user should see (input cut, option without effect): one stderr line."""
    print(f"{prog}: warning: {message}", file=sys.stderr)


def int_at_least(low: int, note: str = "") -> Callable[[str], int]:
    """Option type: an integer >= ``low`` (``note`` explains what the bound means)."""

    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not a whole number") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"{v} is too small: at least {low}{note}")
        return v

    parse.__name__ = "integer"
    return parse


def int_in(low: int, high: int) -> Callable[[str], int]:
    """Option type: an integer in [low, high]."""

    def parse(s: str) -> int:
        v = int_at_least(low)(s)
        if v > high:
            raise argparse.ArgumentTypeError(f"{v} is too large: use {low}-{high}")
        return v

    parse.__name__ = "integer"
    return parse


def float_in(low: float, high: float = math.inf, low_open: bool = False,
             high_open: bool = False) -> Callable[[str], float]:
    """Option type: a finite number in the interval; open ends are written ``(`` / ``)``."""
    span = f"{'(' if low_open else '['}{low:g}, {'∞' if math.isinf(high) else f'{high:g}'}" \
           f"{')' if high_open or math.isinf(high) else ']'}"

    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
        ok = math.isfinite(v) and (v > low if low_open else v >= low) and (
            v < high if high_open else v <= high)
        if not ok:
            raise argparse.ArgumentTypeError(f"{s} is outside {span}")
        return v

    parse.__name__ = "number"
    return parse


def require(condition: bool, message: str) -> None:
    """Raise :class:`UsageError` with ``message`` unless ``condition``."""
    if not condition:
        raise UsageError(message)


def read_utf8_lines(stream: Any, name: str = "stdin") -> Any:
    """Yield the lines of a binary stream as text; invalid UTF-8 is a UsageError naming the line."""
    for number, raw in enumerate(stream, 1):
        try:
            yield raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise UsageError(f"{name} line {number}: not valid UTF-8 (byte {e.start + 1})") from None


def forced_config(engine: Any, reference: str, cfg: Any) -> Any:
    """``cfg`` teacher-forcing ``reference`` (``--force-target``): its pieces and EOS are
    forced on one greedy row, so the inspection shows what the model saw on that target."""
    ids = [*engine.tokenizer.encode(reference), engine.model_config.eos_id]
    require(len(ids) > 1, "--force-target: the reference translation is empty")
    limit = engine.model_config.max_len - 1
    require(len(ids) <= limit, f"--force-target: {len(ids)} pieces, the model's positions hold {limit}")
    return cfg.replace(strategy="greedy", beam_size=1, n_best=1, forced_prefix=tuple(ids), max_len=len(ids))
