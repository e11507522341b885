"""The Transformer: shapes, attention as values, the paper's sizes, Noam and label smoothing."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from attnscope.core.config import PRESETS, ModelConfig
from attnscope.core.model import LabelSmoothingLoss, Transformer, count_parameters, noam_rate, sinusoid_table


def tiny(**kw: object) -> ModelConfig:
    return replace(PRESETS["tiny"][0], **kw)  # type: ignore[arg-type]


def test_base_preset_matches_paper_parameter_count() -> None:
    cfg = PRESETS["base"][0]
    assert (cfg.d_model, cfg.n_heads, cfg.n_encoder_layers, cfg.d_ff, cfg.dropout) == (512, 8, 6, 2048, 0.1)
    assert PRESETS["base"][1].warmup == 4000 and PRESETS["base"][1].label_smoothing == 0.1
    with torch.device("meta"):
        n = count_parameters(Transformer(replace(cfg, vocab_size=37000)))
    # Table 3 of the paper: base model ~65M parameters (shared 37000-piece vocabulary).
    assert 60e6 < n < 66e6, n


def test_default_preset_is_big_enough_to_show() -> None:
    cfg = PRESETS["default"][0]
    assert cfg.n_encoder_layers >= 3 and cfg.n_decoder_layers >= 3 and cfg.n_heads >= 4


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_every_attention_is_returned_and_is_a_distribution(norm: str) -> None:
    torch.manual_seed(0)
    cfg = tiny(norm=norm, vocab_size=50)
    model = Transformer(cfg).eval()
    src = torch.tensor([[5, 6, 7, 3, 0], [8, 9, 3, 0, 0]])
    tgt = torch.tensor([[2, 10, 11], [2, 12, 13]])
    mask = model.src_mask(src)
    with torch.no_grad():
        memory, enc = model.encode(src, mask)
        logits, dec_self, cross = model.decode(tgt, memory, mask)
    assert memory.shape == (2, 5, cfg.d_model) and logits.shape == (2, 3, 50)
    assert len(enc) == cfg.n_encoder_layers and len(dec_self) == len(cross) == cfg.n_decoder_layers
    assert enc[0].shape == (2, cfg.n_heads, 5, 5) and cross[0].shape == (2, cfg.n_heads, 3, 5)
    for a in enc + dec_self + cross:
        torch.testing.assert_close(a.sum(-1), torch.ones(a.shape[:-1]))
    # Padding gets no attention; the future gets no attention.
    assert float(cross[0][1, :, :, 3:].abs().max()) < 1e-6
    assert float(dec_self[0][:, :, 0, 1:].abs().max()) < 1e-6
    assert not any(hasattr(m, "attn") for m in model.modules())


def test_incremental_decoding_equals_full_decoding() -> None:
    torch.manual_seed(1)
    model = Transformer(tiny(vocab_size=40)).eval()
    src = torch.tensor([[5, 6, 7, 3]])
    tgt = torch.tensor([[2, 9, 10, 11]])
    mask = model.src_mask(src)
    memory, _ = model.encode(src, mask)
    full, full_self, _ = model.decode(tgt, memory, mask)
    kv = model.cross_kv(memory)
    past = [(None, None)] * len(model.decoder)
    for t in range(tgt.size(1)):
        y = model.embed_target(tgt[:, t:t + 1], t)
        new_past = []
        for i, layer in enumerate(model.decoder):
            y, k, v, sp, _ = layer(y, kv[i][0], kv[i][1], mask, None, *past[i])
            new_past.append((k, v))
            torch.testing.assert_close(sp[0, :, 0], full_self[i][0, :, t, : t + 1])
        past = new_past
        torch.testing.assert_close(model.generator(model.dec_norm(y))[:, 0], full[:, t], atol=1e-5, rtol=1e-5)


def test_embeddings_are_tied_and_scaled() -> None:
    model = Transformer(tiny(vocab_size=30))
    ids = torch.tensor([[4]])
    torch.testing.assert_close(model.embed_scaled(ids)[0, 0], model.embed.weight[4] * math.sqrt(32))
    y = torch.randn(1, 1, 32)
    torch.testing.assert_close(model.generator(y), y @ model.embed.weight.t())


def test_sinusoids_by_hand() -> None:
    pe = sinusoid_table(4, 4)
    assert float(pe[0, 0]) == 0.0 and float(pe[0, 1]) == 1.0
    assert math.isclose(float(pe[1, 0]), math.sin(1.0), rel_tol=1e-6)
    assert math.isclose(float(pe[1, 2]), math.sin(1 / 100), rel_tol=1e-5)  # 10000^(2/4) = 100
    assert math.isclose(float(pe[2, 3]), math.cos(2 / 100), rel_tol=1e-5)


def test_noam_rate_by_hand() -> None:
    # d_model 512, warmup 4000: peak at step 4000 = 512^-0.5 * 4000^-0.5 ≈ 7.0e-4.
    assert math.isclose(noam_rate(4000, 512, 1.0, 4000), 512 ** -0.5 * 4000 ** -0.5)
    assert math.isclose(noam_rate(100, 512, 1.0, 4000), 512 ** -0.5 * 100 * 4000 ** -1.5)
    assert math.isclose(noam_rate(16000, 512, 2.0, 4000), 2 * 512 ** -0.5 / 126.49110640673517, rel_tol=1e-9)
    assert noam_rate(4000, 512, 1.0, 4000) > noam_rate(3999, 512, 1.0, 4000)
    assert noam_rate(4000, 512, 1.0, 4000) > noam_rate(4001, 512, 1.0, 4000)


def test_label_smoothing_by_hand() -> None:
    # V=5 (pad 0), eps=0.3: target gets 0.7, the 3 other non-pad pieces 0.1 each.
    crit = LabelSmoothingLoss(5, 0, 0.3)
    logits = torch.log(torch.tensor([[0.1, 0.4, 0.2, 0.2, 0.1]]))
    loss = crit(logits, torch.tensor([1]))
    expected = -(0.7 * math.log(0.4) + 0.1 * math.log(0.2) * 2 + 0.1 * math.log(0.1))
    assert math.isclose(float(loss), expected, rel_tol=1e-5)
    # Padding positions do not count.
    two = crit(torch.cat([logits, logits]), torch.tensor([1, 0]))
    assert math.isclose(float(two), expected, rel_tol=1e-5)
