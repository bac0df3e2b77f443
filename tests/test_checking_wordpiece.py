"""tutor.checking.wordpiece: the reference uncased BERT tokenizer and the shipped tiny vocabulary."""

import importlib.util

from tutor.checking import wordpiece as wp


def test_vocab_is_the_rebuild_scripts_output():
    path = wp.VOCAB_PATH.parent / "rebuild_tiny_wordpiece_vocab.py"
    spec = importlib.util.spec_from_file_location("rebuild_tiny_wordpiece_vocab", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert wp.VOCAB_PATH.read_text(encoding="utf-8").splitlines() == script.pieces()


def test_vocab_special_ids_and_size():
    vocab = wp.load_tiny_vocab()
    assert len(vocab) == 402
    assert [vocab[t] for t in wp.SPECIAL] == [0, 1, 2, 3, 4]
    assert "##3" not in vocab and "3" in vocab  # digits start words only, so "mp3" has no split


def test_basic_tokenize():
    assert wp.basic_tokenize("Naïve, isn't it?") == ["naive", ",", "isn", "'", "t", "it", "?"]
    assert wp.basic_tokenize("  CAFÉ\tλx\n$5  ") == ["cafe", "λx", "$", "5"]
    assert wp.basic_tokenize("") == []


def test_wordpiece_greedy_longest_match():
    vocab = wp.load_tiny_vocab()
    assert wp.wordpiece("unaffable", vocab) == ["un", "##aff", "##able"]
    assert wp.wordpiece("players", vocab) == ["player", "##s"]       # longest first: not play ##er ##s
    assert wp.wordpiece("playing", vocab) == ["playing"]
    assert wp.wordpiece("retrained", vocab)[:3] == ["re", "##t", "##r"]  # '##trained' is not 'trained'
    assert wp.wordpiece("mp3", vocab) == ["[UNK]"]                  # whole word, not ['m', '##p', '[UNK]']
    assert wp.wordpiece("mp3", vocab, unk="<unk>") == ["<unk>"]


def test_wordpiece_max_chars_and_greedy_can_fail():
    vocab = wp.load_tiny_vocab()
    assert len(wp.wordpiece("a" * 100, vocab)) == 100
    assert wp.wordpiece("a" * 101, vocab) == ["[UNK]"]
    # greedy longest match is not a search: with 'ab' and '##c' but no '##bc', 'abc' -> 'ab' '##c'
    toy = {"a": 0, "ab": 1, "##c": 2, "##bcd": 3}
    assert wp.wordpiece("abc", toy) == ["ab", "##c"]
    assert wp.wordpiece("abcd", toy) == ["[UNK]"]  # 'ab' is taken, '##cd' does not exist; 'a' '##bcd' was possible


def test_tokenize():
    vocab = wp.load_tiny_vocab()
    assert wp.tokenize("The tokenizers!", vocab) == ["the", "token", "##izers", "!"]
