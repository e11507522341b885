"""Norm-based attention and ALTI+: decompositions against the model's own hidden states,
norms against the weights, the rollout against hand-computed numbers, ONNX against torch."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from attnscope.core.config import PRESETS, DecodeConfig, ModelConfig
from attnscope.core.contributions import BlockDecomposition, ContributionsGraph, alti_matrix, decompositions
from attnscope.core.inference.contributions import rollout
from attnscope.core.inference.engine import Engine
from attnscope.core.model import Transformer
from attnscope.core.train import load_run_model

# The imported families' shapes on the architecture spec (core.convert maps each onto it).
FAMILY_SPECS = {
    "bart": {"norm": "post", "embed_norm": True, "positions": "learned", "position_offset": 2,
             "activation": "gelu", "logits_bias": True, "scale_embedding": False},
    "marian": {"norm": "post", "positions": "sinusoidal_half", "activation": "swish", "logits_bias": True},
    "nllb": {"norm": "pre", "final_norm": True, "positions": "sinusoidal_fairseq", "position_offset": 2,
             "activation": "relu", "decoder_heads": 2, "decoder_d_ff": 96},
}


def _random_model(norm: str, seed: int = 0, **spec: object) -> Transformer:
    """A tiny model whose LayerNorms and biases are far from their initial 1/0 values."""
    torch.manual_seed(seed)
    base = PRESETS["tiny"][0]
    cfg = ModelConfig(**{**base.__dict__, "norm": norm, **spec})
    model = Transformer(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".norm." in name or name.startswith(("enc_norm", "dec_norm")):
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if name.endswith("norm.weight") else 0.0))
    return model


def _block_outputs(model: Transformer, src: torch.Tensor, tgt: torch.Tensor) -> list[torch.Tensor]:
    """The real output of every attention block, read by hooks during the model's forward:
    post-LN, the output of the block's LayerNorm; pre-LN, the input of the next block's one."""
    seen: list[torch.Tensor] = []
    hooks = []

    def grab_out(_m, _inp, out):  # noqa: ANN001, ANN202
        seen.append(out.detach().clone())

    def grab_in(_m, inp):  # noqa: ANN001, ANN202
        seen.append(inp[0].detach().clone())

    pre = model.cfg.norm == "pre"
    for layer in model.encoder:
        hooks.append(layer.sub2.norm.register_forward_pre_hook(grab_in) if pre
                     else layer.sub1.norm.register_forward_hook(grab_out))
    for layer in model.decoder:
        if pre:
            hooks += [layer.sub2.norm.register_forward_pre_hook(grab_in),
                      layer.sub3.norm.register_forward_pre_hook(grab_in)]
        else:
            hooks += [layer.sub1.norm.register_forward_hook(grab_out),
                      layer.sub2.norm.register_forward_hook(grab_out)]
    with torch.no_grad():
        model(src, tgt)
    for h in hooks:
        h.remove()
    return seen


@pytest.mark.parametrize("family", ["paper-post", "paper-pre", *FAMILY_SPECS])
def test_terms_sum_back_to_every_block_output(family: str) -> None:
    spec = dict(FAMILY_SPECS.get(family, {"norm": family.removeprefix("paper-")}))
    model = _random_model(str(spec.pop("norm")), **spec)
    src, tgt = torch.randint(4, 300, (2, 9)), torch.randint(4, 300, (2, 6))
    real = _block_outputs(model, src, tgt)
    with torch.no_grad():
        enc, dec = decompositions(model, src, tgt)
    blocks: list[BlockDecomposition] = enc + [b for pair in dec for b in pair]
    assert len(blocks) == len(real) == 2 + 2 * 2
    for got, want in zip(blocks, real, strict=True):
        total = got.terms.sum(dim=2) + got.bias
        assert (total - want).abs().max().item() < 1e-4
        assert want.abs().max().item() > 0.5  # the comparison is not between two zeros
    for d_self, d_cross in dec:
        assert d_self.terms.shape[2] == 6 and d_cross.terms.shape[2] == 9 + 1
        upper = torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)
        assert d_self.terms[:, upper].abs().max().item() == 0.0  # no piece hears a later one


def test_rms_norm_terms_sum_back() -> None:
    """An RMSNorm family (no centring, no beta) decomposes through its own linear part."""
    model = _random_model("post", seed=1)
    for layer in [*model.encoder, *model.decoder]:
        for sub in (layer.sub1, getattr(layer, "sub2", None)):
            if sub is not None:
                rms = nn.RMSNorm(model.cfg.d_model, eps=1e-6)
                with torch.no_grad():
                    rms.weight.copy_(torch.rand(model.cfg.d_model) + 0.5)
                sub.norm = rms
    src, tgt = torch.randint(4, 300, (1, 7)), torch.randint(4, 300, (1, 5))
    real = _block_outputs(model, src, tgt)
    with torch.no_grad():
        enc, dec = decompositions(model, src, tgt)
    for got, want in zip(enc + [b for pair in dec for b in pair], real, strict=True):
        assert ((got.terms.sum(dim=2) + got.bias) - want).abs().max().item() < 1e-4


def test_alti_matrix_by_hand() -> None:
    # y = t1 + t2 + bias = (1, 2) + (0, -1) + (0, 0) = (1, 1); ||y||_1 = 2
    # ||y - t1||_1 = |0| + |-1| = 1 -> 2 - 1 = 1;  ||y - t2||_1 = 1 + 2 = 3 -> max(0, -1) = 0
    terms = torch.tensor([[[[1.0, 2.0], [0.0, -1.0]]]])  # (B=1, T=1, N=2, D=2)
    dec = BlockDecomposition(terms, torch.zeros(1, 1, 2), torch.tensor([[[1.0, 1.0]]]))
    assert alti_matrix(dec).tolist() == [[[1.0, 0.0]]]
    # two terms of (1, 0) and (0, 1) + bias (1, 1): y = (2, 2), ||y|| = 4, distances 3 and 3
    terms = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    dec = BlockDecomposition(terms, torch.ones(1, 1, 2), torch.tensor([[[2.0, 2.0]]]))
    assert alti_matrix(dec).tolist() == [[[0.5, 0.5]]]
    # Manhattan, not Euclidean: t1 = (2, 1), t2 = (1, -1), y = (3, 0), ||y||_1 = 3
    # ||y - t1||_1 = 2 -> 1;  ||y - t2||_1 = 3 -> 0   (L2 would give 1.59 and 0.76)
    terms = torch.tensor([[[[2.0, 1.0], [1.0, -1.0]]]])
    dec = BlockDecomposition(terms, torch.zeros(1, 1, 2), torch.tensor([[[3.0, 0.0]]]))
    assert alti_matrix(dec).tolist() == [[[1.0, 0.0]]]


def test_rollout_by_hand() -> None:
    enc = np.array([[[1.0, 0.0], [0.5, 0.5]]])  # one encoder layer, S = 2
    dec_self = np.array([[[1.0]], [[1.0]]])  # two decoder layers, T = 1
    cross = np.array([[[0.4, 0.2, 0.4]], [[0.1, 0.1, 0.8]]])  # last column: the decoder's own stream
    c = rollout(enc, dec_self, cross)
    # layer 1: source [0.4, 0.2] @ enc = [0.5, 0.1]; target 0.4 * 1 = 0.4
    # layer 2: 0.8 * [0.5, 0.1] + [0.1, 0.1] @ enc = [0.55, 0.13]; target 0.8 * 0.4 = 0.32
    np.testing.assert_allclose(c.rollout[0], [[0.5, 0.1, 0.4]], atol=1e-6)
    np.testing.assert_allclose(c.total, [[0.55, 0.13, 0.32]], atol=1e-6)
    np.testing.assert_allclose(c.source_share, [0.68], atol=1e-6)


def test_value_norms_match_a_direct_computation_from_the_weights() -> None:
    model = _random_model("post", seed=2)
    attn = model.encoder[0].self_attn
    x = torch.randn(2, 5, model.cfg.d_model)
    with torch.no_grad():
        got = attn.value_norms(attn.project_kv(x)[1])  # (B, H, S)
        w_v, b_v, w_o = attn.w_v.weight, attn.w_v.bias, attn.w_o.weight
        dk = model.cfg.d_k
        for h in range(model.cfg.n_heads):
            rows = slice(h * dk, (h + 1) * dk)
            f = (x @ w_v[rows].T + b_v[rows]) @ w_o[:, rows].T  # (B, S, D): f_h(x) = (x W_V^h + b_V^h) W_O^h
            torch.testing.assert_close(got[:, h], f.norm(dim=-1), atol=1e-5, rtol=1e-5)


def _teacher_forced_norms(model: Transformer, src: np.ndarray, tgt_in: np.ndarray) -> dict[str, np.ndarray]:
    """Value norms from every attention's real inputs (hooks), computed with the weights by hand."""
    inputs: dict[str, torch.Tensor] = {}
    hooks = []
    for side, layers in (("enc", model.encoder), ("dec", model.decoder)):
        for i, layer in enumerate(layers):
            mods = [("self", layer.self_attn)] + ([("cross", layer.cross_attn)] if side == "dec" else [])
            for kind, mod in mods:
                def grab(_m, args, key=f"{side}.{kind}.{i}"):  # noqa: ANN001, ANN202
                    inputs[key] = args[0].detach()  # project_kv's input: what the values are made of
                hooks.append(mod.w_v.register_forward_pre_hook(grab))
    with torch.no_grad():
        model(torch.from_numpy(src[None]), torch.from_numpy(tgt_in[None]))
    for h in hooks:
        h.remove()
    out: dict[str, np.ndarray] = {}
    cfg = model.cfg
    for key, x in inputs.items():
        side, kind, i = key.split(".")
        layer = (model.encoder if side == "enc" else model.decoder)[int(i)]
        mod = layer.self_attn if kind == "self" else layer.cross_attn
        heads = []
        for h in range(cfg.n_heads):
            rows = slice(h * cfg.d_k, (h + 1) * cfg.d_k)
            with torch.no_grad():
                f = (x[0] @ mod.w_v.weight[rows].T + mod.w_v.bias[rows]) @ mod.w_o.weight[:, rows].T
            heads.append(f.norm(dim=-1).numpy())
        out[key] = np.stack(heads)  # (H, N)
    return out


def test_engine_norms_and_contributions_match_torch(tiny_run: Path, tiny_engine: Engine) -> None:
    model, _, _ = load_run_model(tiny_run)
    model.eval()
    for cfg in (DecodeConfig(strategy="greedy"), DecodeConfig(strategy="beam", beam_size=3)):
        ins = tiny_engine.inspect("the cat eats an apple", cfg)
        path = ins.best
        tgt_in = np.concatenate([[2], path.target_ids[:-1]]).astype(np.int64)
        ref = _teacher_forced_norms(model, ins.source_ids, tgt_in)
        assert ins.encoder_value_norms is not None and ins.cross_value_norms is not None
        assert path.decoder_value_norms is not None
        for i in range(model.cfg.n_encoder_layers):
            np.testing.assert_allclose(ins.encoder_value_norms[i], ref[f"enc.self.{i}"], rtol=1e-4, atol=1e-4)
        for i in range(model.cfg.n_decoder_layers):
            np.testing.assert_allclose(ins.cross_value_norms[i], ref[f"dec.cross.{i}"], rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(path.decoder_value_norms[i], ref[f"dec.self.{i}"], rtol=1e-4, atol=1e-4)
        nw = ins.norm_weighted("cross")
        np.testing.assert_allclose(nw, path.cross_attention * ins.cross_value_norms[:, :, None, :], rtol=1e-6)
        # ALTI+: the onnxruntime layer matrices equal torch's on the same teacher-forced prefix
        c = ins.contributions
        assert c is not None
        with torch.no_grad():
            want = ContributionsGraph(model)(torch.from_numpy(ins.source_ids[None]), torch.from_numpy(tgt_in[None]))
        for got, w in zip((c.encoder_layers, c.decoder_self_layers, c.cross_layers), want, strict=True):
            np.testing.assert_allclose(got, w.numpy(), atol=1e-5)
        t, s = len(tgt_in), len(ins.source_ids)
        assert c.total.shape == (t, s + t)
        np.testing.assert_allclose(c.total.sum(axis=1), 1.0, atol=1e-5)
        assert np.all(np.triu(c.target, k=1) == 0)  # a prediction owes nothing to later pieces
        assert np.all((c.source_share > 0) & (c.source_share < 1))


def test_old_bundle_without_extras_still_inspects(tiny_bundle: Path, tiny_engine: Engine,
                                                   tmp_path: Path) -> None:
    """Graphs exported before the value norms (and no ALTI+ graph): same translation, no extras."""
    old = tmp_path / "old"
    shutil.copytree(tiny_bundle, old)
    (old / "contributions.onnx").unlink()
    for name, extra in (("encoder.onnx", {"enc_vnorm", "cross_vnorm"}), ("decoder.onnx", {"self_vnorm"})):
        proto = onnx.load(str(old / name))
        keep = [o for o in proto.graph.output if o.name not in extra]
        del proto.graph.output[:]
        proto.graph.output.extend(keep)
        onnx.save(proto, str(old / name))
    engine = Engine.load(old)
    cfg = DecodeConfig(strategy="beam", beam_size=3)
    a, b = engine.inspect("the dog sees a bird", cfg), tiny_engine.inspect("the dog sees a bird", cfg)
    assert a.translation == b.translation
    assert a.encoder_value_norms is None and a.best.decoder_value_norms is None and a.contributions is None
    assert a.norm_weighted("encoder") is None and b.norm_weighted("encoder") is not None
