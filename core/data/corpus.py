"""Pick the training data of a run: the generated corpus, a TSV file, a split folder, or Moses files."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attnscope.core.data.generate import write_splits
from attnscope.core.data.loaders import CorpusError, load_parallel, load_tsv


@dataclass(frozen=True)
class Corpus:
    train: list[tuple[str, str]]
    valid: list[tuple[str, str]]
    test: list[tuple[str, str]]
    provenance: dict[str, Any] = field(default_factory=dict)


def _pairs(items: list[Any]) -> list[tuple[str, str]]:
    return [(p.en, p.ko) for p in items]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _hold_out(pairs: list[tuple[str, str]], n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Every k-th distinct source sentence goes to validation, none of them stays in train."""
    k = max(len(pairs) // max(n, 1), 2)
    held = {en for i, (en, _) in enumerate(pairs) if i % k == k - 1}
    return [p for p in pairs if p[0] not in held], [p for p in pairs if p[0] in held][:n]


def load_corpus(data: str | None, out_dir: Path, pairs: int = 60_000, seed: int = 0) -> Corpus:
    """``data`` None: the generated EN→KO corpus (written to ``out_dir``).
    A folder: its train.tsv, valid.tsv and optional test.tsv.
    A file: tab-separated pairs, 2 % (at most 1000) held out for validation.
    ``SRC,TGT``: Moses-style parallel files, held out the same way.
    """
    if data is None:
        if not (out_dir / "train.tsv").exists():
            held = min(1000, max(pairs // 20, 10))  # 1000 each at the default 60 000
            write_splits(out_dir, n_pairs=pairs, seed=seed, valid=held, test=held)
        data_path = out_dir
        kind = "generated"
    elif "," in data and not Path(data).exists():
        src, tgt = data.split(",", 1)
        every = _pairs(load_parallel(Path(src), Path(tgt)))
        train, valid = _hold_out(every, min(1000, max(len(every) // 50, 1)))
        return Corpus(train, valid, [], {"kind": "parallel", "source": src, "target": tgt,
                                         "sha256": [_digest(Path(src)), _digest(Path(tgt))]})
    else:
        data_path = Path(data)
        kind = "folder"
    if not data_path.exists():
        raise CorpusError(f"{data_path}: no such file or folder")
    if data_path.is_file():
        every = _pairs(load_tsv(data_path))
        train, valid = _hold_out(every, min(1000, max(len(every) // 50, 1)))
        return Corpus(train, valid, [], {"kind": "tsv", "file": str(data_path), "sha256": _digest(data_path)})
    train_f = data_path / "train.tsv"
    if not train_f.exists():
        raise CorpusError(f"{data_path}: a data folder needs train.tsv (and valid.tsv)")
    train = _pairs(load_tsv(train_f))
    valid_f, test_f = data_path / "valid.tsv", data_path / "test.tsv"
    if valid_f.exists():
        valid = _pairs(load_tsv(valid_f))
    else:
        train, valid = _hold_out(train, min(1000, max(len(train) // 50, 1)))
    test = _pairs(load_tsv(test_f)) if test_f.exists() else []
    prov: dict[str, Any] = {"kind": kind, "folder": str(data_path), "sha256": _digest(train_f)}
    if data is None:
        prov.update({"pairs": pairs, "seed": seed})
    return Corpus(train, valid, test, prov)
