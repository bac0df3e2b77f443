"""Measuring a seq2seq model's limits: accuracy by source length, free-running, per bottleneck size.

Token ids: PAD = 0, SOS = 1, EOS = 2, symbols from 3. A batch (the check passes one) has
    batch.src (B, S), batch.src_len (B,), batch.tgt (B, S + 1): the answer, then EOS, then PAD.
A model has the encoder-decoder lesson's interface:
    state = model.encoder(src, src_len)            # the decoder's initial state (treat it as opaque)
    logits, state = model.decoder(inputs, state)   # inputs (B, T) -> logits (B, T, V), next state
    model(src, src_len, tgt)                       # the teacher-forced logits (training only)

Score the way the model is used: decode greedily (no teacher forcing), drop everything after a
row's first EOS, and score the target's non-PAD tokens (EOS included) by source length.

Run `dltutor check seq2seq-limits`.
"""

import torch

PAD, SOS, EOS = 0, 1, 2


def accuracy_by_length(predictions, tgt, src_len):
    """{n: (token_accuracy, sequence_accuracy)} for each source length n in src_len, ascending.

    predictions (B, L) token ids, any width L; tgt (B, T); src_len (B,). Everything after a row's
    first EOS counts as PAD; a target token with no prediction (past L, or after an early EOS) is
    wrong. Token accuracy: the fraction of the bucket's non-PAD target tokens predicted in place.
    Sequence accuracy: the fraction of the bucket's rows right at every non-PAD target position.
    """
    # TODO: cut each row after its first EOS, fit it to tgt's width with PAD, then score
    # the non-PAD target tokens of each source length (a dict, ascending lengths)
    raise NotImplementedError("accuracy_by_length")


@torch.no_grad()
def evaluate_free_running(model, batch):
    """accuracy_by_length of the model's greedy decodes of batch.src (never reading batch.tgt's tokens).

    Decode at most batch.tgt.shape[1] steps (the widest target, its EOS included): starting from
    SOS, feed back each step's argmax and carry the decoder's state.
    """
    # TODO: greedy decoding from SOS for batch.tgt.shape[1] steps (feed back the argmax,
    # carry the state), then accuracy_by_length(decoded, batch.tgt, batch.src_len)
    raise NotImplementedError("evaluate_free_running")


def reliable_length(by_length, min_acc):
    """The longest n such that the token accuracy is >= min_acc at n and at every shorter length.

    by_length is accuracy_by_length's dict; 0 when the shortest length already falls below min_acc.
    """
    # TODO: walk the lengths in ascending order; stop at the first one below min_acc
    raise NotImplementedError("reliable_length")


def bottleneck_sweep(models, batch, min_acc=0.9):
    """{label: reliable_length(evaluate_free_running(model, batch), min_acc)} for each labelled model."""
    # TODO: one reliable length per labelled model
    raise NotImplementedError("bottleneck_sweep")
