"""Synthetic movie reviews (an offline stand-in for IMDB) and a reader for the real aclImdb folders.

    from tutor.checking.reviews import SyntheticReviews
    train = SyntheticReviews(2000, seed=0, train=True)
    test = SyntheticReviews(1000, seed=0, train=False)
    text, label = train[0]       # 'The acting was extremely good and the plot was not very tedious.', 1
    train.texts, train.labels    # list[str], list[int]: 1 = positive, 0 = negative (IMDB's pos/neg)
    train.targets                # the labels as an int64 tensor
    tokenize(text)               # ['the', 'acting', 'was', 'extremely', 'good', 'and', 'the', ...]

How a review is written: clauses "the NOUN is [not] [ADVERB] ADJECTIVE", joined by "and" or
"but" (each connector is "but" with probability `but`), one to `max_clauses` of them. A clause's
polarity is its adjective's (15 positive, 15 negative, all the project's own), flipped by "not"
(with probability `negation`). Clauses joined by "and" agree; "but" turns the polarity round, and
the part after the LAST "but" decides: the label is the polarity of the final clause. About half
the reviews end with a sentence naming a friend ("I watched it with Tavori."): names come from a
pool of 1,728, so most occur once and fall under a vocabulary's minimum frequency, and the test
split meets names the training split never saw (`<unk>`). The label is drawn first (exactly
balanced, n // 2 negative, then shuffled) and the clauses are written backwards from it, so the
adjectives alone say little: a bag of words cannot see which adjective "not" belongs to, nor
which side of a "but" it stands on. Everything is drawn from a NumPy generator seeded with
(seed, split): a (seed, train) pair always gives the same reviews; train and test are separate
draws.

Calibration (benchmarks/reviews_baselines.py on the 2-core CPU under load, torch 2.13, one thread:
1,200 training and 600 test reviews with the default settings, vocabulary min_freq 2; seeds 0-7):

    model                                                        test accuracy
    bag of words: logistic regression on counts, full batch,
      300 Adam steps (lr 0.05)                                    0.610-0.658  (0.2-0.3 s)
    Embedding(32) -> packed LSTM(64) -> Linear, batch 32,
      Adam lr 1e-2, 2 epochs                                      0.997-1.000  (1.1-1.2 s)
    counting positive minus negative adjectives (no training)     0.648-0.658  (2,000 reviews, seeds 0-2)

`HARD` (negation 0.4, "but" 0.35, five clauses at most: `SyntheticReviews(n, seed, **HARD)`) is
harder for a bag of words, not for an LSTM: with 3,000 / 1,000 reviews and 6 epochs (--hard), bag
of words 0.528-0.571 and the LSTM 1.000 on seeds 0-4 (9.2-9.7 s of CPU). Both settings are far
easier than real IMDB for a model that reads in order: they test the pipeline, not the model.

`IMDBFiles(root, train=True)` reads the real Large Movie Review Dataset (Maas et al., 2011) from
its aclImdb folder ({train,test}/{pos,neg}/<id>_<rating>.txt) for a learner who has it; nothing
here downloads anything.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

POSITIVE = ("good", "great", "excellent", "wonderful", "superb", "brilliant", "delightful", "charming",
            "moving", "clever", "gripping", "beautiful", "funny", "fresh", "solid")
NEGATIVE = ("bad", "awful", "terrible", "boring", "dull", "weak", "clumsy", "tedious", "bland", "poor",
            "messy", "silly", "flat", "painful", "lifeless")
NOUNS = ("plot", "acting", "script", "music", "ending", "story", "cast", "dialogue", "pacing", "direction",
         "camera work", "humour", "soundtrack", "lead", "villain", "editing")
ADVERBS = ("very", "really", "quite", "rather", "truly", "so", "pretty", "fairly", "extremely")
VERBS = ("is", "was")
SYLLABLES = ("ka", "lo", "mi", "ta", "vo", "ri", "sen", "du", "pa", "ne", "zo", "bel")
NAMES = tuple(a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES)  # 1,728 names
HARD = {"negation": 0.4, "but": 0.35, "max_clauses": 5}

_TOKEN = re.compile(r"[a-z0-9']+")


def tokenize(text: str) -> list[str]:
    """Lower-case words: runs of letters, digits and apostrophes; everything else separates."""
    return _TOKEN.findall(text.lower())


def _review(rng: np.random.Generator, label: int, negation: float, but: float, max_clauses: int,
            adverb: float, friend: float) -> str:
    k = int(rng.integers(1, max_clauses + 1))
    joins = ["but" if rng.random() < but else "and" for _ in range(k - 1)]
    polarity = 1 if label == 1 else -1
    polarities = [polarity]
    for join in reversed(joins):  # backwards from the deciding last clause
        polarities.append(-polarities[-1] if join == "but" else polarities[-1])
    polarities.reverse()
    nouns = rng.choice(len(NOUNS), size=k, replace=False)
    clauses = []
    for p, noun in zip(polarities, nouns):
        negated = rng.random() < negation
        words = POSITIVE if (p > 0) != negated else NEGATIVE
        parts = ["the", NOUNS[noun], VERBS[int(rng.integers(len(VERBS)))]]
        if negated:
            parts.append("not")
        if rng.random() < adverb:
            parts.append(ADVERBS[int(rng.integers(len(ADVERBS)))])
        parts.append(words[int(rng.integers(len(words)))])
        clauses.append(" ".join(parts))
    text = clauses[0]
    for join, clause in zip(joins, clauses[1:]):
        text += (", but " if join == "but" else " and ") + clause
    text = text[0].upper() + text[1:] + "."
    if rng.random() < friend:
        text += f" I watched it with {NAMES[int(rng.integers(len(NAMES)))].capitalize()}."
    return text


def make_reviews(n: int, seed: int = 0, train: bool = True, *, negation: float = 0.3, but: float = 0.3,
                 max_clauses: int = 4, adverb: float = 0.4, friend: float = 0.5) -> tuple[list[str], list[int]]:
    """`n` reviews and their labels (1 positive, 0 negative), exactly balanced and shuffled.

    negation: the probability that a clause says "not"; but: that a connector is "but" rather than
    "and"; max_clauses: clauses per review, uniform in 1..max_clauses (at most 16, one per noun);
    adverb: that a clause has an adverb; friend: that a review ends with "I watched it with NAME."
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 1 <= max_clauses <= len(NOUNS):
        raise ValueError(f"max_clauses must be in 1..{len(NOUNS)}, got {max_clauses}")
    for name, p in (("negation", negation), ("but", but), ("adverb", adverb), ("friend", friend)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} is a probability, got {p}")
    rng = np.random.default_rng([seed, 0 if train else 1])
    labels = np.array([0] * (n // 2) + [1] * (n - n // 2))
    rng.shuffle(labels)
    texts = [_review(rng, int(y), negation, but, max_clauses, adverb, friend) for y in labels]
    return texts, [int(y) for y in labels]


class _ReviewsBase:
    """What SyntheticReviews and IMDBFiles share: .texts, .labels, .targets, len, indexing."""

    classes = ["neg", "pos"]
    texts: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> tuple[str, int]:
        return self.texts[i], self.labels[i]

    @property
    def targets(self) -> torch.Tensor:
        return torch.tensor(self.labels, dtype=torch.int64)


class SyntheticReviews(_ReviewsBase):
    """`n` synthetic reviews of split `train` (True/False) drawn with `seed`; see make_reviews for the
    keyword settings (pass **HARD for the harder setting)."""

    def __init__(self, n: int = 2000, seed: int = 0, train: bool = True, **settings: float) -> None:
        self.n, self.seed, self.train, self.settings = n, seed, train, dict(settings)
        self.texts, self.labels = make_reviews(n, seed, train, **settings)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in self.settings.items())
        return f"SyntheticReviews({self.n}, seed={self.seed}, train={self.train}{extra})"


_FILE = re.compile(r"^(\d+)_(\d+)\.txt$")


def _split_folder(root: Path, split: str) -> Path:
    for folder in (root, root / "aclImdb"):
        if (folder / split / "pos").is_dir() and (folder / split / "neg").is_dir():
            return folder / split
    raise FileNotFoundError(f"no {split}/pos and {split}/neg folders under {root} (looked in . and aclImdb)")


class IMDBFiles(_ReviewsBase):
    """The real IMDB reviews of one split, from the aclImdb folder layout.

    `root` is the aclImdb folder or the folder that holds it. Reads {split}/pos/*.txt (label 1) and
    {split}/neg/*.txt (label 0), split = "train" or "test"; "unsup" is ignored. Files are read as
    UTF-8 in the order of their numeric id, positives first; "<br />" becomes a space unless
    keep_html. `.ratings` holds the star rating from each file name (<id>_<rating>.txt; pos 7-10,
    neg 1-4), `.paths` the files. `limit` keeps the first `limit` files of each class.
    """

    def __init__(self, root: str | Path, train: bool = True, *, limit: int | None = None,
                 keep_html: bool = False) -> None:
        self.root, self.train = Path(root), train
        folder = _split_folder(self.root, "train" if train else "test")
        self.texts, self.labels, self.ratings, self.paths = [], [], [], []
        for label, name in ((1, "pos"), (0, "neg")):
            files = sorted(((int(m.group(1)), int(m.group(2)), p) for p in (folder / name).iterdir()
                            if (m := _FILE.match(p.name))), key=lambda t: t[0])
            for _, rating, path in files[:limit]:
                text = path.read_text(encoding="utf-8")
                self.texts.append(text if keep_html else text.replace("<br />", " "))
                self.labels.append(label)
                self.ratings.append(rating)
                self.paths.append(path)

    def __repr__(self) -> str:
        return f"IMDBFiles({str(self.root)!r}, train={self.train}, n={len(self)})"


def vocabulary_of(texts: Sequence[str]) -> set[str]:
    """Every distinct token of `texts` (tokenize)."""
    return {t for text in texts for t in tokenize(text)}
