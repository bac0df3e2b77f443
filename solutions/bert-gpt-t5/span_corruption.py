"""T5's pre-training objective: span corruption with sentinel tokens (Raffel et al. 2020, 3.1.4).

Token ids below `sentinel_start` are ordinary tokens; sentinel k (T5's <extra_id_k>) has the id
sentinel_start + k. For ids = [a, b, c, d, e, f, g] with the spans {b, c} and {f} corrupted:

    inputs  = [a, S0, d, e, S1, g]          one sentinel in place of each span
    targets = [S0, b, c, S1, f, S2]         each sentinel, then its span; a final sentinel ends it

Run `dltutor check bert-gpt-t5`.
"""

import torch


def _composition(total, parts, generator):
    """`total` split into `parts` positive integers, every split equally likely."""
    cuts = torch.randperm(total - 1, generator=generator)[: parts - 1].sort().values + 1
    bounds = torch.cat([torch.tensor([0]), cuts, torch.tensor([total])])
    return (bounds[1:] - bounds[:-1]).tolist()


def random_spans_mask(length, noise_density=0.15, mean_span_length=3.0, generator=None):
    """A (length,) bool mask, True on the corrupted tokens.

    round(length * noise_density) tokens are noise (at least 1, at most length - 1), in
    max(1, round(noise / mean_span_length)) spans; two spans never overlap or touch (at least one
    kept token between them). Span lengths and positions are random, drawn with `generator`.
    """
    num_noise = min(max(round(length * noise_density), 1), length - 1)
    num_spans = max(round(num_noise / mean_span_length), 1)
    num_kept = length - num_noise
    noise_lengths = _composition(num_noise, num_spans, generator)
    # kept tokens go into num_spans + 1 gaps: the outer two may be empty, the inner ones may not.
    # Adding 1 to each outer gap makes all gaps positive, a composition of num_kept + 2.
    gaps = _composition(num_kept + 2, num_spans + 1, generator)
    gaps[0] -= 1
    gaps[-1] -= 1
    mask = torch.zeros(length, dtype=torch.bool)
    position = gaps[0]
    for span, gap in zip(noise_lengths, gaps[1:]):
        mask[position: position + span] = True
        position += span + gap
    return mask


def sentinel_format(ids, noise_mask, sentinel_start):
    """(inputs, targets) for the 1-D ids and their noise mask, as in the module docstring."""
    inputs, targets = [], []
    mask = noise_mask.tolist()
    sentinel = sentinel_start
    for i, (token, noise) in enumerate(zip(ids.tolist(), mask)):
        if not noise:
            inputs.append(token)
            continue
        if i == 0 or not mask[i - 1]:                 # the first token of a span
            inputs.append(sentinel)
            targets.append(sentinel)
            sentinel += 1
        targets.append(token)
    targets.append(sentinel)                          # the final sentinel
    return (torch.tensor(inputs, dtype=torch.long, device=ids.device),
            torch.tensor(targets, dtype=torch.long, device=ids.device))


def span_corrupt(ids, sentinel_start, noise_density=0.15, mean_span_length=3.0, generator=None):
    """random_spans_mask for len(ids), then sentinel_format: the (inputs, targets) of one example."""
    mask = random_spans_mask(len(ids), noise_density, mean_span_length, generator)
    return sentinel_format(ids, mask, sentinel_start)


def reconstruct(inputs, targets, sentinel_start):
    """The original ids from (inputs, targets): each sentinel in inputs replaced by its span."""
    spans, current = {}, None
    for token in targets.tolist():
        if token >= sentinel_start:
            current = token
            spans[current] = []
        else:
            spans[current].append(token)
    out = []
    for token in inputs.tolist():
        if token >= sentinel_start:
            out.extend(spans[token])
        else:
            out.append(token)
    return torch.tensor(out, dtype=torch.long, device=inputs.device)
