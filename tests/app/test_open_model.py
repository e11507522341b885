"""File → Open model… with a Hugging Face folder: imported in the background by the real
``attnscope import`` subprocess, cached by content, opened; the language picker of a
multilingual model; failures and cancellation leave the cache and the open model alone.

The oracle for what the window shows is transformers itself: its forward pass for the
attention, its generate() for the translation in the chosen language.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtWidgets import QFileDialog

pytest.importorskip("transformers")
sys.path.insert(0, str(Path(__file__).parents[1] / "core"))  # the offline model builders
from hf_models import NLLB_LANGS, nllb_folder  # noqa: E402

IMPORT_TIMEOUT_MS = 240_000  # a subprocess that imports torch and exports two graphs, on busy cores


def action(window, text: str):  # noqa: ANN001, ANN201
    for act in window.findChildren(type(window.open_action)):
        if act.text().replace("&", "").startswith(text):
            return act
    raise AssertionError(f"no action {text!r}")


@pytest.fixture(scope="module")
def nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = nllb_folder(tmp_path_factory.mktemp("hf") / "nllb-tiny")
    time.sleep(2.1)  # files written this recently are hashed again on every open (ContentHash)
    return folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache directory, private to the test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "attnscope" / "imports"


@pytest.fixture
def real_window(qtbot, tmp_path: Path):  # noqa: ANN001, ANN201
    from attnscope.app.controller import load_real_engine
    from attnscope.app.main_window import MainWindow

    settings = QSettings(str(tmp_path / "attnscope.ini"), QSettings.Format.IniFormat)
    w = MainWindow(load_real_engine(None), settings)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.importer.shutdown()
    w.controller.shutdown()


def _hf_model(folder: Path):  # noqa: ANN202
    from transformers import M2M100ForConditionalGeneration

    return M2M100ForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()


def _generate(model, source_ids: np.ndarray, target_id: int) -> list[int]:  # noqa: ANN001
    """transformers' beam-4 translation (the folder's generation_config) into ``target_id``."""
    import torch

    with torch.no_grad():
        seq = model.generate(torch.tensor([source_ids.tolist()]), forced_bos_token_id=target_id)[0].tolist()
    out = []
    for t in seq[1:]:  # without the decoder start, up to and including EOS
        out.append(t)
        if t == model.config.eos_token_id:
            break
    return out


def _choose(qtbot, box, code: str) -> None:  # noqa: ANN001
    """Type a language code into an editable combo box and press Enter, as a user does."""
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), code)
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)


def test_open_model_imports_caches_and_picks_languages(real_window, nllb, cache, decoded, qtbot, monkeypatch):
    import torch

    w = real_window
    default_engine = w.controller.engine
    assert not w.languages.isVisible()  # the shipped EN→KO model has no language codes
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(nllb))
    action(w, "Open model").trigger()
    assert w.importer.running and w.import_bar.isVisible() and w.import_cancel.isVisible()

    # The window stays responsive while the subprocess imports: the open model still decodes.
    w.sentence.set_text("You love me")
    assert decoded(w, "You love me").translation == "너는 나를 사랑한다"
    assert w.controller.engine is default_engine

    qtbot.waitUntil(lambda: not w.importer.running and not w.controller.loading, timeout=IMPORT_TIMEOUT_MS)
    assert w.importer.launched == 1
    entries = [p.name for p in cache.iterdir() if p.is_dir()]
    assert len(entries) == 1 and re.fullmatch(r"[0-9a-f]{32}", entries[0])  # nothing half-written beside it
    bundle = cache / entries[0]
    assert w.controller.engine.bundle_path == bundle
    assert not w.import_bar.isVisible()
    assert w.store.recent_bundles()[0] == str(nllb)  # Open recent lists the folder, not the cache
    assert "nllb-tiny" in w.bundle_label.text()

    # The picker: every code, the tokenizer_config's languages chosen.
    assert w.languages.isVisible()
    assert sorted(w.languages.source.itemText(i) for i in range(w.languages.source.count())) == sorted(NLLB_LANGS)
    assert w.languages.chosen() == ("eng_Latn", "deu_Latn")

    # The window shows the model's attention: transformers' forward pass is the oracle.
    model = _hf_model(nllb)
    vocab = {code: w.controller.engine.languages()[code] for code in NLLB_LANGS}
    text = "the cat sees the dog"
    w.sentence.set_text(text)
    ins = decoded(w, text, timeout=60_000)
    assert ins.source_ids[0] == vocab["eng_Latn"]  # NLLB frames the source with its language first
    with torch.no_grad():
        enc = model.model.encoder(torch.tensor([ins.source_ids.tolist()]), output_attentions=True)
    want = np.stack([a[0].numpy() for a in enc.attentions])  # [L, H, S, S]
    assert w.grid.stack.shape[:2] == want.shape[:2] == (2, 4)
    for layer in range(2):
        for head in range(4):
            np.testing.assert_allclose(w.grid.matrix(layer, head), want[layer, head], atol=1e-4)
    de = _generate(model, ins.source_ids, vocab["deu_Latn"])
    assert ins.best.target_ids.tolist() == de

    # Target language → French: the first piece is forced, the translation is generate()'s.
    _choose(qtbot, w.languages.target, "fra_Latn")
    qtbot.waitUntil(lambda: w.controller.config.forced_bos_id == vocab["fra_Latn"], timeout=5000)
    qtbot.waitUntil(lambda: w.state.inspection.config.forced_bos_id == vocab["fra_Latn"]
                    and not w.controller.runner.busy, timeout=60_000)
    ins = w.state.inspection
    assert ins.target_pieces[0] == "fra_Latn"
    assert ins.best.target_ids.tolist() == _generate(model, ins.source_ids, vocab["fra_Latn"])

    # Source language → German: the source framing changes, and so does the decode.
    _choose(qtbot, w.languages.source, "deu")  # completion: part of the code finds it
    qtbot.waitUntil(lambda: w.languages.chosen()[0] == "deu_Latn", timeout=5000)
    qtbot.waitUntil(lambda: w.state.inspection.source_ids[0] == vocab["deu_Latn"]
                    and not w.controller.runner.busy, timeout=60_000)
    ins = w.state.inspection
    assert ins.best.target_ids.tolist() == _generate(model, ins.source_ids, vocab["fra_Latn"])

    # Back to the shipped model, then the same folder again: the cache, no subprocess,
    # the bytes not read again, and the languages chosen for this bundle remembered.
    w.controller.load_bundle(None)
    assert not w.languages.isVisible()
    assert w.controller.config.forced_bos_id == -1  # our model decodes without a forced piece
    assert w.controls.config().length_penalty == 0.6 and w.controller.config.length_penalty_kind == "gnmt"
    action(w, "Open model").trigger()
    qtbot.waitUntil(lambda: w.controller.engine.bundle_path == bundle, timeout=30_000)
    assert w.importer.launched == 1 and w.importer.hasher.bytes_read == 0
    assert w.languages.chosen() == ("deu_Latn", "fra_Latn")
    assert w.controller.config.forced_bos_id == vocab["fra_Latn"]


def test_a_failed_import_says_why_and_caches_nothing(window, engine, tmp_path, cache, qtbot, monkeypatch):
    import json

    other = tmp_path / "t5-small"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "t5", "d_model": 32}))
    (other / "model.safetensors").write_bytes(b"\0" * 64)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(other))
    action(window, "Open model").trigger()
    qtbot.waitUntil(lambda: not window.importer.running, timeout=IMPORT_TIMEOUT_MS)
    message = window.statusBar().currentMessage()
    assert "'t5'" in message and "config.json" in message and "\n" not in message
    assert "t5" in window.import_error.text() and window.import_error.isVisible()
    window.import_error.close()
    assert window.controller.engine is engine  # the model that was open stays open
    assert window.importer.launched == 1
    assert not any(cache.iterdir()) or [p.name for p in cache.iterdir()] == ["hashes.json"]


def test_hf_folder_without_weights_is_refused_in_one_line(window, engine, tmp_path, cache):
    import json

    folder = tmp_path / "no-weights"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "marian"}))
    assert window.open_model(folder) is False
    message = window.statusBar().currentMessage()
    assert "model.safetensors" in message and "\n" not in message
    window.import_error.close()
    assert window.importer.launched == 0 and window.controller.engine is engine


def test_missing_extra_is_named_in_one_line(window, engine, nllb, tmp_path, cache, qtbot, monkeypatch):
    """An interpreter without torch: the subprocess's own one-line message says which extra."""
    shadow = tmp_path / "no-torch"
    (shadow / "torch").mkdir(parents=True)
    (shadow / "torch" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    assert window.open_model(nllb) is True
    qtbot.waitUntil(lambda: not window.importer.running, timeout=IMPORT_TIMEOUT_MS)
    message = window.statusBar().currentMessage()
    assert "[train] extra" in message and "pip install" in message and "\n" not in message
    window.import_error.close()
    assert window.controller.engine is engine
    assert [p.name for p in cache.iterdir()] == ["hashes.json"]  # no bundle, no temporary folder


def test_dropped_folder_imports_and_cancel_leaves_nothing(window, engine, nllb, cache, qtbot):
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(nllb))])
    window.dropEvent(QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: window.importer.process is not None, timeout=30_000)  # the subprocess runs
    assert any(p.name.startswith(".tmp-") for p in cache.iterdir())
    qtbot.mouseClick(window.import_cancel, Qt.MouseButton.LeftButton)
    assert not window.importer.running and not window.import_bar.isVisible()
    assert "cancelled" in window.statusBar().currentMessage()
    assert [p.name for p in cache.iterdir()] == ["hashes.json"]
    assert window.controller.engine is engine


DEEP = dict(vocab_size=400, d_model=32, n_heads=16, n_encoder_layers=24, n_decoder_layers=24, d_ff=64,
            dropout=0.0, max_len=64)


def test_every_view_adapts_to_24_layers_of_16_heads(qtbot, settings, decoded):
    """Head statistics, data flow, the head detail and the grid follow the model's shape."""
    from attnscope.app.main_window import MainWindow
    from attnscope.app.testing import FakeEngine
    from attnscope.core.config import ModelConfig

    cfg = ModelConfig(**DEEP)
    w = MainWindow(FakeEngine(cfg), settings)
    qtbot.addWidget(w)
    w.resize(1000, 650)
    w.show()
    w.start("I love you")
    ins = decoded(w, "I love you")
    s, t = len(ins.source_pieces), len(ins.best.target_pieces)
    assert ins.encoder_attention.shape[:2] == (24, 16)

    w.docks["Head statistics"].raise_()
    qtbot.waitUntil(lambda: "entropy" in w.stats.values, timeout=5000)
    assert w.stats.values["entropy"].shape == (24, 16) and w.stats.values["similarity"].shape == (384, 384)
    p = ins.encoder_attention[23, 15]  # the last head's entropy, by hand: mean over rows of -Σ p log p / log S
    want = float(np.mean([-(r[r > 0] * np.log(r[r > 0])).sum() / np.log(len(r)) for r in p]))
    assert w.stats.values["entropy"][23, 15] == pytest.approx(want, abs=1e-4)
    assert not any(item.isVisible() for item in w.stats.texts["entropy"])  # 384 numbers would not fit

    w.docks["Data flow"].raise_()
    qtbot.waitUntil(lambda: ("Encoder layer 24", f"[1, {s}, 32]") in w.flow.shapes(), timeout=5000)
    shapes = w.flow.shapes()
    assert ("Multi-head self-attention", f"[1, 16, {s}, {s}]") in shapes
    assert ("Cross-attention", f"[1, 16, {t}, {s}]") in shapes and ("Decoder layer 24", f"[1, {t}, 32]") in shapes

    w.state.select_attention("cross", "heads", 23, 15)  # what clicking tile L24 H16 does
    qtbot.waitUntil(lambda: w.deferred["Head detail"].built, timeout=5000)
    qtbot.waitUntil(lambda: w.detail.layer_spin.maximum() == 24, timeout=5000)
    assert w.detail.head_spin.maximum() == 16 and w.detail.layer_spin.value() == 24
    np.testing.assert_array_equal(w.detail.matrix(), ins.best.cross_attention[23, 15])
    w.controller.shutdown()


def test_data_flow_follows_the_architecture_spec():
    """NLLB's shape: pre-norm, final norms, 4 encoder and 2 decoder heads, its own widths."""
    from attnscope.app.data_flow import stages
    from attnscope.core.config import ModelConfig

    cfg = ModelConfig(vocab_size=154, d_model=32, n_heads=4, decoder_heads=2, n_encoder_layers=2, n_decoder_layers=3,
                      d_ff=64, decoder_d_ff=48, norm="pre", final_norm=True, positions="sinusoidal_fairseq",
                      position_offset=2, activation="relu")
    rows = stages(cfg, 7, 5)
    names = [r[0] for r in rows]
    enc, dec = rows[names.index("Encoder layer 1")][3], rows[names.index("Decoder layer 3")][3]
    assert [c[0] for c in enc] == ["LayerNorm", "Multi-head self-attention", "+ residual",
                                   "LayerNorm", "Feed-forward", "+ residual"]
    assert enc[1][1] == "[1, 4, 7, 7]" and "d_k=8" in enc[1][2]
    self_attn, cross = dec[1], dec[4]
    assert self_attn[1] == "[1, 2, 5, 5]" and "d_k=16" in self_attn[2] and cross[1] == "[1, 2, 5, 7]"
    assert dec[7][1] == "[1, 5, 48] → [1, 5, 32]"
    assert "Final LayerNorm (encoder)" in names and "Final LayerNorm (decoder)" in names
    assert sum(n.startswith("Decoder layer") for n in names) == 3


def test_content_key_follows_the_bytes_not_the_place(tmp_path):
    """Copies share a key, a README does not count, one flipped weight byte does, even with
    the size and mtime put back; a remembered file is not read again."""
    import hashlib

    from attnscope.app.model_import import ContentHash, importer_version

    a = tmp_path / "a"
    a.mkdir()
    (a / "config.json").write_text('{"model_type": "marian"}')
    weights = a / "model.safetensors"
    weights.write_bytes(bytes(range(256)) * 8192)  # 2 MiB
    (a / "README.md").write_text("a model card")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    time.sleep(2.1)  # older than the racy window: digests are remembered
    memo = tmp_path / "hashes.json"
    h = ContentHash(memo)
    key = h.digest(a)
    assert h.bytes_read == weights.stat().st_size + (a / "config.json").stat().st_size
    # By hand: the version, then each model file's name, size and SHA-256, in name order.
    want = hashlib.sha256(importer_version().encode())
    for f in (a / "config.json", weights):
        want.update(f"{f.name}\0{f.stat().st_size}\0{hashlib.sha256(f.read_bytes()).hexdigest()}\n".encode())
    assert key == want.hexdigest()[:32]
    again = ContentHash(memo)
    assert again.digest(a) == key and again.bytes_read == 0  # remembered across runs
    assert ContentHash(memo).digest(b) == key  # a copy elsewhere is the same model
    (a / "README.md").write_text("edited")
    assert ContentHash(memo).digest(a) == key
    st = weights.stat()
    data = bytearray(weights.read_bytes())
    data[1000] ^= 1
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as before
    changed = ContentHash(memo)
    assert changed.digest(a) != key and changed.bytes_read > 0


@pytest.mark.slow
def test_imported_24_layer_16_head_model_in_the_window(real_window, cache, tmp_path, decoded, qtbot):
    """A real NLLB-shaped model of 24 layers x 16 heads (d_model 32), imported by the window:
    the grid pages it, and a tile on the last page is transformers' attention."""
    import torch
    from tokenizers import Tokenizer
    from transformers import GenerationConfig, M2M100Config, M2M100ForConditionalGeneration

    folder = nllb_folder(tmp_path / "nllb-deep")
    n = Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab_size()
    torch.manual_seed(0)
    cfg = M2M100Config(vocab_size=n, d_model=32, encoder_layers=24, decoder_layers=24, encoder_attention_heads=16,
                       decoder_attention_heads=16, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                       pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, init_std=0.3,
                       dropout=0.0, scale_embedding=True)
    model = M2M100ForConditionalGeneration(cfg).eval()
    model.generation_config = GenerationConfig(decoder_start_token_id=2, bos_token_id=0, eos_token_id=2,
                                               pad_token_id=1, max_length=16, num_beams=4)
    model.save_pretrained(folder)
    w = real_window
    assert w.open_model(folder)
    qtbot.waitUntil(lambda: not w.importer.running and not w.controller.loading, timeout=600_000)
    assert w.controller.engine.model_config.n_encoder_layers == 24
    w.sentence.set_text("the cat sees the dog")
    ins = decoded(w, "the cat sees the dog", timeout=120_000)
    assert w.grid.page_box.isVisible()
    qtbot.keyClick(w.grid.page_box, Qt.Key.Key_End)  # "All layers"
    w.grid.refresh()
    assert w.grid.stack.shape[:2] == (24, 16)
    hf = M2M100ForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        enc = hf.model.encoder(torch.tensor([ins.source_ids.tolist()]), output_attentions=True)
    np.testing.assert_allclose(w.grid.matrix(23, 15), enc.attentions[23][0, 15].numpy(), atol=1e-4)
    w.grid.page_box.setCurrentIndex(w.grid.page_box.count() - 2)  # the last page of layers: titled
    w.grid.refresh()
    assert w.grid.titles.texts[-1] == "L24 H16"
