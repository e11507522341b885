"""Imported Hugging Face models against transformers itself: generate() token for token,
and the chosen path's attention and logits against transformers' forward pass."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
import torch  # noqa: E402
from hf_models import NLLB_LANGS, SENTENCES, bart_folder, marian_folder, mbart50_folder, nllb_folder  # noqa: E402


@pytest.fixture(scope="module")
def marian(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from attnscope.core.convert.importer import import_hf

    folder = marian_folder(tmp_path_factory.mktemp("hf") / "opus-mt-tiny")
    bundle = tmp_path_factory.mktemp("bundles") / "marian"
    import_hf(str(folder), bundle)
    return folder, bundle


def _hf(folder: Path):  # noqa: ANN202
    from transformers import MarianMTModel, MarianTokenizer

    model = MarianMTModel.from_pretrained(folder, attn_implementation="eager").eval()
    tok = MarianTokenizer(str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json"))
    return model, tok


def _generated(seq: torch.Tensor, eos: int) -> list[int]:
    """generate()'s sequence without the decoder start, up to and including EOS."""
    out = []
    for t in seq.tolist()[1:]:
        out.append(t)
        if t == eos:
            break
    return out


def _parity(model, engine, source_ids, texts, cfg=None, lengths_seen=3, **generate_kwargs) -> None:  # noqa: ANN001
    """Greedy and beam search against generate(), and the chosen path's attention and logits
    against transformers' forward pass (eager attention, no cache)."""
    defaults = cfg or engine.decode_defaults()
    eos = model.config.eos_token_id
    worst = {"logits": 0.0, "encoder": 0.0, "self": 0.0, "cross": 0.0}
    lengths = set()
    for text in texts:
        ids = source_ids(text)
        for beams in (1, defaults.beam_size):
            run = defaults.replace(strategy="greedy") if beams == 1 else defaults
            ins = engine.inspect(text, run)
            assert ins.source_ids.tolist() == ids[0].tolist(), text
            with torch.no_grad():
                seq = model.generate(ids, num_beams=beams, do_sample=False, **generate_kwargs)[0]
            want = _generated(seq, eos)
            got = ins.best.target_ids.tolist()
            assert got == want, (text, beams, got, want)
            lengths.add(len(got))
            dec_in = torch.tensor([[model.config.decoder_start_token_id] + got[:-1]])
            with torch.no_grad():
                o = model(input_ids=ids, decoder_input_ids=dec_in, output_attentions=True)
            worst["logits"] = max(worst["logits"], float(np.abs(ins.best.step_logits.dense_values() - o.logits[0].numpy()).max()))
            enc = np.stack([a[0].numpy() for a in o.encoder_attentions])
            worst["encoder"] = max(worst["encoder"], float(np.abs(ins.encoder_attention - enc).max()))
            dself = np.stack([a[0].numpy() for a in o.decoder_attentions])
            worst["self"] = max(worst["self"], float(np.abs(ins.best.decoder_self_attention - dself).max()))
            cross = np.stack([a[0].numpy() for a in o.cross_attentions])
            worst["cross"] = max(worst["cross"], float(np.abs(ins.best.cross_attention - cross).max()))
    assert max(worst.values()) < 1e-4, worst
    assert len(lengths) >= lengths_seen, lengths  # hypotheses of several lengths: stopping rules exercised


def test_import_verify_reports_parity(marian: tuple[Path, Path], tmp_path: Path) -> None:
    """--verify: decoded by the bundle, then by transformers, compared."""
    from attnscope.core.convert.importer import import_hf

    folder, _ = marian
    report = import_hf(str(folder), tmp_path / "b", verify=True, sentences=SENTENCES[:3])
    assert report["verified"] and report["verify"]["identical_beam"] == 3, report


def test_marian_matches_generate_and_forward(marian: tuple[Path, Path]) -> None:
    from attnscope.core.inference.engine import Engine

    folder, bundle = marian
    model, tok = _hf(folder)
    engine = Engine.load(bundle)
    defaults = engine.decode_defaults()
    assert (defaults.beam_size, defaults.max_len, defaults.length_penalty_kind) == (4, 23, "hf")
    assert len(SENTENCES) >= 20
    _parity(model, engine, lambda t: tok(t, return_tensors="pt").input_ids, SENTENCES)
    for text in SENTENCES[:5]:  # target.spm joins the pieces as MarianTokenizer does
        ins = engine.inspect(text, defaults)
        with torch.no_grad():
            seq = model.generate(tok(text, return_tensors="pt").input_ids)[0]
        assert ins.translation == tok.decode(seq, skip_special_tokens=True)


# Texts whose punctuation Moses' normalize-punctuation (sacremoses.MosesPunctNormalizer) rewrites:
# French and German quotes, curly apostrophes, the ellipsis, en and em dashes, "5 %", doubled
# spaces, spaces inside parentheses and before ";" and ":", no-break spaces, a quote before a comma.
MOSES_TEXTS = [
    "«the cat» … it’s 5 % — ok?", "the  cat (sees ) the dog ;", "the cat\u00a0: the dog",
    "„the dog“ – the cat", "the boy ´s book ``the tree''", "12\u00a0345 dogs near the river",
    'the "dog", the cat', 'the dog," the cat', "the girl\u00a0! the boy\u00a0?",
]


@pytest.fixture(scope="module")
def marian_punct(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A Marian folder whose source spm has pieces for the punctuation, typographic and ASCII
    (the fixture's spm knows only words: any punctuation would be one unk), and its bundle."""
    from attnscope.core.convert.importer import import_hf

    marks = tuple('«»…’‘´`\'"„“”–—-.,;:!?%()') + ("...", "''", "``", "12", "345")
    folder = marian_folder(tmp_path_factory.mktemp("hf") / "opus-mt-punct", source_words=marks)
    bundle = tmp_path_factory.mktemp("bundles") / "marian-punct"
    import_hf(str(folder), bundle)
    return folder, bundle


@pytest.mark.parametrize("source_lang", [None, "en", "de"])
def test_marian_source_is_not_punctuation_normalised(marian_punct: tuple[Path, Path],
                                                     source_lang: str | None) -> None:
    """transformers' MarianTokenizer builds a Moses punctuation normaliser when sacremoses is
    installed, but its __call__ never applies it (only its normalize(), which nothing in
    transformers calls): the source pieces are cut from the text as typed. The bundle does
    the same: for texts that Moses rewrites, into different pieces, the ids are transformers'."""
    import sacremoses
    from transformers import MarianTokenizer

    from attnscope.core.config import DecodeConfig
    from attnscope.core.inference.engine import Engine

    folder, bundle = marian_punct
    tok = MarianTokenizer(str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json"),
                          source_lang=source_lang)
    assert isinstance(tok.punc_normalizer.__self__, sacremoses.MosesPunctNormalizer)  # sacremoses in use
    engine = Engine.load(bundle)
    cfg = DecodeConfig(strategy="greedy", max_len=2)
    rewritten = 0
    for text in MOSES_TEXTS:
        want = tok(text).input_ids
        normalised = tok.normalize(text)
        rewritten += tok(normalised).input_ids != want
        assert engine.inspect(text, cfg).source_ids.tolist() == want, (source_lang, text, normalised)
    # Moses rewrites every text into other pieces (a normalising tokenizer would fail above)
    # but the quote-and-comma ones: moved for English or for de/es/fr only, for no language never.
    assert rewritten == len(MOSES_TEXTS) - (2 if source_lang is None else 1), rewritten


def test_imported_marian_exports_back_as_the_same_model(marian: tuple[Path, Path], tmp_path: Path) -> None:
    """OPUS-MT → import → export-hf: transformers reads back the model it started from
    (swish, logits bias, Marian's own tokenizer files), logits within 1e-5 and the same
    generate() output."""
    from attnscope.core.convert.export_hf import export_hf

    folder, bundle = marian
    report = export_hf(bundle, tmp_path / "back")
    assert not report["permuted"]  # already Marian's half-split layout
    model, tok = _hf(folder)
    back, back_tok = _hf(tmp_path / "back")
    for text in SENTENCES[:4]:
        ids = tok(text, return_tensors="pt").input_ids
        assert back_tok(text, return_tensors="pt").input_ids.tolist() == ids.tolist()
        dec = torch.tensor([[model.config.decoder_start_token_id, 5, 9, 17]])
        with torch.no_grad():
            np.testing.assert_allclose(back(input_ids=ids, decoder_input_ids=dec).logits.numpy(),
                                       model(input_ids=ids, decoder_input_ids=dec).logits.numpy(), atol=1e-5)
            assert back.generate(ids).tolist() == model.generate(ids).tolist()


def test_bart_matches_generate_and_forward(tmp_path: Path) -> None:
    """Learned positions from row 2, embedding LayerNorm, GELU, forced BOS and EOS, n-gram
    blocking and early stopping from generation_config.json; byte-level "Ġ" shown as "▁"."""
    from tokenizers import Tokenizer as HFTokenizer
    from transformers import BartForConditionalGeneration

    from attnscope.core.convert.importer import import_hf
    from attnscope.core.inference.engine import Engine

    folder = bart_folder(tmp_path / "bart")
    import_hf(str(folder), tmp_path / "bundle")
    engine = Engine.load(tmp_path / "bundle")
    model = BartForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()
    bpe = HFTokenizer.from_file(str(folder / "tokenizer.json"))
    # BART frames a source as <s> pieces </s> (ids 0 and 2).
    _parity(model, engine, lambda t: torch.tensor([[0, *bpe.encode(t).ids, 2]]), SENTENCES[:20])
    ins = engine.inspect("the cat sees the dog")
    pieces = ins.source_pieces
    assert sum(p.startswith("▁") for p in pieces) >= 4 and not any("Ġ" in p for p in pieces), pieces
    _alti_matches_torch(engine, ins, tmp_path / "bundle")


def _alti_matches_torch(engine, ins, bundle: Path) -> None:  # noqa: ANN001
    """ALTI+ of an imported model: the onnxruntime layer matrices equal the torch
    decomposition of the bundle's own weights on the same teacher-forced prefix."""
    from safetensors.torch import load_file

    from attnscope.core.contributions import ContributionsGraph
    from attnscope.core.model import Transformer

    c = ins.contributions
    assert c is not None, "an imported bundle has no ALTI+ graph"
    model = Transformer(engine.model_config).eval()
    model.load_state_dict(load_file(str(bundle / "weights.safetensors")), strict=False)
    start = engine.tokenizer.special.decoder_start
    tgt_in = np.concatenate([[start], ins.best.target_ids[:-1]]).astype(np.int64)
    with torch.no_grad():
        want = ContributionsGraph(model)(torch.from_numpy(ins.source_ids[None]), torch.from_numpy(tgt_in[None]))
    for got, w in zip((c.encoder_layers, c.decoder_self_layers, c.cross_layers), want, strict=True):
        np.testing.assert_allclose(got, w.numpy(), atol=1e-5)
    np.testing.assert_allclose(c.total.sum(axis=1), 1.0, atol=1e-5)
    assert np.all((c.source_share > 0) & (c.source_share < 1))


def test_nllb_matches_generate_and_forward(tmp_path: Path) -> None:
    """M2M100/NLLB: pre-LN, final norms, fairseq sinusoids from row pad + 1, a decoder with
    other layer and head counts; language codes frame the source and force the first piece."""
    from transformers import AutoTokenizer, M2M100ForConditionalGeneration

    from attnscope.core.convert.importer import import_hf
    from attnscope.core.inference.engine import Engine

    folder = nllb_folder(tmp_path / "nllb")
    import_hf(str(folder), tmp_path / "bundle", target_lang="fra_Latn")
    engine = Engine.load(tmp_path / "bundle")
    assert set(engine.languages()) == set(NLLB_LANGS)
    model = M2M100ForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(str(folder), src_lang="eng_Latn")
    fra = tok.convert_tokens_to_ids("fra_Latn")
    assert engine.decode_defaults().forced_bos_id == fra
    _parity(model, engine, lambda t: tok(t, return_tensors="pt").input_ids, SENTENCES[:20], lengths_seen=2,
            forced_bos_token_id=fra)
    # Another pair, chosen at run time: German source, English target.
    engine.set_source_language("deu_Latn")
    deu = AutoTokenizer.from_pretrained(str(folder), src_lang="deu_Latn")
    eng = tok.convert_tokens_to_ids("eng_Latn")
    cfg = engine.target_language(engine.decode_defaults(), "eng_Latn")
    _parity(model, engine, lambda t: deu(t, return_tensors="pt").input_ids, SENTENCES[:5], cfg,
            lengths_seen=1, forced_bos_token_id=eng)
    _alti_matches_torch(engine, engine.inspect("the cat sees the dog", cfg), tmp_path / "bundle")


def test_mbart50_matches_generate_and_forward(tmp_path: Path) -> None:
    """mBART-50: pre-LN with final norms and an embedding LayerNorm, learned positions from
    row 2, GELU, scaled embeddings; "[en_XX] X </s>", the decoder starts with </s> and the
    target language code is forced first; its 52 codes are the language picker's."""
    from transformers import AutoTokenizer, MBartForConditionalGeneration

    from attnscope.core.convert.importer import import_hf
    from attnscope.core.inference.engine import Engine

    folder = mbart50_folder(tmp_path / "mbart50")
    import_hf(str(folder), tmp_path / "bundle")
    engine = Engine.load(tmp_path / "bundle")
    tok = AutoTokenizer.from_pretrained(str(folder), src_lang="en_XX")
    assert len(engine.languages()) == 52 and engine.languages()["ro_RO"] == tok.convert_tokens_to_ids("ro_RO")
    cfg = engine.model_config
    assert (cfg.norm, cfg.has_final_norm, cfg.embed_norm, cfg.positions, cfg.position_offset, cfg.activation) == (
        "pre", True, True, "learned", 2, "gelu")
    model = MBartForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()
    ro = tok.convert_tokens_to_ids("ro_RO")
    assert engine.decode_defaults().forced_bos_id == ro  # tokenizer_config.json's tgt_lang
    _parity(model, engine, lambda t: tok(t, return_tensors="pt").input_ids, SENTENCES[:20],
            forced_bos_token_id=ro)
    # Another pair at run time, as the picker and --source-lang/--target-lang choose it.
    engine.set_source_language("de_DE")
    deu = AutoTokenizer.from_pretrained(str(folder), src_lang="de_DE")
    fr = tok.convert_tokens_to_ids("fr_XX")
    to_fr = engine.target_language(engine.decode_defaults(), "fr_XX")
    _parity(model, engine, lambda t: deu(t, return_tensors="pt").input_ids, SENTENCES[:4], to_fr,
            lengths_seen=1, forced_bos_token_id=fr)
    ins = engine.inspect("the cat sees the dog", to_fr)
    assert ins.source_pieces[0] == "de_DE" and ins.source_pieces[-1] == "</s>"
    assert ins.best.target_ids[0] == fr and "fr_XX" not in ins.translation


def test_mbart_cc25_frames_after_the_sentence_and_starts_with_the_target(tmp_path: Path) -> None:
    """mBART-cc25: "X </s> [en_XX]", and the target language is the decoder's first input
    (config.json's decoder_start_token_id, or --target-lang at import), not a forced piece."""
    from transformers import AutoTokenizer, MBartForConditionalGeneration

    from attnscope.core.convert.importer import import_hf
    from attnscope.core.inference.engine import Engine

    folder = mbart50_folder(tmp_path / "cc25", cc25=True)
    tok = AutoTokenizer.from_pretrained(str(folder), src_lang="en_XX")
    model = MBartForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()
    import_hf(str(folder), tmp_path / "bundle")
    engine = Engine.load(tmp_path / "bundle")
    assert len(engine.languages()) == 25 and engine.decode_defaults().forced_bos_id == -1
    assert engine.special.decoder_start == tok.convert_tokens_to_ids("ro_RO")
    _parity(model, engine, lambda t: tok(t, return_tensors="pt").input_ids, SENTENCES[:8], lengths_seen=2)
    assert list(engine.inspect("the cat").source_pieces[-2:]) == ["</s>", "en_XX"]
    import_hf(str(folder), tmp_path / "de", target_lang="de_DE")
    de = Engine.load(tmp_path / "de")
    de_id = tok.convert_tokens_to_ids("de_DE")
    model.config.decoder_start_token_id = de_id  # what _parity teacher-forces from
    _parity(model, de, lambda t: tok(t, return_tensors="pt").input_ids, SENTENCES[:3], lengths_seen=1,
            decoder_start_token_id=de_id)
    # Choosing the target at run time (the app's picker, --target-lang) gives that bundle's decode.
    to_de = engine.target_language(engine.decode_defaults(), "de_DE")
    assert engine.special.decoder_start == de_id and to_de.forced_bos_id == -1
    for text in SENTENCES[:3]:
        a, b = engine.inspect(text, to_de), de.inspect(text, de.decode_defaults())
        assert a.best.target_ids.tolist() == b.best.target_ids.tolist(), text
        np.testing.assert_allclose(a.best.cross_attention, b.best.cross_attention, atol=1e-6)


@pytest.mark.parametrize("settings", [
    {"early_stopping": "never", "length_penalty": 1.5, "no_repeat_ngram_size": 2, "min_length": 6},
    {"early_stopping": False, "length_penalty": -0.5, "num_beams": 3},
])
def test_marian_generation_settings_match_generate(marian: tuple[Path, Path], settings: dict,
                                                   tmp_path: Path) -> None:
    """generation_config.json's early_stopping, length penalty, min_length and n-gram blocking."""
    from attnscope.core.convert.importer import import_hf
    from attnscope.core.inference.engine import Engine

    folder = marian_folder(tmp_path / "hf", seed=1, generation=settings)
    bundle = tmp_path / "bundle"
    import_hf(str(folder), bundle)
    model, tok = _hf(folder)
    engine = Engine.load(bundle)
    cfg = engine.decode_defaults()
    for text in SENTENCES[:5]:
        ids = tok(text, return_tensors="pt").input_ids
        with torch.no_grad():
            seq = model.generate(ids, do_sample=False)[0]
        want = _generated(seq, model.config.eos_token_id)
        assert engine.inspect(text, cfg).best.target_ids.tolist() == want, text


class _Result:
    def __init__(self, returncode: int, stderr: str) -> None:
        self.returncode, self.stderr = returncode, stderr


@pytest.fixture
def _cli(capsys: pytest.CaptureFixture[str]):  # noqa: ANN202
    """The `attnscope` command in this process (what the console script runs)."""
    from attnscope.core.cli import main

    def run(*args: str) -> _Result:
        code = main(list(args))
        return _Result(code, capsys.readouterr().err)

    return run


def test_import_errors_are_one_line(marian: tuple[Path, Path], tmp_path: Path, _cli) -> None:  # noqa: ANN001
    folder, _ = marian
    # A family we do not read: the message names its model_type and the supported ones.
    other = tmp_path / "t5"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "t5"}))
    r = _cli("import", str(other), "--out", str(tmp_path / "b1"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "'t5'" in r.stderr and "marian" in r.stderr and "config.json" in r.stderr
    # A repo id not in the local cache: download first, no network.
    r = _cli("import", "nobody/not-a-model", "--out", str(tmp_path / "b2"))
    assert r.returncode == 2 and "download" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    # A missing tokenizer file, and a vocabulary larger than the model's.
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / "target.spm").unlink()
    r = _cli("import", str(broken), "--out", str(tmp_path / "b3"))
    assert r.returncode == 2 and "target.spm" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    shutil.copyfile(folder / "target.spm", broken / "target.spm")
    vocab = json.loads((broken / "vocab.json").read_text())
    vocab["extra"] = 10_000
    (broken / "vocab.json").write_text(json.dumps(vocab))
    r = _cli("import", str(broken), "--out", str(tmp_path / "b4"))
    assert r.returncode == 2 and "vocab.json" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b4").exists() and not (tmp_path / "b4.partial").exists()


FOLDERS = {"marian": marian_folder, "bart": bart_folder, "mbart": mbart50_folder, "m2m_100": nllb_folder}


@pytest.mark.parametrize("kind", sorted(FOLDERS))
def test_every_family_names_the_file_it_cannot_use(kind: str, tmp_path: Path, _cli,  # noqa: ANN001
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A missing or unreadable tokenizer file, a tokenizer larger than config.json's
    vocab_size, and weights smaller than it: one line each, naming the file, nothing written."""
    import shutil

    folder = FOLDERS[kind](tmp_path / kind)
    capsys.readouterr()  # transformers' progress bars while saving the folder
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == kind
    files = ("source.spm", "target.spm", "vocab.json") if kind == "marian" else ("tokenizer.json",)

    def fails(broken: Path, name: str) -> None:
        out = tmp_path / "out"
        r = _cli("import", str(broken), "--out", str(out))
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert str(broken / name) in r.stderr, (name, r.stderr)
        assert not out.exists() and not out.with_name("out.partial").exists()

    for name in files:
        broken = tmp_path / f"no-{name}"
        shutil.copytree(folder, broken)
        (broken / name).unlink()
        fails(broken, name)
        if name != "vocab.json":
            (broken / name).write_text("not a tokenizer")
            fails(broken, name)
    def vocab(size: int) -> Path:
        changed = tmp_path / f"vocab-{size}"
        shutil.copytree(folder, changed)
        sizes = {"vocab_size": size, **({"decoder_vocab_size": size} if config.get("decoder_vocab_size") else {})}
        (changed / "config.json").write_text(json.dumps({**config, **sizes}))
        return changed

    fails(vocab(config["vocab_size"] - 8), files[-1])  # the tokenizer has more pieces than the model …
    fails(vocab(config["vocab_size"] + 8), "model.safetensors")  # … or config.json more than the weights
    other = tmp_path / "no-d_model"
    shutil.copytree(folder, other)
    (other / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "d_model"}))
    fails(other, "config.json")


def test_repo_id_resolves_in_local_cache(marian: tuple[Path, Path], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A repo id is read from the local Hugging Face cache's snapshot folder, offline."""
    import shutil

    from attnscope.core.convert.hf import resolve_source

    folder, _ = marian
    snap = tmp_path / "hub" / "models--acme--opus-mt-tiny" / "snapshots" / "abc123"
    shutil.copytree(folder, snap)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert resolve_source("acme/opus-mt-tiny") == snap
