"""Decoding strategies (greedy, beam, sampling) over raw logits, in pure numpy.

The search never calls the model (OpenNMT-py ``BeamSearch.advance`` style)::

    search = make_search(cfg, bos_id=BOS, eos_id=EOS, vocab_size=V)
    while not search.done:
        tokens = search.input_tokens()        # int64 [K]: token fed by each alive row
        logits = model_step(tokens, cache)    # float [K, V] raw logits
        parent_rows = search.advance(logits)  # int64 [K']: old row each new row extends
        cache = cache[:, parent_rows]
    result = search.result()

Greedy and beam rank by the model's own log-probs (T = 1); temperature, top-k and
top-p only shape the sampling distribution. BOS is never generated: its log-prob
is masked to -inf *without* renormalising, so every node records its real
log-prob under the model. Every hypothesis ever on the beam is a node of the
tree, plus up to ``beam_size`` runner-up leaves per step (candidates from the
top ``2 * beam_size`` that lost). Node statuses are assigned by ``result()``:

* ``"finished"``: an EOS-terminated hypothesis that was kept;
* ``"alive"``: a final unfinished hypothesis (still on the beam when the search
  hit ``max_len``, or when ``result()`` is called early), or any node on the
  path from the root to a final (finished or unfinished) hypothesis;
* ``"pruned"``: everything else: runner-up leaves, dead branches, and rows still
  on the beam when the search stopped because ``beam_size`` hypotheses finished.

Final hypotheses are ranked finished-first, then by length-penalised score.

Imported models decode as ``transformers`` ``generate()`` does: the logits processors
(banned pieces such as pad/unk, ``min_length``, ``no_repeat_ngram_size``, a forced first
piece and a forced EOS at the last step) run on every strategy, a forced piece's log-prob
counts as 0 as it does there, and ``early_stopping`` "true" | "false" | "never" selects
``HFBeamSearch``, transformers' beam search rules with its length penalty score / n^alpha.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from attnscope.core.inference.logits import as_logits, log_z_of, top_order

STRATEGIES = ("greedy", "beam", "sample")


class DecodeConfigLike(Protocol):
    """Read-only view of the decoding fields of ``core.config.DecodeConfig``."""

    @property
    def strategy(self) -> str: ...
    @property
    def beam_size(self) -> int: ...
    @property
    def length_penalty(self) -> float: ...
    @property
    def n_best(self) -> int: ...
    @property
    def temperature(self) -> float: ...
    @property
    def top_k(self) -> int: ...
    @property
    def top_p(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def max_len(self) -> int: ...
    @property
    def forced_prefix(self) -> tuple[int, ...]: ...
    @property
    def length_penalty_kind(self) -> str: ...
    @property
    def early_stopping(self) -> str: ...
    @property
    def min_length(self) -> int: ...
    @property
    def no_repeat_ngram_size(self) -> int: ...
    @property
    def forced_bos_id(self) -> int: ...
    @property
    def forced_eos_id(self) -> int: ...


@dataclass(frozen=True)
class BeamNode:
    """One hypothesis prefix in the search tree (see module docstring for status)."""

    id: int
    parent: int
    token: int
    logprob: float
    cum_logprob: float
    score: float
    step: int
    status: str
    forced: bool


@dataclass(frozen=True)
class Hypothesis:
    """A final hypothesis: generated tokens (incl. EOS if finished) and its last node."""

    tokens: tuple[int, ...]
    node_id: int
    score: float
    cum_logprob: float
    finished: bool


@dataclass(frozen=True)
class SearchResult:
    """The whole tree, the n-best hypotheses (best first) and the rows fed per step."""

    nodes: tuple[BeamNode, ...]
    hypotheses: tuple[Hypothesis, ...]
    truncated: bool
    alive_per_step: tuple[np.ndarray, ...]


def length_penalty(n: int, alpha: float, kind: str = "gnmt") -> float:
    """GNMT length penalty lp(n) = ((5 + n) / 6) ** alpha (Wu et al. 2016); "hf": n ** alpha."""
    if kind == "hf":
        return float(n ** alpha)
    return float(((5.0 + n) / 6.0) ** alpha)


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Numerically stable log-softmax over the last axis, returned in float64."""
    x = as_logits(x)
    out: np.ndarray = np.subtract(x, log_z_of(x), dtype=np.float64)
    return out


class LogProbs:
    """The log-probs of a step's K rows, [K, V], as the search sees them after the processors.

    Held as the logits (a copy the processors write -inf into) and each row's log Z over
    the unprocessed logits: log p[r, t] = float64(z[r, t]) - log_z[r], exactly what
    ``log_softmax`` gives, and a piece the processors mask stays -inf (no renormalising).
    Only the entries the search asks for are converted: at 58k pieces, building every
    row's float64 log-probs each step took more time than the rest of the search."""

    __slots__ = ("z", "log_z", "row_max")

    def __init__(self, logits: np.ndarray) -> None:
        x = as_logits(logits)
        self.row_max = np.max(x, axis=-1, keepdims=True)  # NaN where a row has one (max propagates it)
        self.z = x.copy()
        self.log_z: np.ndarray = log_z_of(x, self.row_max)[..., 0]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.z.shape)

    def at(self, row: int, token: int) -> float:
        return float(self.z[row, token]) - float(self.log_z[row])

    def take(self, rows: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """log p of each (row, token) pair, float64."""
        out: np.ndarray = np.subtract(self.z[rows, tokens], self.log_z[rows], dtype=np.float64)
        return out

    def mask(self, rows: int | slice | list[int], tokens: int | np.ndarray) -> None:
        """A processor rules these pieces out: log p = -inf."""
        self.z[rows, tokens] = -np.inf

    def force(self, token: int) -> None:
        """A processor forces ``token`` on every row: log p 0 for it, -inf for the rest."""
        self.z[:] = -np.inf
        self.z[:, token] = 0.0
        self.log_z[:] = 0.0

    def dense(self) -> np.ndarray:
        """Every entry, [K, V] float64 (tests and small vocabularies)."""
        out: np.ndarray = np.subtract(self.z, self.log_z[:, None], dtype=np.float64)
        return out


def validate_config(cfg: DecodeConfigLike, bos_id: int, eos_id: int, vocab_size: int,
                    banned: tuple[int, ...] | None = None) -> None:
    """Raise ValueError with a clear message if the config or vocabulary is unusable."""
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {cfg.strategy!r}; expected one of {STRATEGIES}")
    if cfg.beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {cfg.beam_size}")
    if cfg.n_best < 1:
        raise ValueError(f"n_best must be >= 1, got {cfg.n_best}")
    if not cfg.temperature > 0:
        raise ValueError(f"temperature must be > 0, got {cfg.temperature}")
    if not 0 < cfg.top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1.0 = off), got {cfg.top_p}")
    if cfg.top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0 = off), got {cfg.top_k}")
    if cfg.max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {cfg.max_len}")
    if vocab_size < 2 or not (0 <= bos_id < vocab_size and 0 <= eos_id < vocab_size):
        raise ValueError(f"bos_id={bos_id} / eos_id={eos_id} must lie in [0, {vocab_size})")
    if banned is None and bos_id == eos_id:
        raise ValueError(f"bos_id and eos_id must differ, both are {bos_id}")
    if len(cfg.forced_prefix) > cfg.max_len:
        raise ValueError(f"forced_prefix has {len(cfg.forced_prefix)} tokens but max_len is {cfg.max_len}")
    masked = (bos_id,) if banned is None else banned
    for t in cfg.forced_prefix:
        if not 0 <= t < vocab_size or t in masked:
            raise ValueError(f"forced_prefix token {t} is BOS or outside [0, {vocab_size})")
    if getattr(cfg, "early_stopping", "") not in ("", "true", "false", "never"):
        raise ValueError(f"early_stopping must be '', 'true', 'false' or 'never', got {cfg.early_stopping!r}")


class Search(ABC):
    """Shared state: the node tree, the alive rows and the finished hypotheses."""

    def __init__(self, cfg: DecodeConfigLike, bos_id: int, eos_id: int, vocab_size: int,
                 banned: tuple[int, ...] | None = None) -> None:
        validate_config(cfg, bos_id, eos_id, vocab_size, banned)
        self.cfg = cfg
        self.bos_id, self.eos_id, self.vocab_size = int(bos_id), int(eos_id), int(vocab_size)
        # Pieces never generated: the decoder start by default; a bundle names its own (pad, unk).
        self.banned = np.array(sorted({self.bos_id} if banned is None else set(banned)), dtype=np.int64)
        self.capacity = 1  # finished hypotheses needed to stop
        self.runners_up = 0  # max runner-up leaves recorded per step
        self._alpha = float(cfg.length_penalty)
        self._lp_kind = getattr(cfg, "length_penalty_kind", "gnmt")
        self._min_length = int(getattr(cfg, "min_length", 0))
        self._ngram = int(getattr(cfg, "no_repeat_ngram_size", 0))
        self._forced_bos = int(getattr(cfg, "forced_bos_id", -1))
        self._forced_eos = int(getattr(cfg, "forced_eos_id", -1))
        self._prefix = tuple(int(t) for t in cfg.forced_prefix)
        root = BeamNode(0, -1, self.bos_id, 0.0, 0.0, 0.0, 0, "alive", False)
        self._nodes: list[BeamNode] = [root]
        self._alive: list[int] = [0]
        self._finished: list[int] = []
        self._alive_per_step: list[np.ndarray] = []
        self._step = 0
        self.last_log_z: np.ndarray | None = None  # [K] log Z of the last logits advanced on

    @property
    def done(self) -> bool:
        """True once nothing is alive, enough hypotheses finished, or max_len is hit."""
        return not self._alive or len(self._finished) >= self.capacity or self._step >= self.cfg.max_len

    def alive_nodes(self) -> np.ndarray:
        """The tree node each alive row extends, int64 [K] (the rows the next step feeds)."""
        return np.array(self._alive, dtype=np.int64)

    def nodes_since(self, start: int) -> list[BeamNode]:
        """The tree's nodes from id ``start`` on (those the last ``advance`` created, say)."""
        return self._nodes[start:]

    def input_tokens(self) -> np.ndarray:
        """The token each alive row feeds to the model at this step, int64 [K]."""
        return np.array([self._nodes[i].token for i in self._alive], dtype=np.int64)

    def advance(self, logits: np.ndarray) -> np.ndarray:
        """Consume raw logits [K, V]; return, for each new alive row, its old row."""
        if self.done:
            raise RuntimeError("advance() called on a search that is done")
        x = as_logits(logits)
        expected = (len(self._alive), self.vocab_size)
        if x.shape != expected:
            raise ValueError(f"logits must have shape {expected}, got {x.shape}")
        with np.errstate(invalid="ignore", over="ignore"):
            logp = LogProbs(x)
        # A row's max is NaN when the row holds one, +inf for a +inf, -inf when nothing is finite.
        if not np.isfinite(logp.row_max).all():
            raise ValueError("logits contain NaN or +inf, or a row with no finite value")
        self._alive_per_step.append(np.array(self._alive, dtype=np.int64))
        self.last_log_z = logp.log_z.copy()  # the rows' log Z at T = 1, before the processors
        if self._step < len(self._prefix):
            parents = self._advance_forced(logp, self._prefix[self._step])
        else:
            parents = self._advance(x, self._process(logp))
        self._step += 1
        return np.asarray(parents, dtype=np.int64)

    def _process(self, logp: LogProbs) -> LogProbs:
        """transformers' logits processors on log-probs [K, V]: masked pieces get -inf, a
        forced piece 0 (no renormalisation, as in generate())."""
        logp.mask(slice(None), self.banned)
        if self._step + 1 < self._min_length:  # decoder input length counts the start token
            logp.mask(slice(None), self.eos_id)
        n = self._ngram
        if n > 0 and self._step + 2 >= n:
            for row, nid in enumerate(self._alive):
                seq = self._tokens(nid)
                prefix = tuple(seq[len(seq) - n + 1:]) if n > 1 else ()
                for i in range(len(seq) - n + 1):
                    if tuple(seq[i:i + n - 1]) == prefix:
                        logp.mask(row, seq[i + n - 1])
        forced = -1
        if self._step == 0 and self._forced_bos >= 0:
            forced = self._forced_bos
        elif self._forced_eos >= 0 and self._step == self.cfg.max_len - 1:
            forced = self._forced_eos
        if forced >= 0:
            logp.force(forced)
        return logp

    def _tokens(self, nid: int) -> list[int]:
        """The decoder input of node ``nid``'s row: the start token, then the path's pieces."""
        out = []
        while nid >= 0:
            out.append(self._nodes[nid].token)
            nid = self._nodes[nid].parent
        return out[::-1]

    @abstractmethod
    def _advance(self, logits: np.ndarray, logp: LogProbs) -> list[int]:
        """Strategy-specific step (no forced token); returns the parent rows."""

    def _advance_forced(self, logp: LogProbs, token: int) -> list[int]:
        """Extend the best-scoring row with the forced token (collapses to one row)."""
        old_alive = list(self._alive)
        row = int(np.argmax(self._cums(old_alive)))  # prefix steps come first, so K is 1 anyway
        parents = self._take(row, token, logp.at(row, token), forced=True)
        if self.runners_up:
            losers = self._candidates(old_alive, logp, 2 * self.runners_up)
            for r, t in [c for c in losers if c != (row, token)][: self.runners_up]:
                self._extend(old_alive[r], t, logp.at(r, t))
        return parents

    def _candidates(self, alive: list[int], logp: LogProbs, n: int) -> list[tuple[int, int]]:
        """Best n (row, token) pairs by cumulative log-prob, best first, banned pieces (BOS) excluded.

        Ties go to the lower (row, token). A row's own order is that of its logits (log Z
        is one number a row), so each row's best n are the stable top of its logits with
        the banned pieces at -inf (-inf ties in token order), and the answer is the best n
        of those K x n: at a 58k vocabulary far cheaper than partitioning all K x V.
        """
        cums = self._cums(alive)
        k_rows, vocab = logp.shape
        n = min(n, k_rows * vocab)
        z = logp.z
        saved = z[:, self.banned].copy()
        z[:, self.banned] = -np.inf
        try:
            tops = [top_order(z[r], min(n, vocab)) for r in range(k_rows)]
        finally:
            z[:, self.banned] = saved
        rows = np.repeat(np.arange(k_rows, dtype=np.int64), [len(t) for t in tops])
        toks = np.concatenate(tops)
        scores = cums[rows] + logp.take(rows, toks)
        banned = np.isin(toks, self.banned)
        scores[banned] = -np.inf
        order = np.lexsort((rows * vocab + toks, -scores))[:n]  # by score, ties by (row, token)
        return [(int(r), int(t)) for r, t, x in zip(rows[order], toks[order], banned[order], strict=True) if not x]

    def _cums(self, alive: list[int]) -> np.ndarray:
        return np.array([self._nodes[i].cum_logprob for i in alive], dtype=np.float64)

    def _extend(self, parent: int, token: int, logprob: float, forced: bool = False) -> int:
        """Create a child node of node ``parent``; returns its id."""
        p = self._nodes[parent]
        cum = p.cum_logprob + logprob
        step = p.step + 1
        nid = len(self._nodes)
        score = cum / length_penalty(step, self._alpha, self._lp_kind)
        self._nodes.append(BeamNode(nid, parent, int(token), logprob, cum, score, step, "pruned", forced))
        return nid

    def _take(self, row: int, token: int, logprob: float, forced: bool = False) -> list[int]:
        """Single-row step: extend ``row`` with ``token``; finish it on EOS."""
        nid = self._extend(self._alive[row], token, logprob, forced)
        if token == self.eos_id:
            self._finished.append(nid)
            self._alive = []
            return []
        self._alive = [nid]
        return [row]

    def result(self) -> SearchResult:
        """Tree with statuses and the n-best hypotheses (callable early, e.g. on cancel)."""
        unfinished = list(self._alive) if len(self._finished) < self.capacity else []

        def by_score(ids: list[int]) -> list[int]:
            return sorted(ids, key=lambda i: (-self._nodes[i].score, i))

        finals = by_score(self._finished) + by_score(unfinished)
        status = ["pruned"] * len(self._nodes)
        for nid in finals:
            status[nid] = "finished" if nid in self._finished else "alive"
            p = self._nodes[nid].parent
            while p >= 0 and status[p] != "alive":
                status[p] = "alive"
                p = self._nodes[p].parent
        # Positional construction: dataclasses.replace costs ~1 ms per inspection here.
        nodes = tuple(BeamNode(n.id, n.parent, n.token, n.logprob, n.cum_logprob, n.score, n.step, s, n.forced)
                      for n, s in zip(self._nodes, status, strict=True))
        hyps = tuple(self._hypothesis(nid) for nid in finals[: self.cfg.n_best])
        return SearchResult(
            nodes=nodes,
            hypotheses=hyps,
            truncated=bool(hyps) and not hyps[0].finished,
            alive_per_step=tuple(self._alive_per_step),
        )

    def _hypothesis(self, nid: int) -> Hypothesis:
        node, tokens, i = self._nodes[nid], [], nid
        while i > 0:
            tokens.append(self._nodes[i].token)
            i = self._nodes[i].parent
        finished = nid in self._finished
        return Hypothesis(tuple(reversed(tokens)), nid, node.score, node.cum_logprob, finished)


class BeamSearch(Search):
    """Beam search over the top 2K candidates, fairseq-style EOS handling."""

    def __init__(self, cfg: DecodeConfigLike, bos_id: int, eos_id: int, vocab_size: int,
                 banned: tuple[int, ...] | None = None) -> None:
        super().__init__(cfg, bos_id, eos_id, vocab_size, banned)
        self.beam_size = self.capacity = self.runners_up = int(cfg.beam_size)

    def _advance(self, logits: np.ndarray, logp: LogProbs) -> list[int]:
        k, old_alive = self.beam_size, list(self._alive)
        new_alive: list[int] = []
        parents: list[int] = []
        losers = 0
        for rank, (row, tok) in enumerate(self._candidates(old_alive, logp, 2 * k)):
            parent, lp = old_alive[row], logp.at(row, tok)
            if tok == self.eos_id and rank < k and len(self._finished) < k:
                self._finished.append(self._extend(parent, tok, lp))
            elif tok != self.eos_id and len(new_alive) < k:
                new_alive.append(self._extend(parent, tok, lp))
                parents.append(row)
            elif losers < k:
                self._extend(parent, tok, lp)  # runner-up leaf, stays "pruned"
                losers += 1
        self._alive = new_alive
        return parents


class HFBeamSearch(Search):
    """transformers' beam search (generate(), num_beams=K, v5 rules), one sentence.

    Each step takes the top 2K (row, piece) candidates by summed processed log-prob. Those
    that end (EOS, or the last allowed step) and rank in the top K join the finished set
    with score = sum / n^alpha (n = generated pieces, EOS included), which keeps the K
    best; the best K that do not end run on. ``early_stopping`` "true" stops once K have
    finished; "false" stops when the best running sum / (pieces so far)^alpha cannot beat
    the worst finished score; "never" uses the longest allowed length when alpha > 0.
    """

    def __init__(self, cfg: DecodeConfigLike, bos_id: int, eos_id: int, vocab_size: int,
                 banned: tuple[int, ...] | None = None) -> None:
        super().__init__(cfg, bos_id, eos_id, vocab_size, banned)
        self.beam_size = self.capacity = self.runners_up = int(cfg.beam_size)
        self._lp_kind = "hf"
        self._improvable = True  # transformers' is_early_stop_heuristic_unsatisfied
        self._all_ended = False  # every candidate of the last step hit a stopping criterion

    @property
    def done(self) -> bool:
        full = len(self._finished) >= self.beam_size and self.cfg.early_stopping == "true"
        return (not self._alive or not self._improvable or full or self._all_ended
                or self._step >= self.cfg.max_len)

    def _advance(self, logits: np.ndarray, logp: LogProbs) -> list[int]:
        k, old_alive = self.beam_size, list(self._alive)
        last = self._step + 1 >= self.cfg.max_len  # transformers' max_length criterion
        full = len(self._finished) >= k and self.cfg.early_stopping == "true"
        # Candidates a processor ruled out (-inf) never run or finish: transformers fills those
        # places with copies of the start row scored -1e9, which never win either.
        cands = [(r, t) for r, t in self._candidates(old_alive, logp, 2 * k) if np.isfinite(logp.z[r, t])]
        new_alive: list[int] = []
        parents: list[int] = []
        ended = []
        for rank, (row, tok) in enumerate(cands):
            parent, lp = old_alive[row], logp.at(row, tok)
            if tok == self.eos_id or last:
                nid = self._extend(parent, tok, lp)
                if rank < k and not full and self._improvable:
                    ended.append(nid)
            elif len(new_alive) < k:
                new_alive.append(self._extend(parent, tok, lp))
                parents.append(row)
            else:
                self._extend(parent, tok, lp)  # runner-up leaf
        merged = sorted(self._finished + ended, key=lambda i: (-self._nodes[i].score, i))
        self._finished = merged[:k]
        self._alive = new_alive
        self._all_ended = len(cands) > 0 and all(t == self.eos_id or last for _, t in cands)
        if new_alive:
            n = self.cfg.max_len if self.cfg.early_stopping == "never" and self._alpha > 0 else self._step + 1
            best = max(self._nodes[i].cum_logprob for i in new_alive) / n ** self._alpha
            worst = min(self._nodes[i].score for i in self._finished) if len(self._finished) >= k else -1e9
            self._improvable = self._improvable and best > worst
        return parents

    def result(self) -> SearchResult:
        res = super().result()
        if not self._finished:
            return res
        # Only the finished set is returned, as generate() does; the rest is history.
        return SearchResult(res.nodes, tuple(h for h in res.hypotheses if h.finished), res.truncated,
                            res.alive_per_step)


class GreedySearch(BeamSearch):
    """Greedy decoding: exactly beam search with beam_size = 1 (one runner-up leaf per step)."""

    def __init__(self, cfg: DecodeConfigLike, bos_id: int, eos_id: int, vocab_size: int,
                 banned: tuple[int, ...] | None = None) -> None:
        super().__init__(cfg, bos_id, eos_id, vocab_size, banned)
        self.beam_size = self.capacity = self.runners_up = 1


def kept_set(logits: np.ndarray, temperature: float, top_k: int, top_p: float,
             bos_id: int | np.ndarray, limit: int | None = None) -> np.ndarray:
    """The pieces sampling may draw from one logits row, most likely first, int64.

    logits / T with BOS masked; the top-k of those (0 = off); then, renormalised over
    them, the smallest most-likely-first prefix whose mass reaches top_p (1.0 = off).
    The sampler and the probability bars both call this, so they never disagree.
    ``limit``: only the first ``limit`` pieces of that set (the bars show a few; the set
    itself is the same, and only as much of the row is sorted as the answer needs).
    """
    z = np.asarray(logits, dtype=np.float64) / temperature
    z[bos_id] = -np.inf
    finite = np.isfinite(z)
    n_finite = int(finite.sum())
    if n_finite == 0:
        raise ValueError("no token other than BOS has a finite logit")
    n = min(top_k, n_finite) if top_k > 0 else n_finite  # the candidates: the n most likely
    if top_p >= 1.0:
        return top_order(z, n if limit is None else min(n, limit))
    z_max = float(z[finite].max())
    if n < n_finite:  # top-k first: the nucleus is renormalised over those k
        order = top_order(z, n)
        p = np.exp(z[order] - z_max)
        cum = np.cumsum(p / p.sum())
        return order[: int(np.searchsorted(cum, top_p)) + 1][:limit]  # smallest prefix with mass >= top_p
    total = float(np.exp(z[finite] - z_max).sum())
    m = 256 if limit is None else max(limit, 1)
    while True:  # sort a growing prefix until the nucleus (or the limit) lies inside it
        order = top_order(z, min(m, n_finite))
        cum = np.cumsum(np.exp(z[order] - z_max) / total)
        cut = int(np.searchsorted(cum, top_p))
        if cut < order.size or order.size == n_finite:
            return order[: cut + 1][:limit]
        if limit is not None and order.size >= limit:
            return order[:limit]
        m *= 8


def sampling_probs(logits: np.ndarray, temperature: float, top_k: int, top_p: float,
                   bos_id: int | np.ndarray) -> np.ndarray:
    """Sampling distribution over one row: softmax(logits / T) renormalised over ``kept_set``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    kept = kept_set(logits, temperature, top_k, top_p, bos_id)
    out = np.zeros(z.shape, np.float64)
    e = np.exp(z[kept] - z[kept].max())
    out[kept] = e / e.sum()
    return out


class SamplingSearch(Search):
    """Ancestral sampling with temperature, top-k and nucleus (top-p) filtering."""

    def __init__(self, cfg: DecodeConfigLike, bos_id: int, eos_id: int, vocab_size: int,
                 banned: tuple[int, ...] | None = None) -> None:
        super().__init__(cfg, bos_id, eos_id, vocab_size, banned)
        self._rng = np.random.default_rng(cfg.seed)

    def _advance(self, logits: np.ndarray, logp: LogProbs) -> list[int]:
        c = self.cfg
        row = np.where(np.isfinite(logp.z[0]), logits[0], -np.inf)  # what the processors masked
        p = sampling_probs(row, c.temperature, c.top_k, c.top_p, self.banned)
        token = int(self._rng.choice(self.vocab_size, p=p))
        return self._take(0, token, logp.at(0, token))


def make_search(cfg: DecodeConfigLike, bos_id: int, eos_id: int, vocab_size: int,
                banned: tuple[int, ...] | None = None) -> Search:
    """Build the Search for ``cfg.strategy`` (validates the config).

    ``bos_id`` is the decoder start; ``banned`` the pieces never generated (default: the start).
    """
    classes: dict[str, type[Search]] = {
        "greedy": GreedySearch,
        "beam": HFBeamSearch if getattr(cfg, "early_stopping", "") else BeamSearch,
        "sample": SamplingSearch,
    }
    if cfg.strategy not in classes:
        raise ValueError(f"unknown strategy {cfg.strategy!r}; expected one of {STRATEGIES}")
    return classes[cfg.strategy](cfg, bos_id=bos_id, eos_id=eos_id, vocab_size=vocab_size, banned=banned)
