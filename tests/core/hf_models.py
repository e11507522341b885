"""Tiny random-weight Hugging Face models, built offline from their config classes, with
tokenizers trained here (nothing is downloaded)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import sentencepiece as spm

WORDS_EN = ("the cat dog house tree river sees likes small big red green old new a walks runs "
            "near under over with boy girl book table window city").split()
WORDS_DE = ("der die das katze hund haus baum fluss sieht mag klein gross rot gruen alt neu ein geht "
            "rennt nahe unter ueber mit junge maedchen buch tisch fenster stadt").split()

SENTENCES = [
    "the cat sees the dog", "a small house near the river", "the old boy likes a red book",
    "the girl walks with the dog", "a big tree over the house", "the new table under the window",
    "the green city", "a dog runs near the tree", "the boy sees a girl with a book",
    "the red cat likes the small dog", "an old river", "the window of the house",
    "the girl and the boy walk", "a book on the table", "big trees near old houses",
    "the cat runs", "the dog sees the cat near the river", "a new city with a big river",
    "the small girl likes green trees", "the house with the red window", "dogs and cats",
    "the boy walks under the tree",
]


def train_spm(words: list[str], vocab_size: int) -> bytes:
    """A unigram sentencepiece model trained on sentences made of ``words``."""
    import random

    rng = random.Random(0)
    text = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(400)]
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_writer=out, vocab_size=vocab_size,
                                   model_type="unigram", character_coverage=1.0, minloglevel=2,
                                   hard_vocab_limit=False, num_threads=1)
    return out.getvalue()


def marian_folder(folder: Path, *, seed: int = 0, generation: dict | None = None,
                  source_words: tuple[str, ...] = ()) -> Path:
    """A tiny MarianMTModel folder: config, safetensors, source/target spm, vocab.json
    (``source_words``: more words the source spm learns, punctuation for instance)."""
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    folder.mkdir(parents=True, exist_ok=True)
    src, tgt = train_spm([*WORDS_EN, *source_words], 90 + len(source_words)), train_spm(WORDS_DE, 90)
    (folder / "source.spm").write_bytes(src)
    (folder / "target.spm").write_bytes(tgt)
    pieces: list[str] = []
    for proto in (src, tgt):
        sp = spm.SentencePieceProcessor(model_proto=proto)
        for i in range(sp.get_piece_size()):
            p = sp.id_to_piece(i)
            if not (sp.is_control(i) or sp.is_unknown(i)) and p not in pieces:
                pieces.append(p)
    vocab = {"</s>": 0, "<unk>": 1, **{p: i + 2 for i, p in enumerate(pieces)}}
    vocab["<pad>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    pad = vocab["<pad>"]
    torch.manual_seed(seed)
    cfg = MarianConfig(vocab_size=len(vocab), d_model=32, encoder_layers=2, decoder_layers=2,
                       encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                       decoder_ffn_dim=64, max_position_embeddings=64, pad_token_id=pad, eos_token_id=0,
                       decoder_start_token_id=pad, forced_eos_token_id=0, activation_function="swish",
                       scale_embedding=True, init_std=0.15, dropout=0.0)
    model = MarianMTModel(cfg).eval()
    with torch.no_grad():
        # A random logits bias (so the converter must carry it), and an EOS row whose logit
        # swings with the state: hypotheses then end at many different lengths, which is
        # what tells the length penalties and stopping rules apart.
        model.final_logits_bias.copy_(torch.randn_like(model.final_logits_bias))
        model.final_logits_bias[0, 0] -= 2.0
        model.model.shared.weight[0] *= 4.0
    model.generation_config = GenerationConfig(
        **{"bad_words_ids": [[pad]], "decoder_start_token_id": pad, "eos_token_id": 0, "pad_token_id": pad,
           "forced_eos_token_id": 0, "max_length": 24, "num_beams": 4, **(generation or {})})
    model.save_pretrained(folder)
    return folder


def _corpus() -> list[str]:
    import random

    rng = random.Random(0)
    return [" ".join(rng.choice(WORDS_EN + WORDS_DE) for _ in range(rng.randint(3, 9))) for _ in range(400)]


def _peaky(model, eos: int, eos_bias: float = -2.0, eos_scale: float = 4.0) -> None:  # noqa: ANN001
    """As for Marian: a random logits bias where the family has one, and an EOS whose logit
    swings, so hypotheses end at many lengths."""
    import torch

    with torch.no_grad():
        if hasattr(model, "final_logits_bias"):
            model.final_logits_bias.copy_(torch.randn_like(model.final_logits_bias))
            model.final_logits_bias[0, eos] += eos_bias
        model.model.shared.weight[eos] *= eos_scale


def bart_folder(folder: Path, *, seed: int = 0) -> Path:
    """A tiny BartForConditionalGeneration with a byte-level BPE tokenizer.json."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartConfig, BartForConditionalGeneration, GenerationConfig

    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(_corpus(), vocab_size=200, min_frequency=1, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save(str(folder / "tokenizer.json"))
    torch.manual_seed(seed)
    cfg = BartConfig(vocab_size=bpe.get_vocab_size(), d_model=32, encoder_layers=2, decoder_layers=2,
                     encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=48,
                     max_position_embeddings=64, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                     decoder_start_token_id=2, forced_bos_token_id=0, forced_eos_token_id=2,
                     activation_function="gelu", init_std=0.15, dropout=0.0, scale_embedding=False)
    model = BartForConditionalGeneration(cfg).eval()
    _peaky(model, 2, eos_bias=1.0)
    with torch.no_grad():  # learned positions and embedding norms that are not the identity
        for m in (model.model.encoder, model.model.decoder):
            m.layernorm_embedding.weight.uniform_(0.5, 1.5)
            m.layernorm_embedding.bias.normal_(0, 0.1)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=2, bos_token_id=0, eos_token_id=2, pad_token_id=1, forced_bos_token_id=0,
        forced_eos_token_id=2, max_length=16, num_beams=4, early_stopping=True, no_repeat_ngram_size=3,
        length_penalty=2.0)
    model.save_pretrained(folder)
    return folder


NLLB_LANGS = ("eng_Latn", "deu_Latn", "fra_Latn")


def nllb_folder(folder: Path, *, seed: int = 0) -> Path:
    """A tiny dense NLLB-200 (M2M100ForConditionalGeneration) with an NLLB tokenizer.json."""
    import torch
    from tokenizers import SentencePieceBPETokenizer
    from transformers import GenerationConfig, M2M100Config, M2M100ForConditionalGeneration

    folder.mkdir(parents=True, exist_ok=True)
    sp = SentencePieceBPETokenizer()
    sp.train_from_iterator(_corpus(), vocab_size=150, min_frequency=1, show_progress=False,
                           special_tokens=["<s>", "<pad>", "</s>", "<unk>"])
    sp.add_special_tokens([*NLLB_LANGS, "<mask>"])
    sp.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "NllbTokenizer", "src_lang": "eng_Latn", "tgt_lang": "deu_Latn", "bos_token": "<s>",
        "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>"}))
    torch.manual_seed(seed)
    cfg = M2M100Config(vocab_size=sp.get_vocab_size(), d_model=32, encoder_layers=2, decoder_layers=3,
                       encoder_attention_heads=4, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                       max_position_embeddings=64, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                       decoder_start_token_id=2, activation_function="relu", init_std=0.15, dropout=0.0,
                       scale_embedding=True)
    model = M2M100ForConditionalGeneration(cfg).eval()
    _peaky(model, 2, eos_scale=1.4)
    model.generation_config = GenerationConfig(decoder_start_token_id=2, bos_token_id=0, eos_token_id=2,
                                               pad_token_id=1, max_length=16, num_beams=4)
    model.save_pretrained(folder)
    return folder


def mbart50_folder(folder: Path, *, seed: int = 0, cc25: bool = False) -> Path:
    """A tiny mBART-50 (MBartForConditionalGeneration) with the MBart50Tokenizer that
    transformers itself saves: a unigram tokenizer.json whose vocabulary ends with the 52
    language codes and <mask> (the model's vocabulary covers them). ``cc25``: mBART-cc25's
    MBartTokenizer (25 codes, "X </s> [src_lang]") and a decoder that starts with ro_RO."""
    import torch
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import (
        GenerationConfig,
        MBart50Tokenizer,
        MBartConfig,
        MBartForConditionalGeneration,
        MBartTokenizer,
    )
    from transformers.models.mbart.tokenization_mbart import FAIRSEQ_LANGUAGE_CODES as CC25_CODES
    from transformers.models.mbart50.tokenization_mbart50 import FAIRSEQ_LANGUAGE_CODES

    folder.mkdir(parents=True, exist_ok=True)
    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator(_corpus(), vocab_size=200, show_progress=False, special_tokens=["<unk>"],
                           unk_token="<unk>")
    pieces = [(p, s) for p, s in json.loads(sp.to_str())["model"]["vocab"] if p != "<unk>"]
    codes = CC25_CODES if cc25 else FAIRSEQ_LANGUAGE_CODES
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *pieces,
             *((code, 0.0) for code in codes), ("<mask>", 0.0)]
    tok = (MBartTokenizer if cc25 else MBart50Tokenizer)(vocab=vocab, src_lang="en_XX", tgt_lang="ro_RO")
    tok.save_pretrained(folder)
    start = tok.convert_tokens_to_ids("ro_RO") if cc25 else 2
    torch.manual_seed(seed)
    cfg = MBartConfig(vocab_size=len(tok), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                      decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=48, max_position_embeddings=64,
                      pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=start,
                      forced_eos_token_id=2, activation_function="gelu", init_std=0.3, dropout=0.0,
                      scale_embedding=True)
    model = MBartForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        model.final_logits_bias.copy_(torch.randn_like(model.final_logits_bias) * 0.3)
        model.model.shared.weight[2] *= 3.0
        for m in (model.model.encoder, model.model.decoder):  # embedding and final norms not the identity
            for norm in (m.layernorm_embedding, m.layer_norm):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.normal_(0, 0.1)
        # A final norm keeps every state alike, so EOS would always win or always lose: move
        # its bias to the median margin on random inputs, and hypotheses end at many lengths.
        g = torch.Generator().manual_seed(0)
        src, tgt = torch.randint(4, 80, (8, 10), generator=g), torch.randint(4, 80, (8, 12), generator=g)
        src[:, -1], tgt[:, 0] = 2, start
        logits = model(input_ids=src, decoder_input_ids=tgt).logits
        others = logits.clone()
        others[..., 2] = -1e9
        model.final_logits_bias[0, 2] += torch.quantile((others.max(-1).values - logits[..., 2]).flatten(), 0.5)
        if cc25:  # after a language code EOS wins far more often (found by trying: -8 ends at 2 … 15)
            model.final_logits_bias[0, 2] -= 8.0
    model.generation_config = GenerationConfig(
        decoder_start_token_id=start, bos_token_id=0, eos_token_id=2, pad_token_id=1, forced_eos_token_id=2,
        max_length=16, num_beams=4, early_stopping=True)
    model.save_pretrained(folder)
    return folder
