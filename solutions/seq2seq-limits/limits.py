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
    pred = predictions.to(tgt.device).long()
    is_eos = (pred == EOS).long()
    pred = pred.masked_fill(is_eos.cumsum(dim=1) - is_eos > 0, PAD)      # after the first EOS
    B, T = tgt.shape
    if pred.shape[1] < T:
        pred = torch.cat([pred, pred.new_full((B, T - pred.shape[1]), PAD)], dim=1)
    pred = pred[:, :T]
    real = tgt != PAD
    hit = (pred == tgt) & real
    result = {}
    for n in sorted(set(src_len.tolist())):
        rows = src_len.to(tgt.device) == n
        tokens = hit[rows].sum().item() / real[rows].sum().item()
        sequences = (hit[rows].sum(dim=1) == real[rows].sum(dim=1)).double().mean().item()
        result[n] = (tokens, sequences)
    return result


@torch.no_grad()
def evaluate_free_running(model, batch):
    """accuracy_by_length of the model's greedy decodes of batch.src (never reading batch.tgt's tokens).

    Decode at most batch.tgt.shape[1] steps (the widest target, its EOS included): starting from
    SOS, feed back each step's argmax and carry the decoder's state.
    """
    state = model.encoder(batch.src, batch.src_len)
    token = torch.full((batch.src.shape[0], 1), SOS, dtype=torch.long, device=batch.src.device)
    out = []
    for _ in range(batch.tgt.shape[1]):
        logits, state = model.decoder(token, state)
        token = logits[:, -1].argmax(dim=-1, keepdim=True)
        out.append(token[:, 0])
    return accuracy_by_length(torch.stack(out, dim=1), batch.tgt, batch.src_len)


def reliable_length(by_length, min_acc):
    """The longest n such that the token accuracy is >= min_acc at n and at every shorter length.

    by_length is accuracy_by_length's dict; 0 when the shortest length already falls below min_acc.
    """
    longest = 0
    for n in sorted(by_length):
        if by_length[n][0] < min_acc:
            break
        longest = n
    return longest


def bottleneck_sweep(models, batch, min_acc=0.9):
    """{label: reliable_length(evaluate_free_running(model, batch), min_acc)} for each labelled model."""
    return {label: reliable_length(evaluate_free_running(model, batch), min_acc) for label, model in models.items()}
