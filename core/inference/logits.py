"""What an Inspection keeps of each step's logits, so one inspection stays small at any vocabulary.

Up to ``DENSE_MAX`` pieces a row is kept whole: every probability, at every temperature, is
exact. Above it (NLLB's 256 206 pieces: 1 MB per row, 48 rows per 12-step beam-4 decode) a
row keeps

* the ``TOP`` largest raw logits with their piece ids, plus the pieces that row chose (a
  beam child, a forced piece, a sample) and the decoder start, so every node's logit is kept;
* log Z, the log-partition at T = 1 over the whole vocabulary (float64);
* the rest ("tail") as a histogram of its logits: ``TAIL_BINS`` equal-width bins, each with
  its count and the log-sum-exp of its logits at T = 1.

At T = 1 every kept probability is exact: p = exp(z - log Z). At another temperature the
ratios between kept pieces are exact (exp((z_i - z_j) / T)), but Z_T = sum exp(z / T) needs
every logit: the tail's part is estimated as if each bin's pieces all had the bin's mean
(the estimate equals the truth at T = 1), and ``log_partition_bounds`` gives the certified
interval from the bin edges. The probability bars show the estimate, marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DENSE_MAX = 65_536  # rows of a vocabulary up to this size are kept whole (exact at every T)
TOP = 256  # largest logits kept per row above DENSE_MAX
TAIL_BINS = 64  # histogram bins of the logits not kept


def _logsumexp(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def _top(row: np.ndarray, k: int, stride: int = 32) -> np.ndarray:
    """Ids of the ``k`` largest entries of ``row`` (any order). A strided sample gives a
    threshold that leaves a few hundred candidates, so the selection never sorts the row."""
    sample = row[::stride]
    rank = min(sample.size - 1, k // stride + 8)
    if rank >= 1:
        cand = np.flatnonzero(row >= np.partition(sample, sample.size - rank)[sample.size - rank])
        if cand.size >= k:
            return cand[np.argpartition(row[cand], cand.size - k)[cand.size - k:]]
    return np.argpartition(row, row.size - k)[row.size - k:]


_STRIDE = 32  # top_order's sample of a long row: every 32nd entry


def top_order(z: np.ndarray, n: int) -> np.ndarray:
    """``np.argsort(-z, kind="stable")[:n]`` (largest first, ties by index) without sorting
    the whole row: a partition finds the n-th largest value, only the entries at or above it
    are sorted."""
    z = np.asarray(z)
    n = max(0, min(int(n), z.size))
    if n == 0:
        return np.zeros(0, np.int64)
    if n * 4 >= z.size:
        return np.argsort(-z, kind="stable")[:n].astype(np.int64)
    sample = z[::_STRIDE]
    if n * 8 <= sample.size:
        # The sample's n-th largest is at most the row's, so every entry of the row's top n
        # is at or above it; at a 58k row that leaves a few hundred entries to sort.
        kth = np.partition(sample, sample.size - n)[sample.size - n]
    else:
        kth = np.partition(z, z.size - n)[z.size - n]
    cand = np.flatnonzero(z >= kth)
    return cand[np.argsort(-z[cand], kind="stable")][:n].astype(np.int64)


def as_logits(x: np.ndarray) -> np.ndarray:
    """float32 logits as they are (what the graphs return), anything else as float64."""
    x = np.asarray(x)
    return x if x.dtype == np.float32 else np.asarray(x, dtype=np.float64)


def log_z_of(x: np.ndarray, m: np.ndarray | None = None) -> np.ndarray:
    """log sum exp over the last axis, float64, keeping that axis (size 1).

    The exponentials are taken in the logits' own precision, the sums in float64: float32
    logits stay within 1e-8 of an all-float64 log-sum-exp at a third of its cost. ``m``:
    the max over that axis (keepdims) when the caller has it."""
    x = as_logits(x)
    if x.shape[-1] == 0:  # no pieces: an empty sum
        return np.full(x.shape[:-1] + (1,), -np.inf)
    if m is None:
        m = np.max(x, axis=-1, keepdims=True)
    if not np.isfinite(m).all():  # a row of -inf stays -inf instead of NaN
        m = np.where(np.isfinite(m), m, 0.0).astype(x.dtype)
    e = x - m
    np.exp(e, out=e)
    total = e.sum(axis=-1, keepdims=True, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out: np.ndarray = m.astype(np.float64) + np.log(total)
    return out


@dataclass(frozen=True)
class StepLogits:
    """Logits of R rows (one decoder call's K rows, or a path's T steps), dense or compact."""

    values: np.ndarray  # [R, W] float32 raw logits; dense: W = V in id order; compact: by logit, descending
    ids: np.ndarray | None  # [R, W] int32 piece of each value (compact; -1 pads a shorter row); None: dense
    given_log_z: np.ndarray | None  # [R] float64 log-sum-exp of each row at T = 1 (dense: computed when asked)
    vocab_size: int
    ranked: int = 0  # compact: the first `ranked` entries of every row are its exact top pieces (>= TOP)
    tail_count: np.ndarray | None = None  # [R, B] int32 pieces not kept, per logit bin
    tail_lse: np.ndarray | None = None  # [R, B] float64 log-sum-exp of those logits, per bin
    tail_edges: np.ndarray | None = None  # [R, 2] float64 lowest and highest logit not kept
    # (row, T) -> log Z_T of a dense row: the bars, the step table and the sampler's set
    # each ask for it when a step is drawn; it is computed once.
    _log_z_cache: dict[tuple[int, float], float] = field(default_factory=dict, compare=False, repr=False)

    # --- construction ---------------------------------------------------------------
    @classmethod
    def keep(cls, logits: np.ndarray, always: list[list[int]] | None = None, top: int = TOP,
             dense_max: int = DENSE_MAX, bins: int = TAIL_BINS, log_z: np.ndarray | None = None) -> StepLogits:
        """Keep [R, V] raw logits: whole when V <= ``dense_max``, else top + ``always`` (per row)
        + log Z + tail histogram. ``log_z``: each row's log Z when the caller has it (the
        search computes it from the same float32 logits with ``log_z_of``)."""
        x = np.asarray(logits, np.float32)
        r, v = x.shape
        if log_z is not None and (x is not logits or np.shape(log_z) != (r,)):
            log_z = None  # not computed from these very float32 values
        if v <= dense_max:
            return cls(x, None, log_z, v)
        if log_z is None:
            log_z = log_z_of(x)[:, 0]
        always = always or [[] for _ in range(r)]
        extra = max((len(a) for a in always), default=0)
        width = min(v, top + extra)
        ids = np.full((r, width), -1, np.int32)
        values = np.full((r, width), -np.inf, np.float32)
        count = np.zeros((r, bins), np.int32)
        lse = np.full((r, bins), -np.inf, np.float64)
        edges = np.zeros((r, 2), np.float64)
        ranked = width
        for i in range(r):
            row = x[i]
            wanted = sorted({int(a) for a in always[i] if 0 <= int(a) < v})
            best = _top(row, width)
            best = best[np.lexsort((best, -row[best]))]  # largest first, ties by id
            have = set(best.tolist())
            missing = [a for a in wanted if a not in have]
            ranked = min(ranked, width - len(missing))  # the exact top of every row: at least `top`
            # The chosen pieces take the places of the lowest-ranked; at least `top` stay ranked.
            keep = np.concatenate([best[: width - len(missing)], np.asarray(missing, np.int64)]).astype(np.int64)
            keep = keep[np.lexsort((keep, -row[keep]))]  # largest first, ties by id (as argsort)
            ids[i, : len(keep)] = keep
            values[i, : len(keep)] = row[keep]
            if len(keep) == v:
                continue
            # The tail: every piece not kept, binned by logit without copying it out.
            probe = row.copy()
            probe[keep] = np.inf
            lo = float(probe.min())
            probe[keep] = -np.inf
            hi = float(probe.max())
            edges[i] = lo, hi
            step = (hi - lo) / bins
            if step > 0:  # bin numbers as intp: bincount would copy any other integer type
                b = ((row - np.float32(lo)) * np.float32(1 / step)).astype(np.intp)
                np.clip(b, 0, bins - 1, out=b)
                upper = lo + (np.arange(bins) + 1) * step
            else:
                b = np.zeros(v, np.intp)
                upper = np.full(bins, hi)
            top_of_bin = np.take(upper.astype(np.float32), b)  # each piece's bin's upper edge
            b[keep] = bins  # an overflow bin for the kept pieces, dropped below
            count[i] = np.bincount(b, minlength=bins + 1)[:bins]
            # each term within a bin's width of 1; float64 weights take bincount's fast path
            e = np.exp(row - top_of_bin).astype(np.float64)
            s = np.bincount(b, weights=e, minlength=bins + 1)[:bins]
            with np.errstate(divide="ignore"):
                lse[i] = np.where(count[i] > 0, upper + np.log(s), -np.inf)
        return cls(values, ids, log_z, v, ranked, count, lse, edges)

    @classmethod
    def stack(cls, rows: list[StepLogits]) -> StepLogits:
        """One-row pieces (a path's steps) stacked into one; compact rows padded to one width."""
        if not rows:
            return cls(np.zeros((0, 0), np.float32), None, np.zeros(0), 0)
        v = rows[0].vocab_size
        if rows[0].dense:
            return cls(np.concatenate([r.values for r in rows]), None, None, v)
        width = max(r.values.shape[1] for r in rows)

        def pad(a: np.ndarray, fill: float) -> np.ndarray:
            return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill)

        return cls(np.concatenate([pad(r.values, -np.inf) for r in rows]),
                   np.concatenate([pad(r.ids, -1) for r in rows if r.ids is not None]),
                   np.concatenate([r.log_z for r in rows]), v, min(r.ranked for r in rows),
                   np.concatenate([r.tail_count for r in rows if r.tail_count is not None]),
                   np.concatenate([r.tail_lse for r in rows if r.tail_lse is not None]),
                   np.concatenate([r.tail_edges for r in rows if r.tail_edges is not None]))

    # --- access -------------------------------------------------------------------
    @property
    def log_z(self) -> np.ndarray:
        """[R] float64 log-sum-exp of each whole row at T = 1."""
        if self.given_log_z is None:
            object.__setattr__(self, "given_log_z", log_z_of(self.values)[:, 0])  # a cache, not a change
        assert self.given_log_z is not None
        return self.given_log_z

    @property
    def dense(self) -> bool:
        return self.ids is None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __getitem__(self, rows: int | slice | np.ndarray) -> StepLogits:
        """The rows selected (an int keeps one row, as a one-row StepLogits)."""
        sel = [rows] if isinstance(rows, int | np.integer) else rows

        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[sel]

        return StepLogits(self.values[sel], take(self.ids), take(self.given_log_z), self.vocab_size, self.ranked,
                          take(self.tail_count), take(self.tail_lse), take(self.tail_edges))

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.values, self.ids, self.given_log_z, self.tail_count, self.tail_lse,
                                      self.tail_edges) if a is not None)

    def dense_values(self) -> np.ndarray:
        """[R, V] raw logits; only a dense record has them all."""
        if not self.dense:
            raise ValueError(f"a {self.vocab_size}-piece row keeps its top {self.ranked} logits, not all")
        return self.values

    def kept(self, row: int = 0, top: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, raw logits) of the pieces kept in ``row``, largest logit first (ties by id);
        with ``top``, only the first ``top`` of them (a view's bars need no sorted 58k row)."""
        if self.dense:
            z = self.values[row]
            order = top_order(z, z.size if top is None else top)
            return order, z[order]
        ok = self.ids[row] >= 0  # type: ignore[index]
        ids, z = self.ids[row][ok].astype(np.int64), self.values[row][ok]  # type: ignore[index]
        return (ids, z) if top is None else (ids[:top], z[:top])

    def logit(self, row: int, piece: int) -> float | None:
        """The raw logit of ``piece`` in ``row`` (None: not kept)."""
        if self.dense:
            return float(self.values[row, piece])
        hit = np.nonzero(self.ids[row] == piece)[0]  # type: ignore[index]
        return float(self.values[row, hit[0]]) if hit.size else None

    # --- temperature ------------------------------------------------------------------
    def _tail_terms(self, temperature: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row and bin: log of the tail's sum of exp(z / T): estimate, lower, upper bound."""
        assert self.tail_count is not None and self.tail_lse is not None and self.tail_edges is not None
        p = 1.0 / temperature
        n = self.tail_count.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_n = np.log(n)
            mean = self.tail_lse - log_n  # log of the bin's mean exp(z), within its edges
            est = log_n + p * mean  # every piece at the bin's mean: exact at T = 1 (Jensen's bound)
            lo_e, hi_e = self.tail_edges[:, :1], self.tail_edges[:, 1:]
            step = (hi_e - lo_e) / n.shape[1]
            lo = lo_e + np.arange(n.shape[1]) * step
            hi = lo + step
            mean = np.clip(mean, lo, hi)
            width = hi - lo
            theta = np.where(width > 0, (np.exp(mean - hi) - np.exp(lo - hi)) / -np.expm1(lo - hi), 1.0)
            # The other extreme for a fixed sum: the pieces split between the two edges.
            split = log_n + p * hi + np.log(theta + (1 - theta) * np.exp(p * (lo - hi)))
            split = np.where(width > 0, split, est)
        empty = n == 0
        est, split = np.where(empty, -np.inf, est), np.where(empty, -np.inf, split)
        return est, np.minimum(est, split), np.maximum(est, split)

    def log_partition(self, temperature: float) -> np.ndarray:
        """[R] log sum_v exp(z_v / T): exact when dense or at T = 1, else the tail is estimated."""
        t = max(float(temperature), 1e-6)
        if self.dense:
            return _logsumexp(self.values.astype(np.float64) / t)
        if t == 1.0:
            return self.log_z.copy()
        est, _, _ = self._tail_terms(t)
        return _logsumexp(np.concatenate([self.values.astype(np.float64) / t, est], axis=1))

    def log_partition_bounds(self, temperature: float) -> tuple[np.ndarray, np.ndarray]:
        """[R] lower and upper bounds of log Z_T (equal to it when dense or at T = 1)."""
        t = max(float(temperature), 1e-6)
        if self.dense or t == 1.0:
            z = self.log_partition(t)
            return z, z.copy()
        _, lo, hi = self._tail_terms(t)
        kept = self.values.astype(np.float64) / t
        return (_logsumexp(np.concatenate([kept, lo], axis=1)), _logsumexp(np.concatenate([kept, hi], axis=1)))

    def exact_at(self, temperature: float) -> bool:
        """Whether probabilities at ``temperature`` are exact (else the partition is estimated)."""
        return self.dense or float(temperature) == 1.0

    def _row_log_partition(self, t: float, row: int) -> float:
        if self.dense:  # this row only: a view never needs the other beams' partitions
            key = (row, t)
            if key not in self._log_z_cache:
                self._log_z_cache[key] = float(_logsumexp(self.values[row].astype(np.float64) / t))
            return self._log_z_cache[key]
        return float(self.log_partition(t)[row])

    def log_probs(self, temperature: float, row: int = 0, top: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, log p) at ``temperature`` of the kept pieces of ``row``, most likely first
        (the first ``top`` of them when given)."""
        ids, z = self.kept(row, top)
        t = max(float(temperature), 1e-6)
        return ids, z.astype(np.float64) / t - self._row_log_partition(t, row)

    def probs(self, temperature: float, row: int = 0, top: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, p) at ``temperature`` of the kept pieces of ``row``, most likely first."""
        ids, lp = self.log_probs(temperature, row, top)
        return ids, np.exp(lp)

    def prob(self, temperature: float, piece: int, row: int = 0) -> float:
        """p of one piece at ``temperature`` (0.0 when a compact row did not keep it)."""
        z = self.logit(row, piece)
        t = max(float(temperature), 1e-6)
        return 0.0 if z is None else float(np.exp(z / t - self._row_log_partition(t, row)))

    def kept_set(self, temperature: float, top_k: int, top_p: float, bos_id: int, row: int = 0,
                 limit: int | None = None) -> np.ndarray:
        """The sampler's kept set (``search.kept_set``) restricted to the kept pieces; with
        ``limit``, only its first ``limit`` pieces.

        Dense: exactly ``search.kept_set``. Compact: exact when 0 < top_k <= ``ranked`` (the
        nucleus is then renormalised over kept pieces only); with top-k off the nucleus uses
        log Z_T (exact at T = 1, estimated otherwise) and stops at the kept pieces."""
        from attnscope.core.inference.search import kept_set

        if self.dense:
            return kept_set(self.values[row], temperature, top_k, top_p, bos_id, limit)
        ids, z = self.kept(row)
        t = max(float(temperature), 1e-6)
        ok = ids != bos_id
        ids, z = ids[ok], z[ok].astype(np.float64) / t
        ranked = min(self.ranked - int((~ok[: self.ranked]).sum()), ids.size)
        top = ids[:ranked], z[:ranked]
        if 0 < top_k <= ranked:
            order, zz = top[0][:top_k], top[1][:top_k]
            if top_p < 1.0:
                cum = np.cumsum(np.exp(zz - _logsumexp(zz)))
                order = order[: int(np.searchsorted(cum, top_p)) + 1]
            return order.astype(np.int64)[:limit]
        order, zz = top
        if top_p < 1.0:
            log_z = float(self.log_partition(t)[row])
            bos = self.logit(row, bos_id)
            if bos is not None:  # the sampler never draws the start piece: its mass is not counted
                log_z += float(np.log1p(-min(np.exp(bos / t - log_z), 1 - 1e-16)))
            cum = np.cumsum(np.exp(zz - log_z))
            cut = int(np.searchsorted(cum, top_p)) + 1
            order = order[:cut]
        return order.astype(np.int64)[:limit]


def max_abs_diff(kept: StepLogits, full: np.ndarray) -> float:
    """max |Δ| between kept rows and the full [R, V] logits of an oracle: every value when
    dense; else the kept values at their ids and log Z (which stands for all the others)."""
    full = np.asarray(full, np.float64)
    if kept.dense:
        return float(np.abs(kept.values - full).max()) if full.size else 0.0
    assert kept.ids is not None
    ok = kept.ids >= 0
    got = np.take_along_axis(full, np.where(ok, kept.ids, 0), axis=1)
    values = float(np.abs(np.where(ok, kept.values - got, 0.0)).max()) if full.size else 0.0
    return max(values, float(np.abs(kept.log_z - _logsumexp(full)).max()) if full.size else 0.0)


def difference(a: StepLogits, b: StepLogits) -> float:
    """max |Δ| between two records of the same rows (two runtimes): values and log Z.
    Compact rows are compared on the pieces both kept."""
    d = float(np.abs(a.log_z - b.log_z).max()) if len(a) else 0.0
    if a.dense and b.dense:
        return max(d, float(np.abs(a.values - b.values).max()) if a.values.size else 0.0)
    for r in range(len(a)):
        ids, z = a.kept(r)
        for i, v in zip(ids.tolist(), z.tolist(), strict=True):
            w = b.logit(r, i)
            if w is not None:
                d = max(d, abs(v - w))
    return d
