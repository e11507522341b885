"""What the app and the figure export need from an engine, and what an engine needs from
a tokenizer: structural types, so a test double is checked like the real thing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from attnscope.core.bundle import Bundle
from attnscope.core.config import DecodeConfig, ModelConfig
from attnscope.core.inference.inspection import Inspection
from attnscope.core.tokenizer import PieceTokenizer, SpecialIds

__all__ = ["CancelFn", "DueFn", "InspectionEngine", "Inspector", "PieceTokenizer", "ProgressFn"]

ProgressFn = Callable[[Inspection], None]  # receives partial Inspections during a decode
CancelFn = Callable[[], bool]  # True: stop before the next decoder step
DueFn = Callable[[], bool]  # False: the next partial is not wanted yet (nothing is assembled)


class InspectionEngine(Protocol):
    """An engine as the app uses it (``core.inference.engine.Engine`` is one)."""

    @property
    def provider(self) -> str: ...  # "CPU", "CUDA" or "torch"
    @property
    def bundle(self) -> Bundle: ...
    @property
    def model_config(self) -> ModelConfig: ...
    @property
    def bundle_path(self) -> Path: ...
    @property
    def precision(self) -> str: ...  # "float", or "int8" when quantised at load
    @property
    def precision_text(self) -> str: ...  # for the status bar
    @property
    def special(self) -> SpecialIds: ...  # pad, eos, decoder start, language codes, source framing
    def piece(self, i: int) -> str: ...
    def piece_id(self, piece: str) -> int: ...
    def decode_defaults(self) -> DecodeConfig: ...  # an imported model's generation_config.json
    def languages(self) -> dict[str, int]: ...  # a multilingual model's codes ({} otherwise)
    def set_source_language(self, code: str) -> None: ...
    def target_language(self, cfg: DecodeConfig, code: str) -> DecodeConfig: ...  # cfg decoding into ``code``
    def inspect(self, text: str, config: DecodeConfig | None = None, progress: ProgressFn | None = None,
                cancel: CancelFn | None = None, progress_due: DueFn | None = None) -> Inspection: ...


class Inspector(Protocol):
    """Anything that decodes a sentence on request: an engine, or a bundle's snapshots
    (``SnapshotSet.inspect`` returns one decode per snapshot)."""

    def inspect(self, text: str, config: DecodeConfig) -> object: ...
