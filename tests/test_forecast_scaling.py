"""The training budget follows the data (windows per epoch, members, patience, epoch bound), and the
"linear" hybrid base: fitted on the training windows only, inverted exactly, chosen on validation."""
import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import LstmkitError
from lstmkit.tasks import forecast
from lstmkit.tasks.forecast import hybrid, scaling
from lstmkit.tasks.forecast.baselines import LinearAR


@pytest.mark.parametrize("n, per_epoch, members, patience, epochs", [
    (73, 73, 3, 60, 300),        # AirPassengers: the previous defaults exactly
    (230, 230, 3, 60, 300),
    (1200, 1200, 3, 60, 83),     # MSFT
    (2200, 2048, 3, 35, 48),     # weekly CO2, half-hourly demand
    (4000, 2048, 2, 35, 48),
    (7000, 2048, 1, 35, 48),     # a year of hourly data
])
def test_budget_scales_with_the_number_of_windows(n, per_epoch, members, patience, epochs):
    e = scaling.epoch_windows(n)
    assert (e, scaling.ensemble_size(n), scaling.patience_epochs(e), scaling.max_epochs(e, 300)) == \
        (per_epoch, members, patience, epochs)


def test_budget_rules_are_monotone_and_respect_their_caps():
    ns = np.unique(np.geomspace(1, 200_000, 60).astype(int))
    members = [scaling.ensemble_size(n) for n in ns]
    patience = [scaling.patience_epochs(scaling.epoch_windows(n)) for n in ns]
    assert members == sorted(members, reverse=True) and set(members) <= {1, 2, 3}
    assert patience == sorted(patience, reverse=True) and min(patience) == 35 and max(patience) == 60
    assert scaling.patience_epochs(10**5) == 10  # a hand-set epoch_windows that large: the floor
    assert scaling.epoch_windows(10**6, None) == 10**6 and scaling.ensemble_size(10, cap=1) == 1
    assert scaling.patience_epochs(5, cap=4) == 4 and scaling.max_epochs(100, 7) == 7
    cost = [scaling.epoch_windows(n) * scaling.max_epochs(scaling.epoch_windows(n), 300) for n in ns]
    assert max(cost) <= scaling.TOTAL_WINDOWS  # a member's windows seen are bounded whatever the length


def _smooth(n=400, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 10 + np.sin(2 * np.pi * t / 24) + 0.3 * np.sin(t / 37.0) + 0.01 * rng.normal(size=n)
    return pd.Series(y, index=pd.date_range("2020-01-01", periods=n, freq="h"), name="y")


def test_linear_base_is_the_autoregression_of_the_training_windows_and_round_trips():
    z = _smooth().to_numpy()[:, None]
    train = np.arange(23, 300)
    base = hybrid.LinearBase(24, 6).fit(z, train)
    ref = LinearAR(24, 6).fit(z, train)
    origins = np.array([310, 350])
    assert np.allclose(base(z, origins), ref.predict(z, origins), atol=1e-5)
    again = hybrid.LinearBase.from_dict(base.to_dict())
    assert np.array_equal(again(z, origins), base(z, origins))
    z_test = z.copy()
    z_test[306:] += 100  # after the last training target (299 + 6): cannot move the fit
    assert np.array_equal(hybrid.LinearBase(24, 6).fit(z_test, train).ar.coef, base.ar.coef)


def test_hybrid_forecast_is_base_plus_the_network_exactly():
    series = _smooth()
    config = forecast.Config(horizon=6, lookback=24, test_size=24, epochs=2, hidden_size=4, base="linear",
                             peers="off")
    f = forecast.train(series, config, verbose=0)
    z, cov, cal = f._arrays(f.frame)
    origins = np.array([300, 340])
    x, bases = f._inputs(z, cov, cal, origins, 6)
    assert np.allclose(bases, f.linear(z, origins))
    _, y = f._windows(z, cov, cal, origins)
    ahead = origins[:, None] + np.arange(1, 7)
    assert np.allclose(y + bases, z[ahead], atol=1e-6)  # target = series - base, so base + target inverts
    q = f._forecast_z(z, cov, cal, origins, 6)
    import torch
    with torch.no_grad():
        net = f.net(torch.from_numpy(x)).numpy()
    shift = (1 - f.blend) * net[..., 1:2]  # the median's correction kept at the validated share
    assert f.blend in hybrid.BLENDS and np.allclose(q, np.sort(net - shift + bases[..., None], -1), atol=1e-5)


def test_auto_base_keeps_the_simple_base_where_it_forecasts_better_and_linear_where_that_does(tmp_path):
    smooth = forecast.train(_smooth(), forecast.Config(horizon=6, lookback=24, test_size=24, epochs=1,
                                                       hidden_size=4, peers="off"), verbose=0)
    assert smooth.base in hybrid.FITTED  # a smooth seasonal series: a fitted base beats a step or a season back
    f_path = tmp_path / "m"
    smooth.save(f_path)
    loaded = forecast.Forecaster.load(f_path)
    assert loaded.base == smooth.base and np.allclose(loaded.predict(data=smooth.frame).to_numpy(),
                                                   smooth.predict().to_numpy(), atol=1e-5)
    z = np.tile([0.0, 5.0, -3.0, 2.0], 60)[:, None]  # an exact season: a season back is perfect, and
    errors = hybrid.fold_errors(z, np.arange(7, 150), np.arange(160, 200), 8, 4, 4)  # needs no fit
    assert errors[("seasonal",)] == 0 and hybrid.choose(errors) == ("seasonal",)


def test_linear_base_needs_the_direct_strategy():
    with pytest.raises(LstmkitError, match="base: 'linear'"):
        forecast.Config(strategy="recursive", base="linear")
    for bad in ({"ensemble": 0}, {"patience": -1}, {"epoch_windows": 0}):
        with pytest.raises(LstmkitError, match=next(iter(bad))):
            forecast.Config(**bad)
