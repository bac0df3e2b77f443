"""The loss-versus-size points of the scaling-llms lesson: the law, the shipped CSV and its script."""

from __future__ import annotations

import importlib.util

import numpy as np

from tutor.checking import scalinglaw as sl


def test_noise_free_points_follow_the_law_exactly():
    N, L = sl.power_law_points(300.0, 0.3, 1.8, noise=0.0, seed=0)
    assert len(N) == sl.POINTS and np.isclose(N[0], 10 ** sl.LOG10_MIN) and np.isclose(N[-1], 10 ** sl.LOG10_MAX)
    assert np.allclose(L, 300.0 * N ** -0.3 + 1.8, rtol=1e-12)
    slope = np.polyfit(np.log(N), np.log(L - 1.8), 1)[0]
    assert np.isclose(slope, -0.3)


def test_noise_is_multiplicative_and_seeded():
    a = sl.power_law_points(300.0, 0.3, 1.8, noise=0.01, seed=5)[1]
    b = sl.power_law_points(300.0, 0.3, 1.8, noise=0.01, seed=5)[1]
    clean = sl.power_law_points(300.0, 0.3, 1.8, noise=0.0, seed=5)[1]
    assert np.array_equal(a, b) and not np.array_equal(a, clean)
    assert np.abs(np.log(a / clean)).max() < 0.05


def test_the_shipped_csv_is_what_its_script_makes(tmp_path):
    N, L = sl.load_scaling_points()
    assert N.shape == L.shape == (sl.POINTS,) and np.all(np.diff(N) > 0) and np.all(np.diff(L) < 0)
    spec = importlib.util.spec_from_file_location("make_points", sl.DATA_FILE.parent / "make_scaling_points.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    again = tmp_path / "points.csv"
    sl.write_points(again, *sl.power_law_points(script.TRUE_A, script.TRUE_ALPHA, script.TRUE_C,
                                                script.NOISE, script.SEED))
    assert again.read_text() == sl.DATA_FILE.read_text()
