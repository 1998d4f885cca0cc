"""Many series at once ("panel" data): a long frame with one row per series and time step, a folder
of CSV files (one series each, the id is the file stem), or Parquet, read whole or streamed by row
groups so a panel larger than memory is read one series at a time.

Every reader gives the same records: `SeriesRecord(id, frame, static)` with `frame` indexed by time
(target first, then the covariates, float64) and `static` the series' static covariates.

Shapes: S series, N_s steps of series s.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .series import _check_columns, _fill, _numeric, _parse_time


@dataclass
class PanelSpec:
    """What to read from each row.

    Args:
        id_col: the series id column. target: the column to forecast. time_col: the time column
            (None: steps 0, 1, 2, ... within each series). covariates: per-series time-varying columns
            (past and known-future). static: columns constant within a series. fill: as `read_series`.
        min_length: the fewest steps a series may have (the forecaster's lookback + 2H + test).
    """
    id_col: str
    target: str
    time_col: str | None = None
    covariates: list = field(default_factory=list)
    static: list = field(default_factory=list)
    fill: str | None = None
    min_length: int = 1


@dataclass
class SeriesRecord:
    """One series: its id (a string), its (N, 1 + covariates) frame and its static values."""
    id: str
    frame: pd.DataFrame
    static: dict


def is_parquet(data) -> bool:
    """True for a .parquet file or a directory holding .parquet files."""
    if not isinstance(data, (str, os.PathLike)):
        return False
    path = Path(data)
    return path.suffix == ".parquet" or (path.is_dir() and any(path.glob("*.parquet")))


def read_panel(data, spec: PanelSpec) -> list:
    """Read and check a whole panel into memory.

    Args:
        data: a long DataFrame, a CSV path, a folder of CSV files (one series each; the id is the file
            stem and `id_col` need not be a column), or a Parquet file or folder.
        spec: a PanelSpec.

    Returns:
        A list of SeriesRecord in order of first appearance.

    Raises:
        DataError: a one-line description of the first problem (missing id column, duplicated
            (id, time) rows, a static covariate that varies in time, a series that is too short, ...).

    Example:
        >>> df = pd.DataFrame({"id": ["a"] * 3 + ["b"] * 3, "y": range(6)})
        >>> [r.id for r in read_panel(df, PanelSpec("id", "y"))]
        ['a', 'b']
    """
    if isinstance(data, pd.DataFrame):
        return records(data, spec, "the data")
    if not isinstance(data, (str, os.PathLike)):
        raise DataError(f"data: expected a DataFrame, a CSV or Parquet path or a folder of them, "
                        f"got {type(data).__name__}")
    path = Path(data)
    if is_parquet(path):
        return list(stream_parquet(path, spec))
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise DataError(f"data: the folder {str(path)!r} holds no .csv or .parquet files")
        frames = [_read_csv(f).assign(**{spec.id_col: f.stem}) for f in files]
        return records(pd.concat(frames, ignore_index=True), spec, f"the folder {str(path)!r}")
    if not path.is_file():
        raise DataError(f"data: file not found: {str(path)!r} (expected a CSV or Parquet file or a folder)")
    return records(_read_csv(path), spec, repr(str(path)))


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"data: cannot read {str(path)!r} as CSV ({str(e).splitlines()[0]})") from None
    if frame.empty:
        raise DataError(f"data: {str(path)!r} has no rows")
    return frame


def records(frame: pd.DataFrame, spec: PanelSpec, where: str) -> list:
    """Split a long frame into checked SeriesRecords (see `read_panel`)."""
    if frame.empty:
        raise DataError(f"data: {where} has no rows")
    if spec.id_col not in frame.columns:
        raise DataError(f"id_col: the id column {spec.id_col!r} is not in {where}; columns: "
                        f"{list(map(str, frame.columns))}")
    _check_columns(frame, [spec.target], "target column")
    _check_columns(frame, spec.covariates, "covariate")
    _check_columns(frame, spec.static, "static covariate")
    row = lambda i: f"row {i}"  # noqa: E731
    frame = frame.reset_index(drop=True)
    ids = frame[spec.id_col].astype(str)
    if spec.time_col:
        _check_columns(frame, [spec.time_col], "time column")
        time = pd.Series(_parse_time(frame[spec.time_col], spec.time_col, row))
    else:
        time = ids.groupby(ids, sort=False).cumcount()
    values = pd.DataFrame({c: _numeric(frame[c], c, row).to_numpy() for c in [spec.target, *spec.covariates]})
    dup = pd.DataFrame({"id": ids, "t": time.to_numpy()}).duplicated()
    if dup.any():
        i = int(dup.to_numpy().argmax())
        raise DataError(f"data: duplicated (id, time) rows: id {ids[i]!r} at {time.iloc[i]} appears more than "
                        f"once ({row(i)}); expected one row per series and time step")
    out = []
    for sid, rows in ids.groupby(ids, sort=False).groups.items():
        rows = np.asarray(rows)
        out.append(_record(sid, values.iloc[rows], time.iloc[rows], frame.iloc[rows], spec))
    return out


def _record(sid, values, time, raw, spec) -> SeriesRecord:
    """One series: sorted by time, filled, its length and static covariates checked."""
    order = np.argsort(time.to_numpy(), kind="stable")
    index = pd.Index(time.to_numpy()[order], name=spec.time_col) if spec.time_col \
        else pd.RangeIndex(len(order))
    series = pd.DataFrame(values.to_numpy()[order], columns=values.columns, index=index)
    series = _fill(series, spec.fill, lambda i: f"row {i} of series {sid!r}")
    if len(series) < spec.min_length:
        raise DataError(f"data: series {sid!r} has {len(series)} steps; at least {spec.min_length} are needed "
                        f"(lookback + 2 x horizon + test_size)")
    static = {}
    for col in spec.static:
        seen = raw[col].drop_duplicates()
        if len(seen) > 1:
            raise DataError(f"static_covariates: {col!r} varies in time within series {sid!r} "
                            f"({seen.iloc[0]!r}, {seen.iloc[1]!r}); give it as a covariate instead")
        static[col] = seen.iloc[0].item() if hasattr(seen.iloc[0], "item") else seen.iloc[0]
    return SeriesRecord(str(sid), series, static)


def stream_parquet(path, spec: PanelSpec, columns_only=False):
    """Yield the series of a Parquet file (or of a folder's .parquet files, in name order) one at a
    time, reading row group by row group: memory holds one row group plus one series.

    The rows of a series must be contiguous (a file written sorted by id, as `to_parquet` after a
    sort does); a series whose rows reappear later is refused rather than silently split.

    Args:
        path: a .parquet file or a folder of them. spec: a PanelSpec.
        columns_only: only check the columns and return None (no rows are read).

    Yields:
        SeriesRecord, as `read_panel` gives them for the same rows.
    """
    import pyarrow.parquet as pq  # installed with pandas' parquet support (the `panel` extra)

    path = Path(path)
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files or not files[0].is_file():
        raise DataError(f"data: file not found: {str(path)!r} (expected a Parquet file or a folder of them)")
    wanted = [spec.id_col, *([spec.time_col] if spec.time_col else []), spec.target, *spec.covariates, *spec.static]
    names = pq.ParquetFile(files[0]).schema_arrow.names
    if spec.id_col not in names:
        raise DataError(f"id_col: the id column {spec.id_col!r} is not in {str(files[0])!r}; columns: {names}")
    missing = [c for c in wanted if c not in names]
    if missing:
        raise DataError(f"data: column {missing[0]!r} is not in {str(files[0])!r}; columns: {names}")
    if columns_only:
        return
    yield from _stream_groups(files, list(dict.fromkeys(wanted)), spec)


def _stream_groups(files, columns, spec):
    import pyarrow.parquet as pq

    done, pending = set(), None
    for file in files:
        reader = pq.ParquetFile(file)
        for g in range(reader.num_row_groups):
            rows = reader.read_row_group(g, columns=columns).to_pandas()
            rows[spec.id_col] = rows[spec.id_col].astype(str)
            if pending is not None:
                rows = pd.concat([pending, rows], ignore_index=True)
            last = rows[spec.id_col].iloc[-1]
            pending = rows[rows[spec.id_col] == last]  # the last series may go on in the next group
            complete = rows[rows[spec.id_col] != last]
            for record in (records(complete, spec, repr(str(file))) if len(complete) else []):
                _check_new(record.id, done, file)
                yield record
    if pending is not None:
        for record in records(pending, spec, repr(str(files[-1]))):
            _check_new(record.id, done, files[-1])
            yield record


def _check_new(sid, done, file):
    if sid in done:
        raise DataError(f"data: the rows of series {sid!r} are not contiguous in {str(file)!r}; sort the file "
                        f"by id (and time) to stream it")
    done.add(sid)
