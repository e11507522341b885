"""Every number the Inspection shows, against oracles that share no code with the engine.

* Teacher forcing: each beam-tree node's pieces run through the torch ``Transformer`` as
  one full sequence (causal mask, no cache, no engine, no ONNX) must give that node's
  step logits and the encoder, decoder-self and cross attention rows the Inspection shows.
* The decoder-step ONNX graph, run directly with onnxruntime and its own cache, against
  the same full-sequence forward at every position.
* Tree scores from an independent float64 log-softmax and the GNMT length penalty, and
  the beam's survivors from an exhaustive ranking of every (hypothesis, piece) pair.
* Softmax with temperature and the top-k/top-p kept set against hand-computed values.
* Causality: no position's output or attention depends on a later piece.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm
import torch
from safetensors.torch import load_file

from attnscope.core.bundle import DEFAULT_BUNDLE
from attnscope.core.config import DecodeConfig, ModelConfig, from_dict
from attnscope.core.model import Transformer

ATOL = 1e-4
SENTENCES = ("I love you.", "The cat sees the dog.", "She eats an apple today.",
             "Colorless green ideas sleep furiously.")
CONFIGS = {
    "greedy": DecodeConfig(strategy="greedy"),
    "beam4": DecodeConfig(strategy="beam", beam_size=4, length_penalty=0.6),
    "beam4-lp1": DecodeConfig(strategy="beam", beam_size=4, length_penalty=1.0, n_best=4),
    "sample": DecodeConfig(strategy="sample", temperature=0.8, top_k=6, top_p=0.9, seed=7),
}
KINDS = ["default", "tiny"]


@dataclass(frozen=True)
class Oracle:
    """The torch model of a bundle, and its tokenizer and special ids, read from the files."""

    bundle: Path
    model: Transformer
    sp: spm.SentencePieceProcessor
    bos: int
    eos: int
    max_len: int  # decode length used in the tests (the tiny model rarely stops by itself)
    sentences: tuple[str, ...]

    def source_ids(self, text: str) -> list[int]:
        return [*self.sp.encode(text), self.eos]

    @torch.no_grad()
    def forward(self, src: list[int], dec_in: list[list[int]]) -> dict[str, np.ndarray]:
        """Full-sequence forward of equal-length rows ``dec_in`` [B, T] on one source."""
        m = self.model
        s = torch.tensor([src])
        mask = m.src_mask(s)
        memory, enc = m.encode(s, mask)  # one source: every row shares it
        b = len(dec_in)
        logits, sa, ca = m.decode(torch.tensor(dec_in), memory.expand(b, -1, -1), mask.expand(b, -1, -1, -1))
        return {"logits": logits.double().numpy(),  # [B, T, V]
                "self": torch.stack(sa, 1).numpy(),  # [B, L, H, T, T]
                "cross": torch.stack(ca, 1).numpy(),  # [B, L, H, T, S]
                "enc": torch.stack(enc, 1).expand(b, -1, -1, -1, -1).numpy(),  # [B, L, H, S, S]
                "memory": memory.expand(b, -1, -1).numpy()}


def load_oracle(bundle: Path, max_len: int, sentences: tuple[str, ...]) -> Oracle:
    config = json.loads((bundle / "config.json").read_text(encoding="utf-8"))
    model = Transformer(from_dict(ModelConfig, config["model"]))
    model.load_state_dict(load_file(str(bundle / "weights.safetensors")))
    model.eval()
    tok = config["tokenizer"]
    sp = spm.SentencePieceProcessor(model_file=str(bundle / tok["file"]))
    return Oracle(bundle, model, sp, int(tok["bos_id"]), int(tok["eos_id"]), max_len, sentences)


@pytest.fixture(scope="module", params=KINDS)
def oracle(request: pytest.FixtureRequest) -> Oracle:
    if request.param == "default":
        if not (DEFAULT_BUNDLE / "weights.safetensors").exists():
            pytest.skip("the default bundle is not built in this checkout")
        return load_oracle(DEFAULT_BUNDLE, 64, SENTENCES)
    return load_oracle(request.getfixturevalue("tiny_bundle"), 10, SENTENCES[1:3])  # its graphs, freshly exported


@pytest.fixture(scope="module")
def engine(oracle: Oracle):  # noqa: ANN201
    from attnscope.core.inference.engine import Engine

    return Engine.load(oracle.bundle, device="cpu")


def _chain(ins, node_id: int) -> list[int]:  # noqa: ANN001
    out = []
    while node_id >= 0:
        out.append(node_id)
        node_id = ins.nodes[node_id].parent
    return out[::-1]


def _tokens(ins, node_id: int) -> list[int]:  # noqa: ANN001
    return [ins.nodes[n].token for n in _chain(ins, node_id)]


def independent_log_softmax(row: np.ndarray) -> np.ndarray:
    return torch.log_softmax(torch.from_numpy(np.asarray(row, np.float64)), dim=-1).numpy()


def hand_length_penalty(n: int, alpha: float) -> float:
    return ((5 + n) / 6) ** alpha  # GNMT, Wu et al. 2016, as documented in core.inference.search


def hand_kept(probs: np.ndarray, top_k: int, top_p: float) -> list[int]:
    """The kept set written out the long way: sort, cut at k, renormalise, add until >= p."""
    ranked = sorted(range(len(probs)), key=lambda i: (-probs[i], i))
    ranked = [i for i in ranked if probs[i] > 0]
    if top_k > 0:
        ranked = ranked[:top_k]
    if top_p >= 1.0:
        return ranked
    total = sum(probs[i] for i in ranked)
    kept, mass = [], 0.0
    for i in ranked:
        kept.append(i)
        mass += probs[i] / total
        if mass >= top_p:
            break
    return kept


def hand_softmax(row: np.ndarray, temperature: float, masked: int | None = None) -> np.ndarray:
    e = [0.0 if i == masked else math.exp(float(x) / temperature) for i, x in enumerate(row)]
    return np.array(e) / sum(e)


# -- softmax with temperature, top-k and top-p, by hand ---------------------------------------------

def test_softmax_with_temperature_by_hand() -> None:
    from attnscope.core.inference.inspection import softmax_with_temperature

    logits = np.log([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(softmax_with_temperature(logits, 1.0), [0.1, 0.2, 0.3, 0.4], atol=1e-12)
    np.testing.assert_allclose(softmax_with_temperature(logits, 0.5), np.array([1, 4, 9, 16]) / 30, atol=1e-12)
    roots = np.sqrt([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(softmax_with_temperature(logits, 2.0), roots / roots.sum(), atol=1e-12)
    rows = np.stack([logits, logits[::-1]])  # rows are independent
    np.testing.assert_allclose(softmax_with_temperature(rows, 1.0)[1], [0.4, 0.3, 0.2, 0.1], atol=1e-12)


def test_kept_set_by_hand() -> None:
    from attnscope.core.inference.search import kept_set, sampling_probs

    bos = 4
    logits = np.log([0.3, 0.25, 0.25, 0.2, 1e-9])  # A, B, C, D, BOS
    # top_k = 3 keeps A, B, C; renormalised (0.375, 0.3125, 0.3125), 0.6 is reached with B.
    assert kept_set(logits, 1.0, 3, 0.6, bos).tolist() == [0, 1]
    np.testing.assert_allclose(sampling_probs(logits, 1.0, 3, 0.6, bos), [0.3 / 0.55, 0.25 / 0.55, 0, 0, 0],
                               atol=1e-9)
    assert kept_set(logits, 1.0, 0, 0.6, bos).tolist() == [0, 1, 2]  # 0.3, 0.55, 0.8 of the mass
    assert kept_set(logits, 1.0, 2, 1.0, bos).tolist() == [0, 1]
    assert kept_set(logits, 1.0, 0, 1.0, bos).tolist() == [0, 1, 2, 3]  # BOS is never kept
    assert kept_set(logits, 1.0, 0, 1e-9, bos).tolist() == [0]  # at least one piece
    # Temperature reshapes the nucleus: at T = 0.5 the masses are 9 : 6.25 : 6.25 : 4.
    assert kept_set(logits, 0.5, 0, 0.6, bos).tolist() == [0, 1, 2]
    assert kept_set(logits, 0.5, 0, 0.5, bos).tolist() == [0, 1]


@pytest.mark.parametrize("temperature", [0.5, 1.0, 1.7])
def test_kept_set_and_sampler_over_a_grid(temperature: float) -> None:
    from attnscope.core.inference.search import kept_set, sampling_probs

    rng = np.random.default_rng(3)
    bos = 2
    for _ in range(20):
        z = rng.normal(0, 2.5, 40)
        probs = hand_softmax(z, temperature, masked=bos)
        for k in (0, 1, 2, 3, 5, 17):
            for p in (0.05, 0.3, 0.6, 0.9, 0.99, 1.0):
                expected = hand_kept(probs, k, p)
                assert kept_set(z, temperature, k, p, bos).tolist() == expected
                q = sampling_probs(z, temperature, k, p, bos)
                assert np.flatnonzero(q).tolist() == sorted(expected)
                np.testing.assert_allclose(q[expected], probs[expected] / probs[expected].sum(), atol=1e-12)



@pytest.mark.parametrize("temperature", [0.7, 1.0])
def test_kept_set_on_a_long_row_with_ties_and_its_prefixes(temperature: float) -> None:
    """A 6000-piece row with many equal logits: the set (and every ``limit`` prefix of it)
    is the long-way answer, although only part of the row is sorted."""
    from attnscope.core.inference.search import kept_set

    rng = np.random.default_rng(11)
    bos = 7
    z = np.round(rng.normal(0, 1.5, 6000), 1)  # rounding makes hundreds of ties
    z[rng.choice(6000, 40, replace=False)] += 6.0  # a peaked head, as trained models have
    probs = hand_softmax(z, temperature, masked=bos)
    for k in (0, 3, 25, 300):
        for p in (0.2, 0.6, 0.95, 1.0):
            expected = hand_kept(probs, k, p)
            full = kept_set(z, temperature, k, p, bos)
            assert full.tolist() == expected
            for limit in (1, 21, 700):
                assert kept_set(z, temperature, k, p, bos, limit=limit).tolist() == expected[:limit]


def test_the_top_of_a_row_is_the_stable_sort_s_prefix() -> None:
    from attnscope.core.inference.logits import StepLogits, top_order

    rng = np.random.default_rng(5)
    row = np.round(rng.normal(0, 1, 9000), 1).astype(np.float32)
    row[[3, 50, 4000]] = -np.inf
    want = np.argsort(-row, kind="stable")
    for n in (0, 1, 20, 100, 2250, 9000):
        assert top_order(row, n).tolist() == want[:n].tolist()
    rec = StepLogits.keep(row[None, :])
    ids, lp = rec.log_probs(1.3, top=20)
    assert ids.tolist() == want[:20].tolist()
    ref = np.asarray(row, np.float64) / 1.3
    ref_lp = ref - (ref[np.isfinite(ref)].max() + np.log(np.exp(ref - ref[np.isfinite(ref)].max()).sum()))
    np.testing.assert_allclose(lp, ref_lp[want[:20]], atol=1e-9)
    assert rec.prob(1.3, int(want[500])) == pytest.approx(float(np.exp(ref_lp[want[500]])), rel=1e-9)

# -- every node of the tree, teacher forced -------------------------------------------------------

@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_tree_node_matches_teacher_forcing(oracle: Oracle, engine, name: str) -> None:  # noqa: ANN001
    cfg = CONFIGS[name].replace(max_len=oracle.max_len)
    for text in oracle.sentences:
        ins = engine.inspect(text, cfg)
        src = oracle.source_ids(text)
        assert ins.source_ids.tolist() == src
        # Teacher forcing of every fed hypothesis, one batched full-sequence forward per step.
        fed: dict[int, dict[str, np.ndarray]] = {}
        for t, rec in enumerate(ins.steps):
            ids = rec.node_ids.tolist()
            dec_in = [_tokens(ins, nid) for nid in ids]
            assert all(len(d) == t + 1 and d[0] == oracle.bos for d in dec_in)
            out = oracle.forward(src, dec_in)
            fed.update({nid: {k: v[i] for k, v in out.items()} for i, nid in enumerate(ids)})
            # The raw rows the graph returned: exactly the t + 1 keys that exist so far.
            assert rec.self_attention.shape[-1] == t + 1
            np.testing.assert_allclose(rec.logits.dense_values(), out["logits"][:, t], atol=ATOL, rtol=0)
            np.testing.assert_allclose(rec.self_attention, out["self"][:, :, :, t].transpose(1, 2, 0, 3),
                                       atol=ATOL, rtol=0)  # [K, L, H, t+1] -> [L, H, K, t+1]
            np.testing.assert_allclose(rec.cross_attention, out["cross"][:, :, :, t].transpose(1, 2, 0, 3),
                                       atol=ATOL, rtol=0)
        np.testing.assert_allclose(ins.encoder_attention, fed[0]["enc"], atol=ATOL, rtol=0)
        # What the views show for every node (not only the best path): ins.path(node).
        for node in ins.nodes[1:]:
            path = ins.path(node.id)
            ref = fed[node.parent]  # fed BOS and the pieces before this node
            assert path.target_ids.tolist() == _tokens(ins, node.id)[1:]
            assert len(path.step_logits) == node.step == ref["logits"].shape[0]
            np.testing.assert_allclose(path.step_logits.dense_values(), ref["logits"], atol=ATOL, rtol=0)
            np.testing.assert_allclose(path.decoder_self_attention, ref["self"], atol=ATOL, rtol=0)
            np.testing.assert_allclose(path.cross_attention, ref["cross"], atol=ATOL, rtol=0)


# -- scores and survivors --------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(CONFIGS))
def test_tree_scores_and_survivors_from_logits(oracle: Oracle, engine, name: str) -> None:  # noqa: ANN001
    cfg = CONFIGS[name].replace(max_len=oracle.max_len)
    width = {"greedy": 1, "beam": cfg.beam_size}.get(cfg.strategy, 1)
    for text in oracle.sentences:
        ins = engine.inspect(text, cfg)
        nodes = ins.nodes
        logp_of: dict[int, np.ndarray] = {}  # fed node -> log-probs of its next piece
        for rec in ins.steps:
            for k, nid in enumerate(rec.node_ids.tolist()):
                logp_of[nid] = independent_log_softmax(rec.logits.dense_values()[k])
        for node in nodes[1:]:
            parent = nodes[node.parent]
            lp = logp_of[parent.id][node.token]
            assert node.logprob == pytest.approx(lp, abs=1e-6)
            assert node.cum_logprob == pytest.approx(parent.cum_logprob + lp, abs=1e-6)
            assert node.score == pytest.approx(node.cum_logprob / hand_length_penalty(node.step, cfg.length_penalty),
                                               abs=1e-6)
            assert node.token != oracle.bos
        # EOS ends a hypothesis: it is never fed back and has no children.
        fed = {nid for rec in ins.steps for nid in rec.node_ids.tolist()}
        parents = {n.parent for n in nodes}
        for node in nodes[1:]:
            if node.token == oracle.eos:
                assert node.id not in fed and node.id not in parents
        finished = [n for n in nodes if n.status == "finished"]
        assert all(n.token == oracle.eos for n in finished)
        # Finished first, then by length-penalised score, best first.
        hyps = ins.hypotheses
        assert [h.finished for h in hyps] == sorted((h.finished for h in hyps), reverse=True)
        for a, b in zip(hyps, hyps[1:], strict=False):
            assert a.finished != b.finished or a.score >= b.score
        if finished:
            assert hyps[0].finished and hyps[0].score == pytest.approx(max(n.score for n in finished))
            assert list(hyps[0].tokens) == _tokens(ins, hyps[0].node_id)[1:]
        if cfg.strategy == "sample":
            for node in nodes[1:]:
                z = ins.path(node.id).step_logits.dense_values()[-1]
                probs = hand_softmax(z, cfg.temperature, masked=oracle.bos)
                assert node.token in hand_kept(probs, cfg.top_k, cfg.top_p)
            continue
        # Exhaustive ranking of every (fed hypothesis, piece) pair, fairseq's rule: the
        # best `width` non-EOS pairs survive, an EOS among the first `width` finishes.
        n_finished = 0
        for t, rec in enumerate(ins.steps):
            pairs = sorted(((nodes[nid].cum_logprob + logp_of[nid][tok], k, tok)
                            for k, nid in enumerate(rec.node_ids.tolist())
                            for tok in range(len(logp_of[nid])) if tok != oracle.bos),
                           key=lambda c: (-c[0], c[1], c[2]))
            alive, done = [], []
            for rank, (_, k, tok) in enumerate(pairs):
                key = (int(rec.node_ids[k]), tok)
                if tok == oracle.eos and rank < width and n_finished + len(done) < width:
                    done.append(key)
                elif tok != oracle.eos and len(alive) < width:
                    alive.append(key)
                if len(alive) == width and rank >= width:
                    break
            n_finished += len(done)
            eos_finished = {(n.parent, n.token) for n in finished if n.step == t + 1}
            assert eos_finished == set(done)
            if t + 1 < len(ins.steps):
                nxt = {(nodes[n].parent, nodes[n].token) for n in ins.steps[t + 1].node_ids.tolist()}
                assert nxt == set(alive), f"step {t + 1}: the beam kept {nxt}, the ranking says {alive}"
        stopped = n_finished >= width or len(ins.steps) == cfg.max_len
        assert stopped, "the search stopped early"


# -- the decoder-step ONNX graph, position by position ---------------------------------------------

DECODER_OUTPUTS_USED = ["logits", "present_k", "present_v", "self_attn", "cross_attn"]  # value norms aside


def test_decoder_step_graph_matches_full_sequence_forward(oracle: Oracle) -> None:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    enc = ort.InferenceSession(str(oracle.bundle / "encoder.onnx"), opts, providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(oracle.bundle / "decoder.onnx"), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    vocab = oracle.model.cfg.vocab_size
    for text in SENTENCES[:2]:
        src = oracle.source_ids(text)
        n = min(oracle.model.cfg.max_len - 1, 24)
        rows = [[oracle.bos, *rng.integers(4, vocab, n - 1).tolist()] for _ in range(2)]  # [B=2, T]
        ref = oracle.forward(src, rows)
        src_ids = np.array([src], np.int64)
        memory, enc_attn, cross_k, cross_v = enc.run(["memory", "enc_attn", "cross_k", "cross_v"],
                                                     {"src_ids": src_ids, "src_mask": np.ones_like(src_ids)})
        np.testing.assert_allclose(memory[0], ref["memory"][0], atol=ATOL, rtol=0)
        np.testing.assert_allclose(enc_attn[:, 0], ref["enc"][0], atol=ATOL, rtol=0)
        b = len(rows)
        cross_k, cross_v = np.repeat(cross_k, b, axis=1), np.repeat(cross_v, b, axis=1)
        mask = np.ones((b, len(src)), np.int64)
        cfg = oracle.model.cfg
        past_k = np.zeros((cfg.n_decoder_layers, b, cfg.n_heads, 0, cfg.d_k), np.float32)
        past_v = past_k
        for t in range(n):
            token = np.array([[r[t]] for r in rows], np.int64)
            logits, past_k, past_v, self_attn, cross_attn = dec.run(DECODER_OUTPUTS_USED, {
                "token": token, "position": np.array([t], np.int64), "src_mask": mask,
                "cross_k": cross_k, "cross_v": cross_v, "past_k": past_k, "past_v": past_v})
            assert self_attn.shape[-1] == t + 1
            for i in range(b):
                np.testing.assert_allclose(logits[i], ref["logits"][i, t], atol=ATOL, rtol=0)
                np.testing.assert_allclose(self_attn[:, i, :, 0], ref["self"][i, :, :, t, : t + 1], atol=ATOL, rtol=0)
                np.testing.assert_allclose(cross_attn[:, i, :, 0], ref["cross"][i, :, :, t], atol=ATOL, rtol=0)


def test_decoder_self_attention_never_sees_the_future(oracle: Oracle) -> None:
    rng = np.random.default_rng(1)
    vocab = oracle.model.cfg.vocab_size
    src = oracle.source_ids(SENTENCES[1])
    n = 12
    a = [oracle.bos, *rng.integers(4, vocab, n - 1).tolist()]
    ra = oracle.forward(src, [a])
    assert np.all(np.triu(ra["self"][0], 1) == 0)  # no weight on a later position
    for cut in (1, 5, 9):
        b = a[:cut] + rng.integers(4, vocab, n - cut).tolist()  # another future after `cut`
        rb = oracle.forward(src, [b])
        np.testing.assert_allclose(rb["logits"][0, :cut], ra["logits"][0, :cut], atol=1e-5, rtol=0)
        np.testing.assert_allclose(rb["self"][0, :, :, :cut], ra["self"][0, :, :, :cut], atol=1e-6, rtol=0)
        np.testing.assert_allclose(rb["cross"][0, :, :, :cut], ra["cross"][0, :, :, :cut], atol=1e-6, rtol=0)
        assert np.abs(rb["logits"][0, cut:] - ra["logits"][0, cut:]).max() > 1e-3  # the future does matter
