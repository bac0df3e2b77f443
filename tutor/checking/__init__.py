"""The library that check scripts import. It runs only in a check's child process.

A check script declares named checks in order:

    from tutor.checking import check, expect_close

    @check("sigmoid matches torch.sigmoid", task="sigmoid")
    def sigmoid_values(ctx):
        act = ctx.load("activations")          # the learner's activations.py
        ...
        expect_close(act.sigmoid(x), torch.sigmoid(x), "sigmoid(x)")

A check passes by returning and fails by raising (CheckFailed via `fail`/`expect_*`).
Comparisons that name the matching classic mistake: `expect_match` (mistakes.py); a module
beside its nn twin: `step_alongside`; an optimizer beside its torch.optim twin:
`optimizer_alongside` (a learner step()'s classic crashes explained: `explained_step`);
reference loops `fit`/`evaluate` (training.py); dtype and device rules (devices.py); `forbid`
for "write it yourself"; `first_overflow` names the op that turned finite inputs into inf/nan
(overflow.py); statistical bounds (stats.py); causality by exact perturbation, naming the
leaking position (causality.py: `from tutor.checking.causality import expect_causal`). Data: synthetic
digits (digits.py); synthetic RGB shapes, a CIFAR-10 stand-in (shapes.py); the real 8×8 UCI digits, shipped (realdigits.py, data_files/); a pretrained
digits CNN, shipped and SHA-256 checked (pretrained.py, weights/); padded seq2seq batches
with PAD/SOS/EOS for reversal, sorting and copying (seqtasks.py: `from tutor.checking import seqtasks`);
trained reversal encoder-decoders, GRU at H = 16/32/64 and with attention, shipped and SHA-256
checked (seqmodels.py: `from tutor.checking.seqmodels import load_zoo`);
a text corpus with planted topics and king/queen analogies, and cosine neighbour/analogy scores
for word embeddings (corpus.py: `from tutor.checking.corpus import planted_corpus`);
synthetic movie reviews with negation and "but" clauses, an IMDB stand-in, and a reader for the
real aclImdb folders (reviews.py: `from tutor.checking.reviews import SyntheticReviews, IMDBFiles`);
an order-2 Markov language with its exact entropy rate and a fitted bigram baseline, for language
models (markov.py: `from tutor.checking.markov import MarkovLanguage, bigram_loss`);
BERT's uncased tokenizer as a reference (basic tokenization, WordPiece) and the shipped tiny
WordPiece vocabulary (wordpiece.py: `from tutor.checking.wordpiece import load_tiny_vocab, tokenize`);
associative-recall episodes and a small GPT trained on them, shipped and SHA-256 checked, for
in-context learning (recall.py: `from tutor.checking.recall import episodes, load_recall_gpt`);
loss-versus-size points from a known power law, shipped and fresh (scalinglaw.py:
`from tutor.checking.scalinglaw import load_scaling_points, power_law_points`).
"""

from tutor.checking import data
from tutor.checking.alongside import Step, copy_state, step_alongside
from tutor.checking.curves import expect_below, expect_decreasing, expect_initial_loss, smooth
from tutor.checking.devices import expect_like, expect_preserves, float64_device, has_float64
from tutor.checking.errors import CheckFailed, fail
from tutor.checking.expect import (
    as_numpy,
    expect,
    expect_close,
    expect_dtype,
    expect_finite,
    expect_metric,
    expect_shape,
    expect_type,
)
from tutor.checking.forbid import forbid, forbid_subclass
from tutor.checking.formatting import distinct
from tutor.checking.gradients import expect_gradcheck, expect_gradient, numeric_gradient, relative_error
from tutor.checking.messages import carries_numbers, failure_of, numbers_in
from tutor.checking.mistakes import default_tolerance, describe_difference, expect_match, is_close, which_mistake
from tutor.checking.optimizer_alongside import optimizer_alongside
from tutor.checking.optimizer_errors import explained_step
from tutor.checking.overflow import first_overflow
from tutor.checking.registry import check
from tutor.checking.stats import (
    binomial_bounds,
    expect_rate,
    expect_uniform,
    expect_within_sigmas,
    ks_bound,
    ks_uniform,
)
from tutor.checking.training import accuracy, evaluate, fit

__all__ = [
    "CheckFailed",
    "Step",
    "accuracy",
    "as_numpy",
    "binomial_bounds",
    "carries_numbers",
    "check",
    "copy_state",
    "data",
    "default_tolerance",
    "describe_difference",
    "distinct",
    "evaluate",
    "expect",
    "expect_below",
    "expect_close",
    "expect_decreasing",
    "expect_dtype",
    "expect_finite",
    "expect_gradcheck",
    "expect_gradient",
    "expect_initial_loss",
    "expect_like",
    "expect_match",
    "expect_metric",
    "expect_preserves",
    "expect_rate",
    "expect_shape",
    "expect_type",
    "expect_uniform",
    "expect_within_sigmas",
    "explained_step",
    "fail",
    "failure_of",
    "first_overflow",
    "fit",
    "float64_device",
    "forbid",
    "forbid_subclass",
    "has_float64",
    "is_close",
    "ks_bound",
    "ks_uniform",
    "numbers_in",
    "numeric_gradient",
    "optimizer_alongside",
    "relative_error",
    "smooth",
    "step_alongside",
    "which_mistake",
]
