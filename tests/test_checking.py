"""The checking library: each expectation passes on right values and fails with a message
that names the tensor and gives the number on wrong ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tutor import events
from tutor.checking import (
    CheckFailed,
    data,
    expect_close,
    expect_decreasing,
    expect_finite,
    expect_gradcheck,
    expect_gradient,
    expect_initial_loss,
    expect_shape,
    numeric_gradient,
)
from tutor.checking.errors import describe_exception, not_implemented_location


def test_expect_close_names_index_and_values():
    expect_close(torch.ones(3, 4), np.ones((3, 4)), "out")
    wrong = torch.ones(3, 4)
    wrong[2, 1] = 1.5
    with pytest.raises(CheckFailed) as info:
        expect_close(wrong, torch.ones(3, 4), "bn(x)")
    msg = str(info.value)
    assert "bn(x)" in msg and "0.5" in msg and "(2, 1)" in msg and "yours 1.5" in msg


def test_expect_close_reports_shape_mismatch_and_nan():
    with pytest.raises(CheckFailed, match=r"has shape \(4, 3\); expected \(3, 4\)"):
        expect_close(torch.ones(4, 3), torch.ones(3, 4), "logits")
    with pytest.raises(CheckFailed, match="non-finite"):
        expect_close(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 1.0]), "loss")


def test_expect_shape_with_labels_and_wildcards():
    expect_shape(torch.zeros(32, 10), (None, 10), "forward(x)")
    with pytest.raises(CheckFailed) as info:
        expect_shape(torch.zeros(10, 32), (32, 10), "forward(x)", labels=("batch", "classes"))
    assert str(info.value) == "forward(x) has shape (10, 32); expected (batch, classes) = (32, 10)"
    with pytest.raises(CheckFailed, match="no shape"):
        expect_shape(3.0, (1,), "loss")


def test_numeric_gradient_and_expect_gradient():
    x = np.array([1.0, -2.0, 3.0])
    grad = numeric_gradient(lambda: float((x**3).sum()), x)
    assert np.allclose(grad, 3 * x**2, rtol=1e-6)
    assert expect_gradient(3 * x**2, grad, "dW") < 1e-7
    with pytest.raises(CheckFailed) as info:
        expect_gradient(6 * x**2, grad, "dW1")
    assert "gradient dW1 is wrong" in str(info.value) and "ratio yours/numeric 2" in str(info.value)


def test_expect_gradcheck_catches_a_wrong_backward():
    class Wrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # should be 2x

    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    expect_gradcheck(lambda t: t**2, [x], "square")
    with pytest.raises(CheckFailed, match="autograd gradient check of square"):
        expect_gradcheck(Wrong.apply, [x], "square")


def test_expect_decreasing_uses_windows_and_catches_divergence():
    rng = np.random.default_rng(0)
    noisy = np.exp(-np.arange(200) / 50) + 0.05 * rng.standard_normal(200)
    expect_decreasing(noisy, "train loss", min_drop=0.5)
    with pytest.raises(CheckFailed, match="does not decrease enough"):
        expect_decreasing(np.ones(50), "train loss")
    with pytest.raises(CheckFailed, match="diverged"):
        expect_decreasing([1.0, 2.0, float("inf")], "train loss")


def test_initial_loss_near_ln_c():
    expect_initial_loss(math.log(10) * 1.05, 10)
    with pytest.raises(CheckFailed, match=r"ln\(10\) = 2.303"):
        expect_initial_loss(9.0, 10)


def test_expect_finite():
    with pytest.raises(CheckFailed, match="first at index"):
        expect_finite(np.array([[1.0, np.inf]]), "sigmoid(x)")


def test_datasets_are_deterministic_and_shaped():
    a = data.spirals(np.random.default_rng(3), n=300, classes=3)
    b = data.spirals(np.random.default_rng(3), n=300, classes=3)
    assert np.array_equal(a[0], b[0]) and a[0].shape == (300, 2) and set(a[1]) == {0, 1, 2}
    X, y, w, b0 = data.linear_regression(np.random.default_rng(0), n=100, features=4)
    assert X.shape == (100, 4) and y.shape == (100,) and w.shape == (4,)
    assert data.gate("xor")[1].tolist() == [0, 1, 1, 0]
    X, y = data.blobs(np.random.default_rng(0), n=50, centers=3)
    assert X.dtype == np.float32 and y.dtype == np.int64


def test_events_survive_nan_and_numpy_values():
    line = events.encode(events.METRIC, value=np.float32(0.5), name="acc")
    assert events.decode(line)["value"] == 0.5
    import io

    buf = io.StringIO()
    events.write(buf, events.METRIC, value=float("nan"), name="loss")
    assert events.decode(buf.getvalue())["value"] == "nan"
    assert events.decode("not json") is None and events.decode("[1]") is None


def test_not_implemented_location_and_sys_exit_message(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text("def todo():\n    raise NotImplementedError\n")
    namespace: dict = {}
    exec(compile(src.read_text(), str(src), "exec"), namespace)
    try:
        namespace["todo"]()
    except NotImplementedError as exc:
        assert not_implemented_location(exc, tmp_path) == "todo (mod.py:2)"
    try:
        raise SystemExit(2)
    except SystemExit as exc:
        assert "sys.exit(2)" in describe_exception(exc, tmp_path)


def test_expect_gradient_judges_tiny_entries_by_absolute_error():
    numeric = np.array([1.0, 2e-4, 0.5])
    expect_gradient(np.array([1.0, 2e-4 + 5e-9, 0.5]), numeric, "db", atol=1e-3, tiny_tol=1e-8)
    expect_gradient(np.array([1.0, 3e-4, 0.5]), numeric, "db", atol=1e-3)  # ignored without tiny_tol
    with pytest.raises(CheckFailed, match=r"gradient db is wrong: at index \(1,\)"):
        expect_gradient(np.array([1.0, 3e-4, 0.5]), numeric, "db", atol=1e-3, tiny_tol=1e-8)


def test_determinism_is_on_without_importing_inductor():
    """configure() sets torch's deterministic flag without `import torch._inductor.config` (0.9 s of
    every one-shot check); a warm child preloads it, and seed_everything sets inductor's flag then."""
    import subprocess
    import sys

    code = ("import sys, torch; from tutor.checking import determinism; determinism.configure(); "
            "assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled(); "
            "assert 'torch._inductor.config' not in sys.modules, 'configure imported inductor'; "
            "determinism.preload(); determinism.seed_everything(0); "
            "import torch._inductor.config as c; assert c.deterministic")
    subprocess.run([sys.executable, "-c", code], check=True)
