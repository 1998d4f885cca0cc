"""Peak memory of training a global model on a panel streamed from Parquet: S series x N steps
written row group by row group (never whole in memory), then `forecast.train(path, Config(id_col=...))`
in a fresh process, which reads the file series by series in every pass. Each size runs in its own
process so its peak resident set size (ru_maxrss) is its own; a bounded-memory reader shows about
the same peak for 1,000 and 10,000 series.

    PYTHONPATH=src python benchmarks/forecast_stream.py               # 1,000 and 10,000 series x 1,000 steps
    PYTHONPATH=src python benchmarks/forecast_stream.py --quick       # 200 and 1,000 series x 300 steps

Writes benchmarks/results/forecast_stream.md. The data are synthetic (seasonal series of random
level, scale and phase): the point is memory, not accuracy.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
SERIES_PER_GROUP = 100  # series per Parquet row group


def write_panel(path, n_series, length, seed=0):
    """Write n_series x length rows (id, t, y), sorted by id, one row group per SERIES_PER_GROUP series."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(seed)
    schema = pa.schema([("id", pa.string()), ("t", pa.int64()), ("y", pa.float64())])
    t = np.arange(length)
    with pq.ParquetWriter(path, schema) as writer:
        for first in range(0, n_series, SERIES_PER_GROUP):
            k = min(SERIES_PER_GROUP, n_series - first)
            level, scale, phase = rng.uniform(5, 50, k), rng.uniform(0.5, 5, k), rng.uniform(0, 2 * np.pi, k)
            y = level[:, None] + scale[:, None] * np.sin(2 * np.pi * t / 24 + phase[:, None]) \
                + rng.normal(0, 0.3, (k, length))
            ids = np.repeat([f"s{first + i:05d}" for i in range(k)], length)
            writer.write_table(pa.table({"id": ids, "t": np.tile(t, k), "y": y.ravel()}, schema=schema))


def train_child(path, windows):
    """In this process: train from the stream; print the peak RSS and the time as JSON."""
    from lstmkit.tasks import forecast
    from lstmkit.tasks.forecast import Config
    start = time.perf_counter()
    config = Config(id_col="id", target="y", time_col="t", horizon=12, lookback=48, test_size=24, season_length=24,
                    epochs=1, ensemble=1, hidden_size=32, peers="off", calendar=False, series_windows=windows,
                    batch_size=512)
    model = forecast.train(path, config, verbose=0)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "series": len(model.ids), "windows": model.n_windows}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--windows", type=int, default=16, help="training windows per series an epoch")
    ap.add_argument("--child", nargs=2, metavar=("PATH", "WINDOWS"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(RESULTS / "forecast_stream.md"))
    args = ap.parse_args(argv)
    if args.child:
        return train_child(args.child[0], int(args.child[1]))
    sizes, length = ((200, 1000), 300) if args.quick else ((1000, 10000), 1000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"panel{n}.parquet"
            write_panel(path, n, length)
            run = subprocess.run([sys.executable, __file__, "--child", str(path), str(args.windows)],
                                 capture_output=True, text=True, env=os.environ, check=True)
            result = json.loads(run.stdout.strip().splitlines()[-1])
            result.update(steps=length, file_mb=path.stat().st_size / 2 ** 20, in_memory_mb=n * length * 8 * 3 / 2 ** 20)
            rows.append(result)
            print(result, flush=True)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    command = "PYTHONPATH=src python benchmarks/forecast_stream.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = ["# Training from a streamed Parquet panel: peak memory", "",
             "| series | steps each | rows | Parquet file MB | raw values MB (3 x float64 a row) | training windows an epoch "
             "| peak RSS MB (whole process) | wall s |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['series']:,} | {r['steps']:,} | {r['series'] * r['steps']:,} | {r['file_mb']:.0f} | "
              f"{r['in_memory_mb']:.0f} | {r['windows']:,} | {r['peak_rss_mb']:.0f} | {r['seconds']:.1f} |" for r in rows]
    lines += ["", f"- one epoch, one member, {args.windows} windows per series an epoch (`series_windows`), lookback 48, "
              f"horizon 12, hidden 32; every pass (statistics, validation windows, the epoch) re-reads the file series "
              f"by series; the peak includes Python, torch and pyarrow (about 300-400 MB before any data)",
              f"- command: `{command.strip()}`", f"- load (uptime, after the run): {load}",
              f"- machine: {os.cpu_count()} cores shared with other work"]
    text = "\n".join(lines) + "\n"
    print(text)
    from lstmkit.saving import atomic_write
    atomic_write(Path(args.out), text)


if __name__ == "__main__":
    main()
