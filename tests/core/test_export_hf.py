"""`attnscope export-hf`: our models as Marian folders, checked by transformers itself
(MarianMTModel.generate with the exported MarianTokenizer) and read back by `attnscope import`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
import torch  # noqa: E402

from attnscope.core.bundle import DEFAULT_BUNDLE  # noqa: E402
from attnscope.core.config import DecodeConfig, ModelConfig, to_dict  # noqa: E402

pytestmark = pytest.mark.skipif(not (DEFAULT_BUNDLE / "config.json").exists(),
                                reason="the default bundle is not built in this checkout")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from attnscope.core.convert.export_hf import export_hf

    out = tmp_path_factory.mktemp("hf") / "attnscope-en-ko"
    report = export_hf(DEFAULT_BUNDLE, out)
    assert report["permuted"]  # the shipped model interleaves sin/cos: the hidden dimensions move
    return out


@pytest.fixture(scope="module")
def shipped():  # noqa: ANN201
    from attnscope.core.inference.engine import Engine

    return Engine.load(DEFAULT_BUNDLE)


def _marian(folder: Path):  # noqa: ANN202
    from transformers import MarianMTModel, MarianTokenizer

    model, info = MarianMTModel.from_pretrained(folder, attn_implementation="eager", output_loading_info=True)
    # Every weight came from the folder (Marian builds its position table itself).
    assert all("embed_positions" in k for k in info["missing_keys"]), info
    assert not info["unexpected_keys"] and not info.get("mismatched_keys"), info
    return model.eval(), MarianTokenizer.from_pretrained(folder)


def test_transformers_translates_required_pairs_as_attnscope(exported: Path, shipped) -> None:  # noqa: ANN001
    """The exported folder, run by transformers alone, gives AttnScope's translation of each of
    the 17 required pairs, greedy and beam 4 (and both are the corpus specification's gold)."""
    from attnscope.core.data import required_pairs

    model, tok = _marian(exported)
    pairs = required_pairs()
    assert len(pairs) == 17
    batch = tok([p.en for p in pairs], return_tensors="pt", padding=True)
    wrong = []
    for beams in (1, 4):
        cfg = DecodeConfig(strategy="greedy" if beams == 1 else "beam", beam_size=4)
        with torch.no_grad():
            seqs = model.generate(**batch, num_beams=beams, do_sample=False)
        for p, seq, ids, mask in zip(pairs, seqs, batch.input_ids, batch.attention_mask, strict=True):
            ins = shipped.inspect(p.en, cfg)
            assert ids[mask.bool()].tolist() == ins.source_ids.tolist(), p.en  # MarianTokenizer cuts as we do
            theirs = tok.decode(seq, skip_special_tokens=True)
            if beams == 1:  # greedy: the same pieces, one for one
                n = len(ins.best.target_ids)
                assert seq.tolist()[: n + 1] == [shipped.special.decoder_start, *ins.best.target_ids.tolist()], p.en
            if not theirs == ins.translation == p.ko:
                wrong.append((p.en, beams, p.ko, ins.translation, theirs))
    assert not wrong, wrong


def test_transformers_forward_matches_ours_on_the_permuted_stream(exported: Path, shipped) -> None:  # noqa: ANN001
    """Teacher-forced through transformers' forward pass: logits and every attention of the
    shipped bundle's chosen path, within 1e-4."""
    model, tok = _marian(exported)
    start = shipped.special.decoder_start
    for text in ("She eats an apple.", "You love me", "The old man reads a book."):
        ins = shipped.inspect(text, DecodeConfig(strategy="beam", beam_size=4))
        got = ins.best.target_ids.tolist()
        with torch.no_grad():
            o = model(input_ids=tok(text, return_tensors="pt").input_ids,
                      decoder_input_ids=torch.tensor([[start] + got[:-1]]), output_attentions=True)
        np.testing.assert_allclose(ins.best.step_logits.dense_values(), o.logits[0].numpy(), atol=1e-4)
        for ours, theirs in ((ins.encoder_attention, o.encoder_attentions),
                             (ins.best.decoder_self_attention, o.decoder_attentions),
                             (ins.best.cross_attention, o.cross_attentions)):
            np.testing.assert_allclose(ours, np.stack([a[0].numpy() for a in theirs]), atol=1e-4)


SENTENCES = ["I love you", "She eats an apple.", "Does the teacher like the small dog?",
             "my friends walked to the old house yesterday", "The cat × sleeps — 🙂"]


def test_import_of_export_gives_the_shipped_bundle_outputs(exported: Path, shipped, tmp_path: Path) -> None:  # noqa: ANN001
    """export-hf then import: the same pieces, logits and every attention as the shipped bundle
    (within 1e-5), greedy and beam 4, on several sentences (one with byte-fallback pieces)."""
    from attnscope.core.convert.importer import import_hf
    from attnscope.core.inference.engine import Engine

    import_hf(str(exported), tmp_path / "back")
    back = Engine.load(tmp_path / "back")
    assert back.model_config.positions == "sinusoidal_half"  # read as Marian, not as ours
    for text in SENTENCES:
        for cfg in (DecodeConfig(strategy="greedy"), DecodeConfig(strategy="beam", beam_size=4)):
            a, b = shipped.inspect(text, cfg), back.inspect(text, cfg)
            assert a.source_ids.tolist() == b.source_ids.tolist(), text
            assert a.best.target_ids.tolist() == b.best.target_ids.tolist(), text
            assert a.translation == b.translation
            for x, y in ((a.encoder_attention, b.encoder_attention),
                         (a.best.step_logits.dense_values(), b.best.step_logits.dense_values()),
                         (a.best.decoder_self_attention, b.best.decoder_self_attention),
                         (a.best.cross_attention, b.best.cross_attention)):
                np.testing.assert_allclose(x, y, atol=1e-5, rtol=0)
    assert any(p.startswith("<0x") for p in back.inspect(SENTENCES[-1]).source_pieces)


def _random_run(folder: Path, cfg: ModelConfig, seed: int = 0) -> Path:
    """A run folder holding a random model of ``cfg`` and the shipped tokenizer."""
    import shutil

    from safetensors.torch import save_file

    from attnscope.core.model import Transformer

    folder.mkdir(parents=True)
    torch.manual_seed(seed)
    model = Transformer(cfg).eval()
    with torch.no_grad():  # LayerNorms and biases that are not the identity, so a lost permutation shows
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.normal_(1.0 if name.endswith("norm.weight") else 0.0, 0.3)
        if cfg.logits_bias:
            model.logits_bias.normal_(0, 1)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "weights.safetensors"))
    shutil.copyfile(DEFAULT_BUNDLE / "spm.model", folder / "spm.model")
    (folder / "config.json").write_text(json.dumps({
        "model": to_dict(cfg), "tokenizer": {"type": "sentencepiece", "file": "spm.model", "pad_id": 0,
                                             "bos_id": 2, "eos_id": 3}}))
    return folder


SPEC = ModelConfig(vocab_size=1500, d_model=32, n_heads=4, decoder_heads=2, n_encoder_layers=2,
                   n_decoder_layers=3, d_ff=64, decoder_d_ff=48, dropout=0.0, max_len=40, activation="gelu",
                   logits_bias=True, tied_output=False, shared_embeddings=False, scale_embedding=False)


@pytest.mark.parametrize("cfg", [SPEC, ModelConfig(vocab_size=1500, d_model=32, n_heads=4, d_ff=64, dropout=0.0,
                                                   max_len=40, activation="swish", positions="sinusoidal_half")],
                         ids=["gelu-untied-separate-bias", "swish-halfsplit"])
def test_every_marian_spec_field_survives(cfg: ModelConfig, tmp_path: Path) -> None:
    """Spec fields other than the shipped model's (GELU/swish, separate embeddings, an untied
    output with a logits bias, no embedding scale, decoder heads and FFN of its own, Marian's
    own position layout): our torch forward against transformers' forward of the export."""
    from attnscope.core.convert.export_hf import export_hf
    from attnscope.core.model import Transformer

    run = _random_run(tmp_path / "run", cfg)
    export_hf(run, tmp_path / "hf")
    model, _ = _marian(tmp_path / "hf")
    from safetensors.torch import load_file

    ours = Transformer(cfg).eval()
    ours.load_state_dict(load_file(str(run / "weights.safetensors")))
    rng = np.random.default_rng(0)
    src = torch.from_numpy(np.append(rng.integers(4, 1500, 11), 3)[None])
    tgt = torch.from_numpy(np.insert(rng.integers(4, 1500, 7), 0, 2)[None])
    with torch.no_grad():
        want = ours(src, tgt)
        got = model(input_ids=src, decoder_input_ids=tgt).logits
    assert want.abs().max() > 1.0  # logits that can tell a permutation bug apart
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4)


def test_export_hf_command_and_its_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from attnscope.core.cli import main

    def run(*args: str) -> tuple[int, str]:
        code = main(list(args))
        return code, capsys.readouterr().err

    small = ModelConfig(vocab_size=1500, d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1,
                        d_ff=32, dropout=0.0, max_len=20)
    ok = _random_run(tmp_path / "ok", small)
    code, err = run("export-hf", str(ok), "--out", str(tmp_path / "hf"))
    assert code == 0 and (tmp_path / "hf" / "model.safetensors").is_file(), err
    cases = [
        (tmp_path / "nothing", "no such run"),
        (_random_run(tmp_path / "pre", ModelConfig(**{**to_dict(small), "norm": "pre"})), "post-LN"),
        (_random_run(tmp_path / "learned", ModelConfig(**{**to_dict(small), "positions": "learned",
                                                         "position_offset": 2})), "positions"),
    ]
    nospm = _random_run(tmp_path / "nospm", small)
    (nospm / "spm.model").unlink()
    cases.append((nospm, "spm.model"))
    noweights = _random_run(tmp_path / "noweights", small)
    (noweights / "weights.safetensors").unlink()
    cases.append((noweights, "weights.safetensors"))
    wrongvocab = _random_run(tmp_path / "vocab", ModelConfig(**{**to_dict(small), "vocab_size": 1000}))
    cases.append((wrongvocab, "vocab_size"))
    for folder, words in cases:
        code, err = run("export-hf", str(folder), "--out", str(tmp_path / "bad"))
        assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, (folder, err)
        assert str(folder.name) in err and not (tmp_path / "bad").exists()
    assert not (tmp_path / "bad.partial").exists()


@pytest.mark.parametrize(("module", "extra"), [("torch", "train"), ("transformers", "hf")])
def test_export_hf_without_its_extras_says_how_to_install_them(module: str, extra: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from attnscope.core.cli import main

    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    assert main(["export-hf", str(DEFAULT_BUNDLE), "--out", str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"pip install 'attnscope[{extra}]'" in err, err
    assert not (tmp_path / "hf").exists()


def test_a_run_folder_exports_from_its_latest_checkpoint(tiny_run: Path, tmp_path: Path) -> None:
    """A run whose final weights are not written yet: export-hf takes the checkpoint that
    latest.json names, and transformers' forward gives our torch model's logits."""
    import shutil

    from attnscope.core.convert.export_hf import export_hf
    from attnscope.core.train import load_run_model

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "weights.safetensors").unlink(missing_ok=True)
    report = export_hf(run, tmp_path / "hf")
    assert "ckpt-" in report["weights"]
    ours, tok, _ = load_run_model(run)
    model, hf_tok = _marian(tmp_path / "hf")
    ids = hf_tok("She eats an apple.", return_tensors="pt").input_ids
    assert ids[0].tolist() == [*tok.encode("She eats an apple."), tok.special.eos]
    tgt = torch.tensor([[tok.special.decoder_start, 5, 17, 42, 9]])
    with torch.no_grad():
        np.testing.assert_allclose(model(input_ids=ids, decoder_input_ids=tgt).logits.numpy(),
                                   ours(ids, tgt).numpy(), atol=1e-4)
