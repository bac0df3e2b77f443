"""The associative-recall task and the shipped recall GPT: episodes, the file's digest, and ICL."""

from __future__ import annotations

import pytest
import torch

from tutor.checking import recall as rc
from tutor.checking.pretrained import file_sha256


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def accuracy(model, ep):
    n, k = ep.keys.shape
    prompts = torch.cat([torch.stack([ep.keys, ep.values], 2).reshape(n, 2 * k), ep.query[:, None]], 1)
    with torch.no_grad():
        predicted = model(prompts)[:, -1, rc.NUM_KEYS:].argmax(-1) + rc.NUM_KEYS
    return (predicted == ep.answer).float().mean().item()


def test_episodes_show_distinct_keys_and_ask_about_one_of_them():
    ep = rc.episodes(300, 5, torch.Generator().manual_seed(0))
    assert ep.keys.shape == ep.values.shape == (300, 5) and ep.query.shape == ep.answer.shape == (300,)
    assert all(len(set(row.tolist())) == 5 for row in ep.keys)
    assert ((ep.keys >= 0) & (ep.keys < rc.NUM_KEYS)).all()
    assert ((ep.values >= rc.NUM_KEYS) & (ep.values < rc.VOCAB)).all()
    shown = ep.keys == ep.query[:, None]
    assert (shown.sum(1) == 1).all()                          # the query is exactly one shown key
    assert torch.equal(ep.values[shown], ep.answer)           # and its answer is that pair's value


def test_zero_shot_episodes_have_no_pairs_and_uniform_answers():
    ep = rc.episodes(4000, 0, torch.Generator().manual_seed(1))
    assert ep.keys.shape == (4000, 0)
    counts = torch.bincount(ep.answer - rc.NUM_KEYS, minlength=rc.NUM_VALUES)
    assert counts.min() > 150 and counts.max() < 350          # 250 expected each, sd about 15
    with pytest.raises(ValueError):
        rc.episodes(1, rc.MAX_USED + 1, torch.Generator())


def test_training_batches_are_consistent_maps_with_targets_at_the_keys():
    tokens, targets = rc.training_batch(8, torch.Generator().manual_seed(2))
    assert tokens.shape == targets.shape == (8, 2 * rc.PAIRS)
    assert torch.equal(targets[:, 0::2], tokens[:, 1::2]) and (targets[:, 1::2] == -100).all()
    for row in tokens:
        pairs = row.view(-1, 2).tolist()
        assert len({k: v for k, v in pairs}) == len({k for k, _ in pairs})   # one value per key
        seen = {}
        for k, v in pairs:
            assert seen.setdefault(k, v) == v
        assert 2 <= len(seen) <= rc.MAX_USED


def test_the_shipped_file_has_the_recorded_digest_and_learns_in_context():
    assert rc.RECALL_FILE.is_file() and rc.RECALL_FILE.stat().st_size < 500_000
    assert file_sha256(rc.RECALL_FILE) == rc.RECALL_SHA256
    model = rc.load_recall_gpt("cpu")
    gen = torch.Generator().manual_seed(3)
    assert accuracy(model, rc.episodes(400, 0, gen)) < 0.15     # chance 1/16; measured 0.05-0.07
    assert accuracy(model, rc.episodes(400, 4, gen)) > 0.95     # measured 1.00
    with pytest.raises(ValueError):
        model(torch.zeros(1, 2 * rc.PAIRS + 1, dtype=torch.long))
