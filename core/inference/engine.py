"""The inference engine: onnxruntime, numpy and sentencepiece only (no torch).

``Engine.load(bundle)`` opens a model bundle; ``Engine.inspect(text, DecodeConfig)`` decodes
one sentence and returns an ``Inspection`` with every attention matrix. The decode loop
is model-agnostic: a runner encodes and steps, the search (pure numpy) picks survivors.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from attnscope.core.bundle import Bundle, BundleError, read_bundle
from attnscope.core.config import DecodeConfig, ModelConfig
from attnscope.core.inference.contributions import ContributionRunner, Contributions, load_runner
from attnscope.core.inference.inspection import Inspection, StepRecord, build_path
from attnscope.core.inference.logits import DENSE_MAX, StepLogits
from attnscope.core.inference.protocols import CancelFn, DueFn, ProgressFn
from attnscope.core.inference.search import Search, SearchResult, make_search
from attnscope.core.inference.sessions import session_options
from attnscope.core.tokenizer import SpecialIds, TextTokenizer, load_tokenizer, tokenizer_files


class EncoderOutput(NamedTuple):
    memory: np.ndarray  # [B, S, D]
    enc_attn: np.ndarray  # [L, B, H, S, S]
    cross_k: np.ndarray  # [L, B, H, S, d_k]
    cross_v: np.ndarray
    enc_vnorm: np.ndarray | None = None  # [L, B, H, S] value norms (None: graphs without them)
    cross_vnorm: np.ndarray | None = None  # [L, B, H, S]


class StepOutput(NamedTuple):
    logits: np.ndarray  # [K, V]
    present_k: np.ndarray  # [L, K, H, P+1, d_k]
    present_v: np.ndarray
    self_attn: np.ndarray  # [L, K, H, 1, P+1]
    cross_attn: np.ndarray  # [L, K, H, 1, S]
    self_vnorm: np.ndarray | None = None  # [L, K, H, 1] value norm of each row's new piece


class Runner(Protocol):
    def encode(self, src_ids: np.ndarray, src_mask: np.ndarray) -> EncoderOutput: ...

    def step(self, token: np.ndarray, position: np.ndarray, src_mask: np.ndarray, cross_k: np.ndarray,
             cross_v: np.ndarray, past_k: np.ndarray, past_v: np.ndarray) -> StepOutput: ...


StepFn = Callable[[EncoderOutput, tuple[StepRecord, ...], Search], None]


_CUDA_WORKS: bool | None = None  # learnt once per process: does the CUDA provider really load?


def _session(path: Path, threads: int, want_cuda: bool) -> object:
    import onnxruntime as ort

    global _CUDA_WORKS
    opts = session_options(threads)
    providers = ["CPUExecutionProvider"]
    try_cuda = want_cuda and _CUDA_WORKS is not False and "CUDAExecutionProvider" in ort.get_available_providers()
    if try_cuda:
        providers.insert(0, "CUDAExecutionProvider")
        # onnxruntime-gpu lists CUDA even without the CUDA libraries and logs a failure
        # while falling back; keep that out of the user's terminal, the status bar says CPU.
        ort.set_default_logger_severity(4)
    try:
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BundleError(f"{path}: onnxruntime cannot load it ({first})") from e
    finally:
        ort.set_default_logger_severity(2)
    if try_cuda:
        _CUDA_WORKS = sess.get_providers()[0] == "CUDAExecutionProvider"
    return sess


THREADS_ENV = "ATTNSCOPE_THREADS"  # a user's own intra-op thread count, for every engine


def default_threads(d_model: int) -> int:
    """Intra-op threads for a model of width ``d_model`` on this machine: one for small
    models, where a second thread costs more than it brings (benchmarks/bench_inference.py),
    two from base size on (benchmarks/bench_real_size.py: 146-152 ms against 251-262 ms on
    one, 2 cores), never more than the cores this process may run on. ``ATTNSCOPE_THREADS``
    overrides it (a machine with more cores than were measured here)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise BundleError(f"{THREADS_ENV}={raw!r}: the thread count must be a whole number of at least 1")
        return int(raw)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    return 1 if d_model <= 256 else max(1, min(2, cores))


class OrtRunner:
    """Runs encoder.onnx and decoder.onnx; uses CUDA only where it really runs."""

    def __init__(self, bundle: Bundle, threads: int = 1, want_cuda: bool = True) -> None:
        self.encoder = _session(bundle.file("encoder.onnx"), threads, want_cuda)
        self.decoder = _session(bundle.file("decoder.onnx"), threads, want_cuda)
        # onnxruntime-gpu lists CUDA as available even without CUDA: trust the session.
        used = self.decoder.get_providers()  # type: ignore[attr-defined]
        self.provider = "CUDA" if used and used[0] == "CUDAExecutionProvider" else "CPU"
        names = [o.name for o in self.decoder.get_outputs()]  # type: ignore[attr-defined]
        expected = ["logits", "present_k", "present_v", "self_attn", "cross_attn"]
        if names[:len(expected)] != expected:
            raise BundleError(f"{bundle.file('decoder.onnx')}: outputs {names}, expected {expected}")
        vocab = self.decoder.get_outputs()[0].shape[-1]  # type: ignore[attr-defined]
        if isinstance(vocab, int) and vocab != bundle.model.vocab_size:
            raise BundleError(f"{bundle.file('decoder.onnx')}: vocabulary of {vocab} pieces, "
                              f"config.json says {bundle.model.vocab_size}")

    def encode(self, src_ids: np.ndarray, src_mask: np.ndarray) -> EncoderOutput:
        out = self.encoder.run(None, {"src_ids": src_ids, "src_mask": src_mask})  # type: ignore[attr-defined]
        return EncoderOutput(*out)

    def step(self, token: np.ndarray, position: np.ndarray, src_mask: np.ndarray, cross_k: np.ndarray,
             cross_v: np.ndarray, past_k: np.ndarray, past_v: np.ndarray) -> StepOutput:
        feeds = {"token": token, "position": position, "src_mask": src_mask, "cross_k": cross_k,
                 "cross_v": cross_v, "past_k": past_k, "past_v": past_v}
        return StepOutput(*self.decoder.run(None, feeds))  # type: ignore[attr-defined]


def _on_device(runner: OrtRunner) -> Runner:
    """On CUDA, keep the key/value cache on the GPU between steps (IO binding)."""
    if runner.provider != "CUDA":
        return runner
    from attnscope.core.inference.iobinding import IoBindingRunner

    return IoBindingRunner(runner)


@dataclass
class Engine:
    """Decode sentences with a bundle and capture everything the model saw."""

    bundle: Bundle
    tokenizer: TextTokenizer  # a PieceTokenizer that also names the bundle's special ids
    runner: Runner
    provider: str
    precision: str = "float"  # "int8": the graphs were quantised at load (opt-in)
    int8_difference: dict[str, float] | None = None  # attention |Δ| to float, measured at load
    alti: ContributionRunner | None = None  # ALTI+ graph of the final model (None: not exported)
    with_contributions: bool = True  # compute ALTI+ of the best hypothesis in every inspect()

    @classmethod
    def load(cls, bundle: str | Path | Bundle | None = None, runner: Runner | None = None,
             threads: int | None = None, device: str = "auto", snapshot: str | None = None,
             precision: str = "float", contributions: bool = True) -> Engine:
        """Open a bundle (None = the shipped default); raises BundleError naming the bad file.

        ``snapshot`` ("step-000120", one of ``bundle.snapshots()``) runs that earlier
        training state's graphs with the bundle's tokenizer. ``precision="int8"`` quantises
        the graphs (cached) and measures the attention difference to float on probe sentences.
        ``contributions=False`` leaves the ALTI+ graph and its weights unloaded.
        """
        if precision not in ("float", "int8"):
            raise ValueError(f"precision must be 'float' or 'int8', got {precision!r}")
        b = bundle if isinstance(bundle, Bundle) else read_bundle(bundle)
        if snapshot is not None:
            b = b.snapshot(snapshot)
        section = b.tokenizer_section
        first = b.file(tokenizer_files(section)[0])
        try:
            tok = load_tokenizer(b.path, section)
        except (RuntimeError, OSError, ValueError, KeyError) as e:
            raise BundleError(f"{first}: not a readable tokenizer ({e})") from e
        # Imported vocabularies may be padded beyond the tokenizer (never the other way round).
        ok = len(tok) == b.model.vocab_size if section.get("type", "sentencepiece") == "sentencepiece" \
            else len(tok) <= b.model.vocab_size
        if not ok:
            raise BundleError(f"{first}: {len(tok)} pieces, but the model was trained "
                              f"with {b.model.vocab_size} (config.json)")
        if runner is None:
            n = threads if threads is not None else default_threads(b.model.d_model)
            # Quantised (or found in the cache) before the float graphs load: the quantiser
            # needs about three times a graph's size, and at NLLB-600M the float sessions
            # held meanwhile raised the peak from 10.9 to 15.4 GB resident (measured).
            q = None
            if precision == "int8":
                from attnscope.core.inference.int8 import int8_bundle

                q = int8_bundle(b)
            ort_runner = OrtRunner(b, n, want_cuda=device != "cpu")
            # float weights: an int8 engine's ALTI+ is its float model's
            alti = load_runner(b, n) if contributions else None
            engine = cls(b, tok, _on_device(ort_runner), ort_runner.provider, alti=alti)
            if q is not None:
                from attnscope.core.inference.int8 import attention_difference

                q_runner = OrtRunner(q, n, want_cuda=device != "cpu")
                q_engine = cls(b, tok, _on_device(q_runner), q_runner.provider, "int8", alti=alti)
                q_engine.int8_difference = attention_difference(engine, q_engine)
                return q_engine
            return engine
        return cls(b, tok, runner, "torch", alti=load_runner(b) if contributions else None)

    @property
    def precision_text(self) -> str:
        """What the status bar says about the weights: float, or 8-bit and its measured cost."""
        d = self.int8_difference
        if self.precision != "int8" or d is None:
            return "float32"
        return f"8-bit (attention |Δ| to float: mean {d['mean']:.4f}, max {d['max']:.3f})"

    @property
    def model_config(self) -> ModelConfig:
        return self.bundle.model

    @property
    def bundle_path(self) -> Path:
        return self.bundle.path

    @property
    def snapshot(self) -> str | None:
        """The snapshot whose graphs run here (None: the final model)."""
        return self.bundle.snapshot_name

    @property
    def special(self) -> SpecialIds:
        """The bundle's special ids (a tokenizer that names none has ours)."""
        sp = getattr(self.tokenizer, "special", None)
        return sp if isinstance(sp, SpecialIds) else SpecialIds()

    def decode_defaults(self) -> DecodeConfig:
        """The bundle's generation defaults (ours: DecodeConfig())."""
        return self.bundle.decode_defaults()

    def languages(self) -> dict[str, int]:
        """A multilingual model's language codes and their piece ids ({} otherwise)."""
        return dict(self.special.languages)

    def set_source_language(self, code: str) -> None:
        """Frame sources with this language's code (NLLB, M2M100, mBART-50)."""
        langs = self.special.languages
        if code not in langs:
            raise BundleError(f"{self.bundle.file('config.json')}: no source language {code!r} "
                              f"(known: {', '.join(sorted(langs)) or 'none'})")
        self.tokenizer.special = dataclasses.replace(self.special, source_lang=langs[code])

    def target_language(self, cfg: DecodeConfig, code: str) -> DecodeConfig:
        """``cfg`` with the target language's code forced as the first piece, or, for a
        model whose decoder starts with it (mBART-cc25), the engine's decoder start set to it."""
        langs = self.special.languages
        if code not in langs:
            raise BundleError(f"{self.bundle.file('config.json')}: no target language {code!r} "
                              f"(known: {', '.join(sorted(langs)) or 'none'})")
        if self.bundle.config.get("tokenizer", {}).get("target_as") == "decoder_start":
            self.tokenizer.special = dataclasses.replace(self.special, decoder_start=langs[code])
            return cfg
        return cfg.replace(forced_bos_id=langs[code])

    def piece(self, i: int) -> str:
        return self.tokenizer.piece(i)

    def piece_id(self, piece: str) -> int:
        return self.tokenizer.piece_id(piece)

    def inspect(self, text: str, config: DecodeConfig | None = None, progress: ProgressFn | None = None,
                cancel: CancelFn | None = None, progress_due: DueFn | None = None) -> Inspection:
        """Decode ``text``; the Inspection holds the tree, attention and logits of every step.

        ``progress`` receives partial Inspections as the decode goes (``complete`` False):
        the encoder's alone, then one after every decoder step, so a window can paint a
        base-size model before its search ends. ``progress_due`` is asked before each of
        those is assembled; False skips it (a window that will not paint the next one yet
        saves the decode that work). ``cancel`` is asked before every step; when it answers
        True the decode stops there and the partial result so far is returned.
        """
        cfg = config or DecodeConfig()
        t0 = time.perf_counter()
        m = self.bundle.model
        ids = self.tokenizer.encode(text) if text.strip() else []
        sp = self.special
        limit = m.max_len - len(sp.source_prefix) - len(sp.source_suffix)  # room for the framing
        truncated_in = len(ids) > limit
        ids = ids[:limit]
        if not ids:  # nothing to translate: an empty inspection, not an error
            empty = build_path((), (), (), 0)
            return Inspection(text, cfg, np.zeros(0, np.int64), (), False,
                              np.zeros((m.n_encoder_layers, m.n_heads, 0, 0), np.float32), (), (), (), (),
                              False, "", empty, {"total": (time.perf_counter() - t0) * 1e3}, self.provider)
        src = np.array([sp.frame(ids)], dtype=np.int64)  # [1, S]
        src_pieces = tuple(self.tokenizer.pieces(src[0]))
        node_pieces: list[str] = []  # grows with the tree; a node's piece never changes

        def assemble(enc: EncoderOutput, steps: tuple[StepRecord, ...], result: SearchResult,
                     timings: dict[str, float], complete: bool) -> Inspection:
            nodes = result.nodes
            node_pieces.extend(self.tokenizer.piece(n.token) for n in nodes[len(node_pieces):])
            pieces = tuple(node_pieces[: len(nodes)])
            best_id = result.hypotheses[0].node_id if result.hypotheses else 0
            best = build_path(nodes, pieces, steps, best_id)
            vnorms = [None if a is None else a[:, 0] for a in (enc.enc_vnorm, enc.cross_vnorm)]  # [L, H, S]
            return Inspection(
                text=text, config=cfg, source_ids=src[0], source_pieces=src_pieces,
                truncated_input=truncated_in, encoder_attention=enc.enc_attn[:, 0], steps=steps,
                nodes=nodes, node_pieces=pieces, hypotheses=result.hypotheses,
                truncated_output=result.truncated and complete, translation=self.tokenizer.decode(best.target_ids.tolist()),
                best=best, timings_ms=timings, provider=self.provider, complete=complete,
                encoder_value_norms=vnorms[0], cross_value_norms=vnorms[1],
            )

        on_step: StepFn | None = None
        if progress is not None:
            def on_step(enc: EncoderOutput, steps: tuple[StepRecord, ...], search: Search) -> None:
                if progress_due is not None and not progress_due():
                    return
                ms = (time.perf_counter() - t0) * 1e3
                progress(assemble(enc, steps, search.result(), {"total": ms, "steps": float(len(steps))}, False))

        t_tok = time.perf_counter()
        dec = decode(self.runner, src, cfg, m, on_step=on_step, cancel=cancel, special=sp)
        t_dec = time.perf_counter()
        timings = {"tokenize": (t_tok - t0) * 1e3, "encode": dec.encode_ms,
                   "decode": (t_dec - t_tok) * 1e3 - dec.encode_ms, "steps": float(len(dec.steps))}
        ins = assemble(dec.encoder, dec.steps, dec.result, timings, not dec.cancelled)
        t_alti = time.perf_counter()
        if self.with_contributions and ins.complete:  # ALTI+ of the best hypothesis: one graph call
            ins = dataclasses.replace(ins, contributions=self.contributions(src[0], ins.best.target_ids))
        t_end = time.perf_counter()
        timings.update(assemble=(t_alti - t_dec) * 1e3, contributions=(t_end - t_alti) * 1e3,
                       total=(t_end - t0) * 1e3)
        return ins

    def contributions(self, source_ids: np.ndarray, target_ids: np.ndarray) -> Contributions | None:
        """ALTI+ of ``target_ids`` (generated pieces, no start piece) given ``source_ids`` [S];
        None when the bundle has no ALTI+ graph or nothing was generated."""
        if self.alti is None or len(target_ids) == 0:
            return None
        start = self.special.decoder_start
        tgt_in = np.concatenate([[start], np.asarray(target_ids, np.int64)[:-1]])  # teacher forcing
        return self.alti.contributions(np.asarray(source_ids, np.int64), tgt_in)


@dataclass(frozen=True)
class Decoded:
    encoder: EncoderOutput
    steps: tuple[StepRecord, ...]
    result: SearchResult
    encode_ms: float
    step_ms: tuple[float, ...]  # wall time of each model step (runner only)
    cancelled: bool = False  # stopped by ``cancel`` before the search was done


def decode(runner: Runner, src: np.ndarray, cfg: DecodeConfig, m: ModelConfig, on_step: StepFn | None = None,
           cancel: CancelFn | None = None, special: SpecialIds | None = None) -> Decoded:
    """Encode ``src`` [1, S] once, then step the decoder while the search wants more pieces.

    ``on_step`` is called after the encoder (no steps yet) and after every step with the
    records so far and the search; ``cancel`` is asked before every model call and stops
    the decode within one step (latest wins: a newer keystroke supersedes this one).
    ``special`` names the decoder start, EOS and the pieces never generated (the bundle's).
    """
    sp = special or SpecialIds()
    t0 = time.perf_counter()
    src_mask = np.ones_like(src)
    enc = runner.encode(src, src_mask)
    encode_ms = (time.perf_counter() - t0) * 1e3
    max_steps = max(1, min(cfg.max_len, m.max_len - 1))  # positions must stay inside the table
    search = make_search(cfg.replace(max_len=max_steps), bos_id=sp.decoder_start, eos_id=sp.eos,
                         vocab_size=m.vocab_size, banned=sp.banned)
    past_k = np.zeros((m.n_decoder_layers, 1, m.decoder_n_heads, 0, m.decoder_d_k), np.float32)
    past_v = past_k
    cross_k, cross_v, mask_k = enc.cross_k, enc.cross_v, src_mask
    steps: list[StepRecord] = []
    step_ms: list[float] = []
    position = 0
    cancelled = False
    if on_step is not None:
        on_step(enc, (), search)
    while not search.done:
        if cancel is not None and cancel():
            cancelled = True
            break
        tokens = search.input_tokens()
        alive = search.alive_nodes()  # the tree nodes that feed each row
        k = len(tokens)
        if cross_k.shape[1] != k:  # the beam widened or narrowed: tile the sentence's keys/values
            cross_k = np.repeat(enc.cross_k, k, axis=1)
            cross_v = np.repeat(enc.cross_v, k, axis=1)
            mask_k = np.repeat(src_mask, k, axis=0)
        ts = time.perf_counter()
        out = runner.step(tokens.reshape(k, 1).astype(np.int64), np.array([position], np.int64),
                          mask_k, cross_k, cross_v, past_k, past_v)
        step_ms.append((time.perf_counter() - ts) * 1e3)
        vn = out.self_vnorm
        first_new = len(search.nodes_since(0))
        rows = search.advance(out.logits)
        always: list[list[int]] | None = None
        if m.vocab_size > DENSE_MAX:  # keep, beside the top logits, every piece a row chose
            row_of = {int(n): r for r, n in enumerate(alive.tolist())}
            always = [[sp.decoder_start] for _ in range(k)]
            for node in search.nodes_since(first_new):
                if node.parent in row_of:
                    always[row_of[node.parent]].append(node.token)
        steps.append(StepRecord(
            node_ids=alive,
            logits=StepLogits.keep(out.logits, always, log_z=search.last_log_z),
            self_attention=out.self_attn[:, :, :, 0, :].transpose(0, 2, 1, 3),  # [L,K,H,1,t+1] -> [L,H,K,t+1]
            cross_attention=out.cross_attn[:, :, :, 0, :].transpose(0, 2, 1, 3),  # [L,K,H,1,S] -> [L,H,K,S]
            self_value_norms=None if vn is None else vn[..., 0].transpose(0, 2, 1),  # [L,K,H,1] -> [L,H,K]
        ))
        past_k, past_v = out.present_k[:, rows], out.present_v[:, rows]
        position += 1
        if on_step is not None and not search.done:  # the last step is the complete result
            on_step(enc, tuple(steps), search)
    return Decoded(enc, tuple(steps), search.result(), encode_ms, tuple(step_ms), cancelled)
