"""tutor.checking.markov: the order-2 Markov language, its exact entropies and the bigram baseline."""

import math

import numpy as np
import torch

from tutor.checking.markov import MarkovLanguage, bigram_counts, bigram_loss


def test_transition_table_is_a_distribution_and_streams_are_deterministic():
    lang = MarkovLanguage(seed=0)
    assert lang.probs.shape == (16, 16, 16)
    assert np.allclose(lang.probs.sum(-1), 1.0) and (lang.probs > 0).all()
    a, b, c = lang.sample(500, seed=3), lang.sample(500, seed=3), lang.sample(500, seed=4)
    assert a.dtype == torch.long and a.shape == (500,) and 0 <= int(a.min()) and int(a.max()) < 16
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len(lang.text(a[:10])) == 10 and set(lang.text(a)) <= set("abcdefghijklmnop")


def test_stationary_distribution_is_fixed_by_the_pair_chain():
    lang = MarkovLanguage(seed=2)
    pi = lang.pair_stationary
    assert math.isclose(pi.sum(), 1.0, rel_tol=1e-12)
    assert np.allclose(np.einsum("ab,abc->bc", pi, lang.probs), pi, atol=1e-13)
    assert np.allclose(pi.sum(0), pi.sum(1), atol=1e-12)   # P(x_{t-1}) = P(x_t): stationary


def test_entropies_are_ordered_and_match_the_documented_values():
    lang = MarkovLanguage(seed=0)
    assert 0 < lang.entropy_rate < lang.bigram_entropy < lang.unigram_entropy <= math.log(16) + 1e-12
    assert abs(lang.entropy_rate - 0.846) < 1e-3 and abs(lang.bigram_entropy - 2.334) < 1e-3
    T = 16
    assert math.isclose(lang.window_bound(T), (lang.bigram_entropy + 14 * lang.entropy_rate) / 15)
    assert lang.entropy_rate < lang.window_bound(T) < lang.bigram_entropy


def test_true_model_reaches_the_entropy_rate_on_a_sample():
    """The empirical NLL of the true transition table converges to the exact entropy rate."""
    lang = MarkovLanguage(seed=3)
    ids = lang.sample(60_000, seed=5).numpy()
    nll = -np.log(lang.probs[ids[:-2], ids[1:-1], ids[2:]]).mean()
    assert abs(nll - lang.entropy_rate) < 0.02
    true_bigram = -np.log(lang.bigram_probs[ids[:-1], ids[1:]]).mean()
    assert abs(true_bigram - lang.bigram_entropy) < 0.02


def test_bigram_fit_is_near_the_bigram_entropy_and_far_above_the_rate():
    lang = MarkovLanguage(seed=0)
    train, test = lang.sample(50_000, seed=1), lang.sample(10_000, seed=2)
    counts = bigram_counts(train, 16)
    assert counts.shape == (16, 16) and int(counts.sum()) == len(train) - 1
    loss = bigram_loss(train, test, 16)
    assert abs(loss - lang.bigram_entropy) < 0.05
    assert loss > lang.entropy_rate + 1.0
    uniform = bigram_loss(train[:2], test, 16, alpha=1e6)       # no data: the uniform model
    assert abs(uniform - math.log(16)) < 1e-3
