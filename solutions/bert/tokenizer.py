"""BERT's input side: basic tokenization, WordPiece, and [CLS] a [SEP] b [SEP] batches.

The vocabulary is a dict {piece: id}. The check passes you the project's tiny vocabulary
(tutor/checking/data_files/tiny_wordpiece_vocab.txt, 402 pieces) and vocabularies with other
ids: look every special token up in the vocab, never hard-code its id.

Run `dltutor check bert`.
"""

import unicodedata
from pathlib import Path

import torch


def load_vocab(path):
    """{piece: line number} from a vocab file with one piece a line (given)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {piece: i for i, piece in enumerate(lines) if piece}


def is_punctuation(ch):
    """BERT's rule (given): non-alphanumeric printable ASCII, and Unicode category P*."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def basic_tokenize(text):
    """Uncased BERT: split on whitespace; lower-case each word; strip its accents; split off
    each punctuation character as a token of its own."""
    tokens = []
    for word in text.split():
        word = unicodedata.normalize("NFD", word.lower())
        word = "".join(ch for ch in word if unicodedata.category(ch) != "Mn")
        current = ""
        for ch in word:
            if is_punctuation(ch):
                if current:
                    tokens.append(current)
                tokens.append(ch)
                current = ""
            else:
                current += ch
        if current:
            tokens.append(current)
    return tokens


def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    """Greedy longest-match-first: the longest prefix in the vocab, then the longest "##" piece
    of the rest, and so on; [unk] alone for a word that cannot be split or has > max_chars."""
    if len(word) > max_chars:
        return [unk]
    pieces = []
    start = 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
        else:
            return [unk]
        pieces.append(piece)
        start = end
    return pieces


def tokenize(text, vocab, unk="[UNK]"):
    """basic_tokenize, then wordpiece on every token, as one flat list of pieces."""
    return [piece for word in basic_tokenize(text) for piece in wordpiece(word, vocab, unk)]


def build_inputs(tokens_a, vocab, tokens_b=None):
    """[CLS] a [SEP] (b [SEP]) as ids, and token_type_ids: 0 up to the first [SEP], 1 after it."""
    unk = vocab["[UNK]"]
    tokens = ["[CLS]", *tokens_a, "[SEP]"]
    types = [0] * len(tokens)
    if tokens_b is not None:
        tokens += [*tokens_b, "[SEP]"]
        types += [1] * (len(tokens_b) + 1)
    return [vocab.get(t, unk) for t in tokens], types


def pad_batch(examples, vocab):
    """[(input_ids, token_type_ids), ...] -> three (B, T) long tensors, padded on the right to the
    longest: input_ids with [PAD], token_type_ids with 0, attention_mask 1 = real token, 0 = pad."""
    pad = vocab["[PAD]"]
    T = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), T), pad, dtype=torch.long)
    token_type_ids = torch.zeros(len(examples), T, dtype=torch.long)
    attention_mask = torch.zeros(len(examples), T, dtype=torch.long)
    for i, (ids, types) in enumerate(examples):
        input_ids[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        token_type_ids[i, : len(types)] = torch.tensor(types, dtype=torch.long)
        attention_mask[i, : len(ids)] = 1
    return input_ids, token_type_ids, attention_mask
