"""Corpus-level BLEU (Papineni et al., 2002) with one reference per candidate, written by hand.

A sentence is a list of token ids (ints), EOS and PAD already removed (see `strip`).
    modified n-gram precision  p_n = sum over the corpus of CLIPPED matches / sum of candidate n-grams,
        a candidate n-gram counting at most as often as it occurs in its reference;
    brevity penalty            BP = 1 if c > r else exp(1 - r / c)
        (c, r: the total candidate and reference lengths over the corpus; BP = 0 when c = 0);
    BLEU-N                     BP · exp((1/N) · sum_{n=1..N} log p_n), and 0 when any p_n is 0.
Corpus-level means the counts are summed over all sentences BEFORE dividing: it is not the mean
of per-sentence scores. Do not import nltk or sacrebleu: the check compares with its own reference.
"""

import math
from collections import Counter

PAD, EOS = 0, 2


def strip(row):
    """A decoded row (list or 1-D tensor of ids) -> the list of tokens before its first EOS, PAD dropped."""
    out = []
    for token in [int(t) for t in row]:
        if token == EOS:
            break
        if token != PAD:
            out.append(token)
    return out


def ngrams(tokens, n):
    """Counter of the n-grams (tuples) in tokens: len(tokens) - n + 1 of them (none if shorter than n)."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def clipped_matches(candidate, reference, n):
    """(clipped matches, candidate n-gram count) for one sentence pair."""
    cand, ref = ngrams(candidate, n), ngrams(reference, n)
    matches = sum(min(count, ref[gram]) for gram, count in cand.items())
    return matches, sum(cand.values())


def brevity_penalty(c, r):
    """1 if c > r, else exp(1 - r / c); 0 for an empty candidate corpus (c = 0)."""
    if c > r:
        return 1.0
    if c == 0:
        return 0.0
    return math.exp(1 - r / c)


def corpus_bleu(candidates, references, max_n=2):
    """Corpus BLEU-max_n of candidates against references (lists of token lists, one reference each)."""
    log_sum = 0.0
    for n in range(1, max_n + 1):
        matches = total = 0
        for cand, ref in zip(candidates, references):
            m, t = clipped_matches(cand, ref, n)
            matches, total = matches + m, total + t
        if matches == 0:
            return 0.0
        log_sum += math.log(matches / total) / max_n
    c = sum(len(cand) for cand in candidates)
    r = sum(len(ref) for ref in references)
    return brevity_penalty(c, r) * math.exp(log_sum)
