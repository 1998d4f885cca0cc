"""The panel's decomposition base (base="decomp"): the per-series seasonal-trend forecast and the
global LSTM on what it leaves recover each series' seasonality and scale; the base sees no value
after its origin and is fitted on the training part, the per-series blend on the validation
windows, neither on the held-out steps; a saved model refits it to the same forecasts; bad
settings are one line."""
import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import LstmkitError
from lstmkit.tasks import forecast
from lstmkit.tasks.forecast import Config, Forecaster
from lstmkit.tasks.forecast import panel_base
from lstmkit.tasks.forecast.panel import PanelForecaster
from lstmkit.tasks.forecast.panel_base import DecompBase, _fit_holt, _profile

N, M = 120, 12
FAST = dict(id_col="id", time_col="t", target="y", horizon=6, lookback=24, test_size=12, ensemble=1,
            hidden_size=16, peers="off", calendar=False, base="decomp", season_length=M, epochs=30, patience=8,
            learning_rate=3e-3)


def pattern(k, t):
    """Series k's shape: its own trend and seasonal phase and amplitude."""
    return 6 + 0.01 * (k - 2) * t + (0.5 + 0.25 * k) * np.sin(2 * np.pi * t / M + 2 * np.pi * k / 5)


def level(k):
    return 10.0 ** (k % 3 + 1)  # 10, 100, 1000: one model must put each scale back


def series(k, t, rng):
    return level(k) * (pattern(k, t) + 0.03 * rng.normal(size=len(t)))


def make_panel(n_series=4, seed=0):
    rng, t = np.random.default_rng(seed), np.arange(N)
    return pd.concat([pd.DataFrame({"id": f"s{k}", "t": t, "y": series(k, t, rng)}) for k in range(n_series)],
                     ignore_index=True)


@pytest.fixture(scope="module")
def panel():
    return make_panel()


@pytest.fixture(scope="module")
def trained(panel):
    return forecast.train(panel, Config(**FAST), verbose=0)


@pytest.mark.parametrize("kind", ["numpy", "mstl"])
def test_the_base_forecasts_trend_and_season_from_history_only(kind):
    t = np.arange(150.0)
    z = 0.02 * t + np.sin(2 * np.pi * t / M) + 0.5 * np.cos(4 * np.pi * t / M)
    base = DecompBase(M, 6, kind=kind).fit(z, 110)
    origins = np.arange(110, 140, 7)
    err = np.abs(base(z, origins) - z[origins[:, None] + np.arange(1, 7)]).max()
    assert err < 0.05, err
    later = z.copy()
    later[120:] += 5.0  # values after an origin must not move its base
    np.testing.assert_array_equal(DecompBase(M, 6, kind=kind).fit(later, 110)(later, [115]), base(z, [115]))


@pytest.mark.parametrize("kind", ["numpy", "mstl"])
@pytest.mark.parametrize("log", [True, False])
def test_with_the_scaler_the_base_is_the_raw_series_forecast_scaled(kind, log):
    """In scaled units (log or not) the base is the decomposition's forecast from the series in its
    own units, scaled back: the same as the statsforecast peer fitted on the raw values."""
    from lstmkit.data.timeseries import Scaler
    t = np.arange(150.0)
    y = 1000 * (1 + 0.004 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / M)) + np.random.default_rng(1).normal(0, 5, 150)
    scaler = Scaler.fit(y[:110, None], log=log)
    z = scaler.transform(y[:, None])[:, 0]
    origins = np.arange(110, 140, 5)
    scaled = DecompBase(M, 6, kind=kind, scaler=scaler).fit(z, 110)(z, origins)
    raw = DecompBase(M, 6, kind=kind).fit(scaler.inverse(z[:, None])[:, 0], 110)
    expect = scaler.transform(raw(scaler.inverse(z[:, None])[:, 0], origins).reshape(-1, 1)).reshape(len(origins), 6)
    np.testing.assert_allclose(scaled, expect, rtol=0, atol=1e-5)
    if log:  # not the decomposition of the log-scaled values (what the base was before)
        assert np.abs(DecompBase(M, 6, kind=kind).fit(z, 110)(z, origins) - scaled).max() > 1e-3


def test_a_log_scaled_series_whose_trend_forecast_crosses_zero_gets_a_finite_base(monkeypatch):
    """A positive (log-scaled) series whose decomposition forecasts values <= 0: the base is floored at
    1e-3 of the history's smallest value, finite, instead of log(0); positive forecasts are kept."""
    from lstmkit.data.timeseries import Scaler
    y = 50 + np.arange(120.0) % M
    scaler = Scaler.fit(y[:100, None], log=True)
    z = scaler.transform(y[:, None])[:, 0]
    base = DecompBase(M, 4, kind="numpy", scaler=scaler).fit(z, 100)
    monkeypatch.setattr(base, "_forecast", lambda history: np.array([-3.0, 0.0, 0.01, 60.0]))
    raw = scaler.inverse(base(z, np.array([105])).reshape(-1, 1))[:, 0]
    np.testing.assert_allclose(raw, [0.05, 0.05, 0.05, 60.0], rtol=1e-4)


def test_the_fallback_profile_and_trend_parameters_come_from_the_steps_given():
    t = np.arange(96.0)
    season = np.tile([3, 1, 0, -1, -2, -1, 0, 1, 2, 1, -1, -3.0], 8)
    profile = _profile(5 + 0.1 * t + season, M)
    np.testing.assert_allclose(profile[np.arange(96) % M], season - season.mean(), atol=1e-9)
    assert _fit_holt(np.arange(60.0), 6)[2] == 0.98  # a straight line: the least damping of the grid
    assert _fit_holt(np.arange(60.0), 6) != _fit_holt(np.sin(np.arange(60.0)), 6)


def test_global_model_on_the_decomposition_recovers_each_series_seasonality_and_scale(trained):
    result = trained.backtest()
    assert trained.base == "decomp" and set(trained.blends) == {f"s{k}" for k in range(4)}
    for k in range(4):
        bt = result.series[f"s{k}"]
        actual, lstm = bt.actual[..., 0], bt.forecasts["lstm"][..., 0]  # (B, H) in the series' units
        ahead = bt.positions[:, None] + np.arange(1, 7)
        wrong = level(k) * pattern((k + 2) % 4, ahead)  # the right scale, another series' shape
        err, err_wrong = np.abs(lstm - actual).mean(), np.abs(wrong - actual).mean()
        assert err < 0.25 * err_wrong, (k, err, err_wrong)
        assert bt.metrics["lstm"]["mase"] < bt.metrics["seasonal_naive"]["mase"], k


def test_base_and_blend_are_chosen_without_the_held_out_part(trained, panel):
    changed = panel.copy()
    held_out = changed.groupby("id").cumcount() >= N - FAST["test_size"]
    changed.loc[held_out, "y"] *= 1.5  # a break the model must not have seen
    other = forecast.train(changed, Config(**FAST), verbose=0)
    assert other.blends == trained.blends
    for model, data in ((trained, panel), (other, changed)):
        model._select("s1")
        z = model._arrays(data[data.id == "s1"].set_index("t")[["y"]])[0]
        assert [key[1] for key in model.decomp if key[0] == "s1"] == [N - FAST["test_size"]]
        model.val_base = model._decomp_base(z)(z[:, 0], model._split(N - FAST["test_size"])[1])
    np.testing.assert_array_equal(trained.val_base, other.val_base)
    assert not np.allclose(trained.backtest().series["s1"].actual, other.backtest().series["s1"].actual)


def test_a_saved_decomposition_model_refits_its_bases_to_the_same_forecasts(trained, panel, tmp_path):
    trained.save(tmp_path / "m")
    loaded = Forecaster.load(tmp_path / "m")
    assert isinstance(loaded, PanelForecaster) and loaded.blends == trained.blends and not loaded.decomp
    again, first = loaded.predict(data=panel), trained.predict()
    np.testing.assert_allclose(again.iloc[:, 2:].to_numpy(), first.iloc[:, 2:].to_numpy(), rtol=1e-5)


@pytest.mark.parametrize("settings, match", [
    (dict(base="decomp"), "decomp.*many series.*id_col"),
    (dict(base="decomp", id_col="id", strategy="recursive"), "strategy='direct'"),
])
def test_bad_decomposition_settings_are_one_line(settings, match):
    with pytest.raises(LstmkitError, match=match) as err:
        Config(**settings)
    assert "\n" not in str(err.value)


def test_decomposition_without_a_season_is_refused(panel):
    with pytest.raises(LstmkitError, match="season length > 1.*got 1") as err:
        forecast.train(panel, Config(**{**FAST, "season_length": 1}), verbose=0)
    assert "\n" not in str(err.value)


def test_without_statsforecast_the_numpy_fallback_runs_and_says_so(panel, monkeypatch):
    monkeypatch.setattr(panel_base, "engine", lambda: "numpy")
    model = forecast.train(panel, Config(**{**FAST, "epochs": 3}), verbose=0)
    result = model.backtest()
    assert all(base.kind == "numpy" for base in model.decomp.values())
    assert panel_base.FALLBACK_NOTE in result.notes
    assert result.metrics["lstm"]["mase"] < result.metrics["seasonal_naive"]["mase"]
