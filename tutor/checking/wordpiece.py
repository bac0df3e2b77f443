"""BERT's uncased tokenizer, as a reference: basic tokenization, then WordPiece on a shipped vocab.

    from tutor.checking.wordpiece import load_tiny_vocab, basic_tokenize, wordpiece, tokenize
    vocab = load_tiny_vocab()                  # {piece: id}, 402 pieces, [PAD] = 0
    basic_tokenize("Naïve, isn't it?")         # ['naive', ',', 'isn', "'", 't', 'it', '?']
    wordpiece("unaffable", vocab)              # ['un', '##aff', '##able']
    tokenize("The tokenizers!", vocab)         # ['the', 'token', '##izers', '!']

The vocabulary (data_files/tiny_wordpiece_vocab.txt) is the project's own, written by
data_files/rebuild_tiny_wordpiece_vocab.py; `python -m tutor.checking.wordpiece` prints its path.
The algorithm follows BERT's BasicTokenizer (lower-case, strip accents by NFD, split off every
punctuation character) and WordpieceTokenizer (greedy longest match first, "##" on every piece
after the first, the whole word [UNK] when any part cannot be matched, [UNK] for a word longer
than max_chars). CJK handling and control-character cleaning are left out.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

VOCAB_PATH = Path(__file__).resolve().parent / "data_files" / "tiny_wordpiece_vocab.txt"
SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def load_vocab(path: str | Path = VOCAB_PATH) -> dict[str, int]:
    """{piece: line number} from a vocab file with one piece a line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {piece: i for i, piece in enumerate(lines) if piece}


def load_tiny_vocab() -> dict[str, int]:
    """The shipped tiny vocabulary."""
    return load_vocab(VOCAB_PATH)


def is_punctuation(ch: str) -> bool:
    """BERT's rule: every non-alphanumeric printable ASCII character, and Unicode category P*."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def strip_accents(word: str) -> str:
    """NFD splits 'é' into 'e' and a combining accent (category Mn), which is then dropped."""
    return "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch) != "Mn")


def split_punctuation(word: str) -> list[str]:
    """'isn't' -> ['isn', "'", 't']: each punctuation character becomes its own token."""
    out: list[str] = []
    current = ""
    for ch in word:
        if is_punctuation(ch):
            if current:
                out.append(current)
            out.append(ch)
            current = ""
        else:
            current += ch
    if current:
        out.append(current)
    return out


def basic_tokenize(text: str) -> list[str]:
    """Split on whitespace, lower-case, strip accents, split off punctuation."""
    tokens: list[str] = []
    for word in text.split():
        tokens.extend(split_punctuation(strip_accents(word.lower())))
    return tokens


def wordpiece(word: str, vocab, unk: str = "[UNK]", max_chars: int = 100) -> list[str]:
    """Greedy longest-match-first WordPiece of one word; [unk] alone when it cannot be split."""
    if len(word) > max_chars:
        return [unk]
    pieces: list[str] = []
    start = 0
    while start < len(word):
        end = len(word)
        match = None
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                match = piece
                break
            end -= 1
        if match is None:
            return [unk]
        pieces.append(match)
        start = end
    return pieces


def tokenize(text: str, vocab, unk: str = "[UNK]") -> list[str]:
    """basic_tokenize, then wordpiece on each token."""
    return [p for word in basic_tokenize(text) for p in wordpiece(word, vocab, unk)]


if __name__ == "__main__":
    print(VOCAB_PATH)
