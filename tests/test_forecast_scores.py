"""Quantile scores (pinball, CRPS, interval coverage and width) against hand-computed values, the
baselines' empirical-residual bands, and statsforecast's peers in the backtest."""
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.series import load_dataset
from lstmkit.errors import LstmkitError
from lstmkit.tasks import forecast
from lstmkit.tasks.forecast import peers
from lstmkit.tasks.forecast.metrics import probabilistic_metrics, quantile_pairs, residual_quantiles

LEVELS = (0.1, 0.5, 0.9)
TINY = dict(target="passengers", epochs=2, ensemble=1, hidden_size=4)


def test_scores_match_hand_computed_values():
    y = np.array([1.0, 3.0]).reshape(1, 2, 1)
    q = np.array([[0.0, 1.0, 2.0], [1.0, 2.0, 2.5]]).reshape(1, 2, 1, 3)
    # step 1, y = 1: errors (1, 0, -1) -> pinball (0.1, 0, 0.1); step 2, y = 3: errors (2, 1, 0.5)
    # -> pinball (0.2, 0.5, 0.45); mean 1.35 / 6 = 0.225, CRPS twice that
    s = probabilistic_metrics(y, q, LEVELS, np.array([2.0]))
    assert s["pinball"] == pytest.approx(0.225)
    assert s["crps"] == pytest.approx(0.45)
    assert s["crps_scaled"] == pytest.approx(0.225)
    assert s["coverage_10_90"] == pytest.approx(0.5)  # 1 in [0, 2]; 3 outside [1, 2.5]
    assert s["width_10_90"] == pytest.approx(1.75)


def test_every_symmetric_pair_gets_coverage_and_width():
    assert quantile_pairs((0.05, 0.1, 0.5, 0.9, 0.95)) == [(0, 4), (1, 3)]
    assert quantile_pairs((0.1, 0.5, 0.8)) == []
    y = np.zeros((1, 1, 1))
    q = np.array([-2.0, -1.0, 0.0, 0.5, 3.0]).reshape(1, 1, 1, 5)
    s = probabilistic_metrics(y, q, (0.05, 0.1, 0.5, 0.9, 0.95), np.ones(1))
    assert s["width_5_95"] == pytest.approx(5.0) and s["width_10_90"] == pytest.approx(1.5)
    assert s["coverage_5_95"] == 1.0 and s["coverage_10_90"] == 1.0


def test_crps_approximation_approaches_the_exact_crps_of_a_normal():
    """With many levels the quantile decomposition converges to the closed form
    CRPS(N(0, 1), 0) = 2 phi(0) - 1 / sqrt(pi)."""
    levels = np.arange(1, 200) / 200
    q = np.array([NormalDist().inv_cdf(v) for v in levels]).reshape(1, 1, 1, -1)
    exact = 2 * NormalDist().pdf(0) - 1 / np.sqrt(np.pi)
    got = probabilistic_metrics(np.zeros((1, 1, 1)), q, levels, np.ones(1))["crps"]
    assert got == pytest.approx(exact, rel=0.02)


def test_residual_quantiles_are_per_step_and_target():
    actual = np.zeros((5, 2, 1))
    actual[:, 1, 0] = np.arange(5.0)  # step 2's errors 0..4; step 1's all 0
    off = residual_quantiles(actual, np.zeros_like(actual), LEVELS)
    assert off.shape == (2, 1, 3)
    assert off[0, 0].tolist() == [0.0, 0.0, 0.0]
    assert off[1, 0].tolist() == pytest.approx([0.4, 2.0, 3.6])


@pytest.fixture(scope="module")
def air_backtest():
    air = load_dataset("airpassengers")[0]
    return forecast.train(air, forecast.Config(**TINY), verbose=0).backtest()


def test_backtest_scores_every_model_with_quantiles(air_backtest):
    result = air_backtest
    assert set(result.metrics) == {"lstm", "naive", "seasonal_naive", "linear_ar", *peers.PEERS}
    for name, m in result.metrics.items():
        assert {"mase", "crps", "pinball", "coverage_10_90", "width_10_90"} <= set(m), name
        assert 0 <= m["coverage_10_90"] <= 1 and m["width_10_90"] >= 0 and m["crps"] > 0
    assert result.metrics["lstm"]["coverage_10_90"] == pytest.approx(result.coverage)
    band = result.baseline_quantiles["seasonal_naive"]
    assert band.shape == (13, 12, 1, 3) and (np.diff(band, axis=-1) >= 0).all()
    assert result.notes == []


def test_peers_run_on_the_same_windows_and_match_a_direct_statsforecast_forecast(air_backtest):
    from statsforecast.models import AutoETS
    values = load_dataset("airpassengers")[0]["passengers"].to_numpy(float)
    model = AutoETS(season_length=12).fit(values[:120])
    first = model.forward(values[:120], h=12)["mean"]  # the first origin is the last training step
    assert air_backtest.forecasts["auto_ets"].shape == (13, 12, 1)
    np.testing.assert_allclose(air_backtest.forecasts["auto_ets"][0, :, 0], first, rtol=1e-6)


def test_without_statsforecast_the_backtest_says_so_in_one_line(monkeypatch):
    monkeypatch.setattr(peers, "available", lambda: False)
    air = load_dataset("airpassengers")[0]
    result = forecast.train(air, forecast.Config(**TINY, test_size=12), verbose=0).backtest()
    assert set(result.metrics) == {"lstm", "naive", "seasonal_naive", "linear_ar"}
    assert len(result.notes) == 1 and "statsforecast is not installed" in result.notes[0]


def test_peers_off_leaves_them_out_without_a_note():
    air = load_dataset("airpassengers")[0]
    result = forecast.train(air, forecast.Config(**TINY, test_size=12, peers="off"), verbose=0).backtest()
    assert "mstl" not in result.metrics and result.notes == []


def test_a_perfectly_seasonal_series_gives_seasonal_naive_a_zero_width_band():
    t = np.arange(120)
    series = pd.Series(10.0 + t % 12, name="y")  # integers: the errors are exactly 0
    config = forecast.Config(epochs=2, ensemble=1, hidden_size=4, season_length=12, peers="off", calendar=False)
    result = forecast.train(series, config, verbose=0).backtest()
    m = result.metrics["seasonal_naive"]
    assert m["width_10_90"] == pytest.approx(0, abs=1e-9) and m["coverage_10_90"] == 1.0
    assert m["crps"] == pytest.approx(0, abs=1e-9)


def test_auto_leaves_peers_out_on_a_long_series_with_a_note():
    t = np.arange(1100)
    series = pd.Series(10.0 + t % 12, name="y")
    config = forecast.Config(epochs=1, ensemble=1, hidden_size=4, season_length=12, calendar=False)
    result = forecast.train(series, config, verbose=0).backtest()
    assert "auto_arima" not in result.metrics
    assert len(result.notes) == 1 and "1100 steps > 1000" in result.notes[0]
    with pytest.raises(LstmkitError, match="peers"):
        forecast.Config(peers="yes")
