"""The synthetic seq2seq tasks: layout (PAD, EOS, lengths), the answers, determinism, the helpers."""

from __future__ import annotations

import pytest
import torch

from tutor.checking import seqtasks as st


def rows_of(batch):
    """Each row as (source symbols, target tokens up to and including EOS), in plain lists."""
    out = []
    for src, n, tgt, m in zip(batch.src, batch.src_len, batch.tgt, batch.tgt_len):
        out.append((src[:n].tolist(), tgt[:m].tolist()))
    return out


@pytest.mark.parametrize("task, answer", [
    (st.reversal, lambda s: s[::-1]),
    (st.sorting, sorted),
    (st.copying, list),
])
def test_each_task_pads_ends_with_eos_and_answers(task, answer):
    b = task(64, 2, 6, 12, seed=3)
    assert b.src.dtype == b.tgt.dtype == torch.long and len(b) == 64
    assert b.tgt.shape[1] == b.src.shape[1] + 1 == int(b.src_len.max()) + 1
    assert torch.equal(b.tgt_len, b.src_len + 1)
    assert int(b.src_len.min()) >= 2 and int(b.src_len.max()) <= 6
    for i, (src, tgt) in enumerate(rows_of(b)):
        assert all(st.SPECIALS <= t < 12 for t in src)
        assert tgt == answer(src) + [st.EOS]
        assert set(b.src[i, len(src):].tolist()) <= {st.PAD}
        assert set(b.tgt[i, len(tgt):].tolist()) <= {st.PAD}


def test_the_docstring_example_holds():
    b = st.reversal(4, min_len=2, max_len=5, vocab_size=20, seed=0)
    assert b.src[0].tolist() == [5, 3, 0, 0, 0] and b.src_len.tolist() == [2, 5, 3, 2]
    assert b.tgt[0].tolist() == [3, 5, 2, 0, 0, 0]


def test_same_seed_same_batch_and_a_generator_draws_fresh_batches():
    a, b = st.reversal(32, 1, 8, seed=7), st.reversal(32, 1, 8, seed=7)
    assert torch.equal(a.src, b.src) and torch.equal(a.tgt, b.tgt)
    assert not torch.equal(a.src, st.reversal(32, 1, 8, seed=8).src)
    gen = torch.Generator().manual_seed(7)
    first, second = st.reversal(32, 1, 8, seed=gen), st.reversal(32, 1, 8, seed=gen)
    assert torch.equal(first.src, a.src) and not torch.equal(first.src, second.src)


def test_lengths_cover_the_range():
    b = st.reversal(2000, 3, 7, seed=0)
    assert set(b.src_len.tolist()) == {3, 4, 5, 6, 7}


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        st.reversal(4, 5, 3, seed=0)
    with pytest.raises(ValueError):
        st.reversal(4, 1, 3, vocab_size=3, seed=0)


def test_to_moves_every_tensor():
    b = st.reversal(4, 1, 3, seed=0).to("cpu")
    assert all(t.device.type == "cpu" for t in (b.src, b.src_len, b.tgt, b.tgt_len))


def test_shift_right_puts_sos_first_and_drops_the_last_column():
    tgt = torch.tensor([[3, 9, 5, 2], [4, 2, 0, 0]])
    assert st.shift_right(tgt).tolist() == [[1, 3, 9, 5], [1, 4, 2, 0]]
    assert st.shift_right(tgt, start=0).tolist() == [[0, 3, 9, 5], [0, 4, 2, 0]]


def test_token_and_sequence_accuracy_score_real_tokens_only():
    tgt = torch.tensor([[3, 9, 5, 2], [4, 2, 0, 0]])  # 6 real tokens
    assert st.token_accuracy(tgt, tgt) == 1.0 and st.sequence_accuracy(tgt, tgt) == 1.0
    pred = torch.tensor([[3, 9, 7, 2, 8, 8], [4, 2, 6, 6, 6, 6]])  # one wrong; after EOS not scored
    assert st.token_accuracy(pred, tgt) == pytest.approx(5 / 6)
    assert st.sequence_accuracy(pred, tgt) == 0.5
    short = torch.tensor([[3, 9], [4, 2]])  # stopping early costs the missing tokens (PAD != token)
    assert st.token_accuracy(short, tgt) == pytest.approx(4 / 6)
    assert st.sequence_accuracy(short, tgt) == 0.5


def test_fit_width_and_cut_after_eos():
    x = torch.tensor([[3, 2, 5, 2], [2, 4, 4, 4]])
    assert st.fit_width(x, 2).tolist() == [[3, 2], [2, 4]]
    assert st.fit_width(x, 6).tolist() == [[3, 2, 5, 2, 0, 0], [2, 4, 4, 4, 0, 0]]
    assert st.cut_after_eos(x).tolist() == [[3, 2, 0, 0], [2, 0, 0, 0]]
    assert st.cut_after_eos(torch.tensor([[5, 6]])).tolist() == [[5, 6]]
