"""BERT's input side: basic tokenization, WordPiece, and [CLS] a [SEP] b [SEP] batches.

The vocabulary is a dict {piece: id}. The check passes you the project's tiny vocabulary
(tutor/checking/data_files/tiny_wordpiece_vocab.txt, 402 pieces) and vocabularies with other
ids: look every special token up in the vocab, never hard-code its id.

Try it:
    from tutor.checking.wordpiece import VOCAB_PATH
    vocab = load_vocab(VOCAB_PATH)
    tokenize("The unaffable actors!", vocab)    # ['the', 'un', '##aff', '##able', 'actor', '##s', '!']

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
    each punctuation character as a token of its own.

    "Naïve, isn't it?" -> ['naive', ',', 'isn', "'", 't', 'it', '?']
    """
    # TODO: text.split(); word.lower(); unicodedata.normalize("NFD", ...) and drop the
    #       characters whose unicodedata.category(ch) is "Mn"; then split off punctuation.
    raise NotImplementedError("basic_tokenize")


def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    """Greedy longest-match-first: the longest prefix in the vocab, then the longest "##" piece
    of the rest, and so on; [unk] alone for a word that cannot be split or has > max_chars.

    wordpiece("unaffable", vocab) -> ['un', '##aff', '##able']; wordpiece("mp3", vocab) -> ['[UNK]']
    """
    # TODO: start = 0; while start < len(word): try end = len(word), len(word) - 1, ..., start + 1;
    #       the piece is word[start:end], with "##" in front when start > 0.
    raise NotImplementedError("wordpiece")


def tokenize(text, vocab, unk="[UNK]"):
    """basic_tokenize, then wordpiece on every token, as one flat list of pieces."""
    # TODO
    raise NotImplementedError("tokenize")


def build_inputs(tokens_a, vocab, tokens_b=None):
    """[CLS] a [SEP] (b [SEP]) as ids, and token_type_ids: 0 up to the first [SEP], 1 after it.

    Returns (input_ids, token_type_ids), two lists of ints of the same length. A token that is
    not in the vocab gets vocab["[UNK]"].
    """
    # TODO
    raise NotImplementedError("build_inputs")


def pad_batch(examples, vocab):
    """[(input_ids, token_type_ids), ...] -> three (B, T) long tensors, padded on the right to the
    longest: input_ids with [PAD], token_type_ids with 0, attention_mask 1 = real token, 0 = pad."""
    # TODO: torch.full((B, T), vocab["[PAD]"], dtype=torch.long), then fill each row.
    raise NotImplementedError("pad_batch")
