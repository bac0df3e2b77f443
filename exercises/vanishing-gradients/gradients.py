"""Vanishing and exploding gradients: measure them through time, and clip them by their global norm.

grad_norms_through_time() measures how much the last state of a recurrent network depends on each
input step: ‖∂L/∂x_t‖ for every t. scale_to_radius() rescales a recurrent matrix W_hh to a chosen
spectral radius, the number that decides whether those norms shrink or grow as t goes back.
clip_grad_norm() is gradient clipping by the global norm, written from scratch; clipped_step() is one
training step that uses it in the right place.

The check compares with autograd and with torch.nn.utils.clip_grad_norm_ in float64. Inside
clip_grad_norm, torch.nn.utils.clip_grad_norm_ and clip_grad_value_ are forbidden (the check
enforces it); torch.linalg, .norm(), .abs().max(), .mul_() and Python loops are all fine.

Run `dltutor check vanishing-gradients`.
"""

import torch


def grad_norms_through_time(rnn_fn, x, h0=None):
    """‖∂L/∂x_t‖ for every step t, where L = output[-1].sum() (the last step's output, summed).

    rnn_fn(x, h0) -> (output, state), time-first like nn.RNN / nn.LSTM: x (T, B, I), output (T, B, H).
    Returns a tensor of shape (T,): entry t is the norm of ∂L/∂x[t] taken over the batch and features.
    """
    # TODO: a copy of x that requires grad (x.detach().clone().requires_grad_(True)), run rnn_fn,
    #       L = output[-1].sum(), the gradient w.r.t. the copy (torch.autograd.grad), one norm per step
    raise NotImplementedError("grad_norms_through_time")


def scale_to_radius(W, radius):
    """W scaled so that its spectral radius (the largest |eigenvalue|) equals `radius`."""
    # TODO: the spectral radius from torch.linalg.eigvals (eigenvalues may be complex: take .abs()),
    #       then multiply W by radius / that
    raise NotImplementedError("scale_to_radius")


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    """Scale the .grad of `parameters` in place so that their global norm is at most max_norm.

    parameters: an iterable of tensors (possibly a generator, like model.parameters()); those whose
    .grad is None are skipped. norm_type: 2.0 (the default) or float("inf") (the largest |entry|).
    The total norm is the norm of all the gradients taken together, as one vector. When
    clip_coef = max_norm / (total_norm + 1e-6) is below 1, multiply every .grad by it IN PLACE.
    Returns the total norm before clipping (a tensor), like torch.nn.utils.clip_grad_norm_.
    """
    # TODO: a list of the parameters with a gradient (a generator can be read only once)
    # TODO: the total norm: the norm of the per-tensor norms (inf: the largest of the per-tensor maxima)
    # TODO: clip_coef = max_norm / (total_norm + 1e-6); if it is below 1, p.grad.mul_(clip_coef) for each
    raise NotImplementedError("clip_grad_norm")


def clipped_step(model, loss_fn, x, y, optimizer, max_norm):
    """One training step with clipping, using your clip_grad_norm (2-norm).

    Returns (the loss as a float, the total gradient norm before clipping as a float).
    """
    # TODO: zero the gradients, compute the loss, backward, clip, step: in that order
    raise NotImplementedError("clipped_step")
