"""T5's pre-training objective: span corruption with sentinel tokens (Raffel et al. 2020, 3.1.4).

Token ids below `sentinel_start` are ordinary tokens; sentinel k (T5's <extra_id_k>) has the id
sentinel_start + k. For ids = [a, b, c, d, e, f, g] with the spans {b, c} and {f} corrupted:

    inputs  = [a, S0, d, e, S1, g]          one sentinel in place of each span
    targets = [S0, b, c, S1, f, S2]         each sentinel, then its span; a final sentinel ends it

Run `dltutor check bert-gpt-t5`.
"""

import torch


def random_spans_mask(length, noise_density=0.15, mean_span_length=3.0, generator=None):
    """A (length,) bool mask, True on the corrupted tokens.

    round(length * noise_density) tokens are noise (at least 1, at most length - 1), in
    max(1, round(noise / mean_span_length)) spans; two spans never overlap or touch (at least one
    kept token between them). Span lengths and positions are random, drawn with `generator`.
    """
    # TODO: the two counts; random span lengths that add up to the noise count; random gaps of
    # kept tokens (inner gaps >= 1, the outer two may be 0); then lay out gap, span, ..., gap
    raise NotImplementedError("random_spans_mask")


def sentinel_format(ids, noise_mask, sentinel_start):
    """(inputs, targets) for the 1-D ids and their noise mask, as in the module docstring.

    Both are 1-D torch.long tensors on ids' device.
    """
    # TODO: one pass over the tokens; a fresh sentinel where a span starts; a final sentinel
    raise NotImplementedError("sentinel_format")


def span_corrupt(ids, sentinel_start, noise_density=0.15, mean_span_length=3.0, generator=None):
    """random_spans_mask for len(ids), then sentinel_format: the (inputs, targets) of one example."""
    # TODO: the two functions above, one after the other
    raise NotImplementedError("span_corrupt")


def reconstruct(inputs, targets, sentinel_start):
    """The original ids (a 1-D torch.long tensor) from (inputs, targets): each sentinel replaced by its span."""
    # TODO: read the spans out of the targets, then rebuild the inputs
    raise NotImplementedError("reconstruct")
