"""SyntheticReviews (the labelling rule, balance, determinism, unknown words) and IMDBFiles (aclImdb layout)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from tutor.checking.reviews import (
    HARD,
    NAMES,
    NEGATIVE,
    POSITIVE,
    IMDBFiles,
    SyntheticReviews,
    make_reviews,
    tokenize,
    vocabulary_of,
)


def clauses_of(text):
    """(join, negated, adjective) per clause, parsed independently of the generator."""
    body = text.split(". I watched it with ")[0].rstrip(".").lower()
    out, join = [], "start"
    for part in body.split(", but "):
        for i, clause in enumerate(part.split(" and ")):
            words = clause.split()
            out.append(("and" if i else join, "not" in words, words[-1]))
        join = "but"
    return out


def polarity(negated, adjective):
    assert adjective in POSITIVE or adjective in NEGATIVE, adjective
    return (1 if adjective in POSITIVE else -1) * (-1 if negated else 1)


def test_lexicons_are_disjoint_and_balanced():
    assert len(POSITIVE) == len(NEGATIVE) == 15
    assert not set(POSITIVE) & set(NEGATIVE)
    assert len(set(NAMES)) == len(NAMES) == 1728


def test_the_last_clause_decides_and_but_flips():
    data = SyntheticReviews(800, seed=3)
    for text, label in data:
        parsed = clauses_of(text)
        pols = [polarity(neg, adj) for _, neg, adj in parsed]
        assert pols[-1] == (1 if label == 1 else -1), text
        for (join, _, _), before, after in zip(parsed[1:], pols, pols[1:]):
            assert (after == -before) == (join == "but"), text


def test_balanced_shuffled_and_typed():
    data = SyntheticReviews(501, seed=1)
    assert len(data) == 501 and Counter(data.labels) == {0: 250, 1: 251}
    assert data.targets.dtype == torch.int64 and data.targets.tolist() == data.labels
    assert data.labels[:250] != [0] * 250  # shuffled, not sorted
    assert data.classes == ["neg", "pos"]
    assert isinstance(data[0][0], str) and data[0][1] in (0, 1)


def test_deterministic_per_seed_and_split():
    a, b = make_reviews(50, seed=7), make_reviews(50, seed=7)
    assert a == b
    assert make_reviews(50, seed=7, train=False) != a
    assert make_reviews(50, seed=8) != a
    hard = SyntheticReviews(10, seed=2, train=False, **HARD)
    assert repr(hard).startswith("SyntheticReviews(10, seed=2, train=False, negation=0.4")


def test_settings_shape_the_text():
    texts, _ = make_reviews(2000, seed=0, negation=0.3, but=0.3)
    parsed = [c for t in texts for c in clauses_of(t)]
    rate_not = sum(neg for _, neg, _ in parsed) / len(parsed)
    joins = [j for j, _, _ in parsed if j != "start"]
    rate_but = joins.count("but") / len(joins)
    assert abs(rate_not - 0.3) < 0.03 and abs(rate_but - 0.3) < 0.03  # > 5 sigma for n of about 5000 and 3000
    plain, _ = make_reviews(200, seed=0, negation=0.0, but=0.0, friend=0.0, max_clauses=1)
    assert all(" not " not in t and "but" not in t and "watched" not in t and t.count(" is ") + t.count(" was ") == 1
               for t in plain)
    with pytest.raises(ValueError, match="negation"):
        make_reviews(5, negation=1.5)
    with pytest.raises(ValueError, match="max_clauses"):
        make_reviews(5, max_clauses=0)


def test_word_counts_alone_are_a_poor_guide():
    """Counting positive minus negative adjectives, ignoring order and "not", is right only about 60 % of
    the time (the point of the project); reading negation and the last clause is right every time."""
    data = SyntheticReviews(2000, seed=0)
    hits = 0
    for text, label in data:
        words = tokenize(text)
        score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
        hits += (score > 0) == (label == 1) if score else 0.5
    assert 0.5 < hits / len(data) < 0.7


def test_test_split_has_words_training_never_saw():
    train, test = SyntheticReviews(1200, seed=0), SyntheticReviews(600, seed=0, train=False)
    counts = Counter(t for text in train.texts for t in tokenize(text))
    unseen = vocabulary_of(test.texts) - set(counts)
    assert len(unseen) > 50 and all(w in NAMES for w in unseen)
    assert sum(c == 1 for c in counts.values()) > 300  # most names fall under min_freq = 2


def test_tokenize():
    assert tokenize("The plot isn't GOOD, but... 8/10!") == ["the", "plot", "isn't", "good", "but", "8", "10"]
    assert tokenize("") == []


def write_review(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("nested", [False, True])
def test_imdb_files(tmp_path, nested):
    root = tmp_path / "aclImdb"
    write_review(root / "train" / "pos", "10_8.txt", "Ten.")
    write_review(root / "train" / "pos", "2_9.txt", "Great film.<br /><br />Loved it. Café!")
    write_review(root / "train" / "neg", "0_1.txt", "Awful.")
    write_review(root / "train" / "neg", "notes.md", "not a review")
    write_review(root / "train" / "unsup", "5_0.txt", "unlabelled")
    write_review(root / "test" / "neg", "3_2.txt", "Dull.")
    (root / "test" / "pos").mkdir(parents=True)
    train = IMDBFiles(tmp_path if nested else root, train=True)
    assert train.texts == ["Great film.  Loved it. Café!", "Ten.", "Awful."]  # numeric id order, pos first
    assert train.labels == [1, 1, 0] and train.ratings == [9, 8, 1]
    assert train.targets.tolist() == [1, 1, 0] and len(train) == 3 and train[2] == ("Awful.", 0)
    assert [p.name for p in train.paths] == ["2_9.txt", "10_8.txt", "0_1.txt"]
    assert IMDBFiles(root, keep_html=True).texts[0] == "Great film.<br /><br />Loved it. Café!"
    assert IMDBFiles(root, limit=1).texts == ["Great film.  Loved it. Café!", "Awful."]
    test = IMDBFiles(root, train=False)
    assert test.texts == ["Dull."] and test.labels == [0] and "train=False" in repr(test)


def test_imdb_files_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="train/pos"):
        IMDBFiles(tmp_path)
