"""tutor.checking.corpus: the planted corpus is deterministic and its ground truth is consistent."""

import torch

from tutor.checking.corpus import analogy_accuracy, analogy_answers, neighbour_accuracy, planted_corpus


def test_same_seed_same_corpus_other_seed_other_sentences():
    a, b = planted_corpus(seed=3, n_sentences=300), planted_corpus(seed=3, n_sentences=300)
    c = planted_corpus(seed=4, n_sentences=300)
    assert a.sentences == b.sentences and a.vocab == b.vocab
    assert a.sentences != c.sentences


def test_sizes_counts_and_vocabulary_order():
    corpus = planted_corpus(seed=0)
    assert len(corpus.sentences) == 6000 and len(corpus.vocab) == 146
    assert 38_000 < corpus.n_tokens < 43_000
    assert sum(corpus.counts.values()) == corpus.n_tokens
    counts = [corpus.counts[w] for w in corpus.vocab]
    assert counts == sorted(counts, reverse=True)
    assert corpus.vocab[0] == "the" and corpus.counts["the"] > 10 * corpus.counts["king"]
    assert corpus.count_vector().tolist() == [float(n) for n in counts]
    assert [corpus.vocab[i] for i in corpus.encoded()[0]] == corpus.sentences[0]


def test_ground_truth_shapes():
    corpus = planted_corpus(seed=1)
    assert len(corpus.topics) == 6 and all(len(w) == 8 for w in corpus.topics.values())
    assert len(corpus.neighbours) == 48 and all(len(n) == 7 and w not in n for w, n in corpus.neighbours.items())
    assert len(corpus.roles) == 10 and len(corpus.analogies) == 180
    assert ("king", "queen", "prince", "princess") in corpus.analogies
    assert all(len(set(q)) == 4 for q in corpus.analogies)


def test_planted_vectors_score_one_and_random_vectors_score_low():
    corpus = planted_corpus(seed=2, n_sentences=500)
    V = len(corpus.vocab)
    planted = torch.zeros(V, 18)  # dims 0-5 topic, 6-15 role, 16-17 gender
    for t, words in enumerate(corpus.topics.values()):
        for w in words:
            planted[corpus.index[w], t] = 1.0
    for r, (male, female) in enumerate(corpus.roles):
        planted[corpus.index[male], [6 + r, 16]] = 1.0
        planted[corpus.index[female], [6 + r, 17]] = 1.0
    planted += 0.01 * torch.randn(V, 18, generator=torch.Generator().manual_seed(0))
    assert neighbour_accuracy(planted, corpus) == 1.0
    assert analogy_accuracy(planted, corpus) == 1.0
    noise = torch.randn(V, 16, generator=torch.Generator().manual_seed(0))
    assert neighbour_accuracy(noise, corpus) < 0.3 and analogy_accuracy(noise, corpus) < 0.2


def test_analogy_never_answers_a_query_word():
    corpus = planted_corpus(seed=0, n_sentences=300)
    same = torch.ones(len(corpus.vocab), 4)  # every word identical: a query word would win ties
    answers = analogy_answers(same, corpus)
    assert all(ans not in quad[:3] for ans, quad in zip(answers, corpus.analogies))


def test_tiny_corpus_drops_missing_words_from_ground_truth():
    corpus = planted_corpus(seed=0, n_sentences=5)
    present = set(corpus.vocab)
    assert all(w in present for words in corpus.topics.values() for w in words)
    assert all(set(q) <= present for q in corpus.analogies)
