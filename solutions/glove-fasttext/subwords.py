"""fastText's subwords: character n-grams with boundary symbols, FNV-1a hashing, vectors for any word.

char_ngrams("where", 3, 3) == ["<wh", "whe", "her", "ere", "re>"]: the word is wrapped in "<" and
">" first, so a prefix and a suffix are n-grams of their own. fnv1a() is the 32-bit FNV-1a hash of
a string's UTF-8 bytes; an n-gram's row in the n-gram table is fnv1a(g) % buckets. A word's vector
is the MEAN of its own row (when it is in the vocabulary) and its n-grams' rows; a word never seen
has n-grams all the same, so it still gets a vector.

Run `dltutor check glove-fasttext`.
"""

import torch
from torch import nn

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619


def char_ngrams(word, n_min=3, n_max=6):
    """Every character n-gram of "<" + word + ">" with n_min <= n <= n_max (repeats kept; n_min >= 2).

    Like fastText, the whole wrapped word is one of them when it is at most n_max long ("<cat>").
    """
    wrapped = "<" + word + ">"
    grams = []
    for n in range(n_min, n_max + 1):
        for start in range(len(wrapped) - n + 1):
            grams.append(wrapped[start:start + n])
    return grams


def fnv1a(text):
    """The 32-bit FNV-1a hash of text's UTF-8 bytes: h = offset; per byte h = (h XOR byte) * prime mod 2^32."""
    h = FNV_OFFSET
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * FNV_PRIME) % 2**32
    return h


def ngram_buckets(word, buckets, n_min=3, n_max=6):
    """The rows of word's n-grams in a table of `buckets` rows: fnv1a(g) % buckets, in char_ngrams' order."""
    return [fnv1a(g) % buckets for g in char_ngrams(word, n_min, n_max)]


class FastText(nn.Module):
    """Word vectors built from subwords.

    self.words = nn.Embedding(len(vocab), dim): one row per vocabulary word.
    self.ngrams = nn.Embedding(buckets, dim): the hashed n-gram rows.
    vector(word) is the mean of the word's own row (if it is in vocab) and its n-grams' rows;
    forward(ids) returns vector(vocab[i]) for each id in the 1-D tensor ids: (len(ids), dim).
    """

    def __init__(self, vocab, dim, buckets=2**16, n_min=3, n_max=6):
        super().__init__()
        self.vocab, self.index = list(vocab), {w: i for i, w in enumerate(vocab)}
        self.buckets, self.n_min, self.n_max = buckets, n_min, n_max
        self.words = nn.Embedding(len(self.vocab), dim)
        self.ngrams = nn.Embedding(buckets, dim)
        rows = [ngram_buckets(w, buckets, n_min, n_max) for w in self.vocab]
        width = max(len(r) for r in rows)
        self.register_buffer("grams", torch.tensor([r + [0] * (width - len(r)) for r in rows]))
        self.register_buffer("present", torch.tensor([[1.0] * len(r) + [0.0] * (width - len(r)) for r in rows]))

    def vector(self, word):
        rows = self.ngrams(torch.tensor(ngram_buckets(word, self.buckets, self.n_min, self.n_max),
                                        dtype=torch.long, device=self.ngrams.weight.device))
        if word in self.index:
            own = self.words.weight[self.index[word]]
            return torch.cat([own[None], rows]).mean(dim=0)
        return rows.mean(dim=0)

    def forward(self, ids):
        present = self.present[ids].to(self.ngrams.weight.dtype)
        summed = (self.ngrams(self.grams[ids]) * present[..., None]).sum(dim=1) + self.words(ids)
        return summed / (present.sum(dim=1, keepdim=True) + 1)
