"""The shipped seq2seq reversal models: the file, its digest, the interface, and that they work."""

from __future__ import annotations

import pytest
import torch

from tutor.checking import seqmodels as sm
from tutor.checking import seqtasks as st
from tutor.checking.pretrained import file_sha256


@pytest.fixture(autouse=True)
def one_thread():
    """Small GRUs on a shared CPU: one thread is faster and matches how checks run."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def greedy(model, batch):
    state = model.encoder(batch.src, batch.src_len)
    token = torch.full((len(batch), 1), st.SOS, dtype=torch.long)
    out = []
    with torch.no_grad():
        for _ in range(batch.tgt.shape[1]):
            logits, state = model.decoder(token, state)
            token = logits[:, -1].argmax(-1, keepdim=True)
            out.append(token[:, 0])
    return st.cut_after_eos(torch.stack(out, 1))


def test_the_shipped_file_has_the_recorded_digest():
    assert sm.ZOO_FILE.is_file()
    assert file_sha256(sm.ZOO_FILE) == sm.ZOO_SHA256
    assert sm.zoo_path() == sm.ZOO_FILE


def test_the_zoo_loads_strictly_with_the_encoder_decoder_interface():
    zoo = sm.load_zoo("cpu")
    assert sorted(zoo) == sorted(sm.ZOO)
    b = st.reversal(8, 2, 6, sm.VOCAB, seed=0)
    for name, model in zoo.items():
        assert not model.training
        with torch.no_grad():
            logits = model(b.src, b.src_len, b.tgt)
            assert logits.shape == (*b.tgt.shape, sm.VOCAB)
            step, _ = model.decoder(torch.full((8, 1), st.SOS), model.encoder(b.src, b.src_len))
            assert step.shape == (8, 1, sm.VOCAB)
    assert zoo["gru64"].encoder(b.src, b.src_len).shape == (1, 8, 64)
    assert isinstance(zoo["attn64"].encoder(b.src, b.src_len), tuple)


def test_short_sequences_are_solved_and_long_ones_are_not_without_attention():
    zoo = sm.load_zoo("cpu")
    short, long = st.reversal(200, 3, 3, sm.VOCAB, seed=1), st.reversal(200, 16, 16, sm.VOCAB, seed=2)
    assert st.token_accuracy(greedy(zoo["gru64"], short), short.tgt) > 0.95
    assert st.token_accuracy(greedy(zoo["gru64"], long), long.tgt) < 0.6
    assert st.token_accuracy(greedy(zoo["attn64"], long), long.tgt) > 0.8


def test_saving_does_not_depend_on_the_path(tmp_path):
    models = []
    for _ in range(2):
        torch.manual_seed(3)
        models.append(sm.build("gru16"))
    sm.save_zoo({"gru16": models[0]}, tmp_path / "one.pt")
    sm.save_zoo({"gru16": models[1]}, tmp_path / "elsewhere.pt")
    assert (tmp_path / "one.pt").read_bytes() == (tmp_path / "elsewhere.pt").read_bytes()
    state = torch.load(tmp_path / "one.pt", weights_only=True)
    assert sorted(state) == sorted(f"gru16.{k}" for k in models[0].state_dict())


def test_a_missing_file_is_trained_once_and_cached(tmp_path, monkeypatch):
    trained = []

    def fake_train(name, seed=0, steps=sm.STEPS):
        trained.append(name)
        torch.manual_seed(seed)
        return sm.build(name).eval()

    monkeypatch.setattr(sm, "ZOO_FILE", tmp_path / "missing.pt")
    monkeypatch.setattr(sm, "train_model", fake_train)
    monkeypatch.setenv("DLTUTOR_CACHE", str(tmp_path / "cache"))
    path = sm.zoo_path()
    assert path == tmp_path / "cache" / "missing.pt" and path.is_file()
    assert sorted(trained) == sorted(sm.ZOO)
    assert sm.zoo_path() == path and len(trained) == len(sm.ZOO)   # the second call reuses the cache
    assert sorted(sm.load_zoo("cpu")) == sorted(sm.ZOO)
