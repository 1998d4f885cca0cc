"""The "decomposition" base (decompose.py) and how `base="auto"` and the blend are chosen: two
seasonal profiles recovered from synthetic data, the base fitted before the validation windows only,
every choice made on the validation windows (never on the test part), and the phase of new data."""
import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import DataError, LstmkitError, ModelFileError
from lstmkit.tasks import forecast
from lstmkit.tasks.forecast import decompose, hybrid


def _two_seasons(n=24 * 7 * 8, noise=0.05, seed=0):
    """Hourly steps: a daily sine, a weekly step (weekend lower), a slow trend, noise."""
    i = np.arange(n)
    day = np.sin(2 * np.pi * i / 24)
    week = np.where(i % 168 >= 120, -0.6, 0.24)  # mean 0 over the week
    trend = 0.002 * i
    z = day + week + trend + noise * np.random.default_rng(seed).normal(size=n)
    return z[:, None], day[:24], week[:168]


def test_profiles_recover_both_seasonalities():
    z, day, week = _two_seasons()
    found = decompose.profiles(z, [24, 168])
    assert [p.shape for p in found] == [(24, 1), (168, 1)]
    # the weekly profile holds what the day does not: its own mean by hour of day is removed
    week_only = week - np.tile(week.reshape(7, 24).mean(0), 7)
    day_total = day + week.reshape(7, 24).mean(0)
    assert np.abs(found[0][:, 0] - (day_total - day_total.mean())).max() < 0.05
    assert np.abs(found[1][:, 0] - week_only).max() < 0.08
    assert abs(found[0].mean()) < 1e-9 and abs(found[1].mean()) < 1e-9


def test_decomposition_base_forecasts_two_seasons_better_than_one():
    z, _, _ = _two_seasons()
    train, n_fit = np.arange(71, 900), 900 + 24
    test = np.arange(1000, len(z) - 24)
    ahead = z[test[:, None] + np.arange(1, 25)]
    dec = decompose.DecompositionBase(72, 24, [24, 168]).fit(z, train, n_fit)
    lin = hybrid.LinearBase(72, 24).fit(z, train)
    err = {name: float(np.abs(b(z, test) - ahead).mean()) for name, b in (("dec", dec), ("lin", lin))}
    assert err["dec"] < 0.6 * err["lin"] and err["dec"] < 0.1  # noise 0.05: mean |e| about 0.04
    moved = z.copy()
    moved[n_fit:] += 50.0  # after the fitting part: cannot move the profiles or the AR
    again = decompose.DecompositionBase(72, 24, [24, 168]).fit(moved, train, n_fit)
    assert all(np.array_equal(a, b) for a, b in zip(again.found, dec.found))
    assert np.array_equal(again.ar.coef, dec.ar.coef)


def test_seasons_for_keeps_cycles_with_two_full_periods():
    assert decompose.seasons_for(24, 24 * 7 * 2) == [24, 168]
    assert decompose.seasons_for(24, 300) == [24]
    assert decompose.seasons_for(12, 20) == [] and decompose.seasons_for(1, 1000) == []


def _hourly(n=24 * 7 * 6):
    z, _, _ = _two_seasons(n)
    return pd.Series(20 + 3 * z[:, 0], index=pd.date_range("2021-01-04", periods=n, freq="h"), name="load")


CONFIG = dict(horizon=24, lookback=48, test_size=48, epochs=2, hidden_size=4, peers="off", ensemble=1)


def test_auto_base_and_blend_are_chosen_on_validation_windows_only():
    series = _hourly()
    f = forecast.train(series, forecast.Config(**CONFIG), verbose=0)
    assert f.base == "decomposition" and f.blend in hybrid.BLENDS
    changed = series.copy()
    changed.iloc[-48:] = changed.iloc[-48:][::-1].to_numpy() * 3  # the test part only
    g = forecast.train(changed, forecast.Config(**CONFIG), verbose=0)
    assert (g.base, g.blend) == (f.base, f.blend)
    assert all(np.array_equal(a, b) for a, b in zip(g.linear.found, f.linear.found))


def test_decomposition_model_saves_and_reads_new_data_at_its_phase(tmp_path):
    series = _hourly()
    f = forecast.train(series, forecast.Config(**CONFIG, base="decomposition"), verbose=0)
    f.save(tmp_path / "m")
    loaded = forecast.Forecaster.load(tmp_path / "m")
    assert loaded.base == "decomposition" and loaded.linear.seasons == [24, 168]
    full = f.predict().to_numpy()
    later = series.iloc[-24 * 7 - 5:]  # new history starting 5 hours into a week: phase 5 (mod 24, 168)
    assert np.allclose(loaded.predict(data=later).to_numpy(), full, atol=1e-4)
    assert loaded._phase_of(later.to_frame()) == len(series) - len(later)
    path = tmp_path / "m" / "preprocessing.json"
    good = json.loads(path.read_text())
    for start, field in ((["not a time", None], "start"), ([None, None], "start"), ([0.0, 0.0], "start"), (None, "start")):
        path.write_text(json.dumps({**good, "start": start}))
        with pytest.raises(ModelFileError, match=field):  # read at every forecast: refused at load
            forecast.Forecaster.load(tmp_path / "m")


def test_decomposition_base_needs_a_season_and_the_direct_strategy():
    steps = pd.Series(np.sin(np.arange(300) / 3.0), name="y")  # no time stamps: season 1
    with pytest.raises(LstmkitError, match="^base: 'decomposition' needs a season"):
        forecast.train(steps, forecast.Config(**{**CONFIG, "horizon": 6, "test_size": 12}, base="decomposition"),
                       verbose=0)
    with pytest.raises(LstmkitError, match="base: 'decomposition'"):
        forecast.Config(strategy="recursive", base="decomposition")


def test_decomposition_model_without_time_stamps_refuses_new_data_it_cannot_place():
    """Without a time column new data is read from row 0, so its phase is unknown: a later stretch of
    the series must not be forecast with the profiles read at the training series' first steps."""
    series = _hourly()
    plain = pd.Series(series.to_numpy(), name="load")  # row numbers only
    f = forecast.train(plain, forecast.Config(**CONFIG, base="decomposition", season_length=24), verbose=0)
    assert f.predict().shape == (24, 3)  # the training series itself: phase 0
    with pytest.raises(DataError, match="^data: base 'decomposition'.*time column"):
        f.predict(data=plain.iloc[-24 * 7 - 5:])
    with pytest.raises(DataError, match="^data: base 'decomposition'.*time column"):
        f.backtest(plain.iloc[-24 * 7 - 5:])
    # step numbers as the time column place it: the same forecast as from the whole series
    frame = pd.DataFrame({"step": np.arange(len(plain)), "load": plain.to_numpy()})
    g = forecast.train(frame, forecast.Config(**CONFIG, base="decomposition", season_length=24, time_col="step"),
                       verbose=0)
    later = frame.iloc[-24 * 7 - 5:]
    assert np.allclose(g.predict(data=later).to_numpy(), g.predict().to_numpy(), atol=1e-4)
