"""The long-time-lag experiments of Hochreiter & Schmidhuber 1997 (`lstmkit.long_range`).

Usage: .venv/bin/python benchmarks/long_range.py [--adding 20,100,500] [--temporal-order 20]
       [--updates 400] [--seeds 0] [--fast-from 100] [--part NAME] [--report]
Writes the finished runs to benchmarks/results/long_range.<part>.json after every training run (so a
time limit keeps what finished), then merges every part into benchmarks/results/long_range.md and
long_range.png (--report: only merge). Never asserts a time.
"""
import argparse
from pathlib import Path

import torch

from lstmkit import long_range

RESULTS = Path(__file__).parent / "results"


def _ints(text):
    return [int(v) for v in text.split(",") if v]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--adding", default="20,100,500", help="minimal lags T for the adding problem")
    p.add_argument("--temporal-order", default="20", help="T for the temporal-order problem")
    p.add_argument("--updates", type=int, default=400, help="mini-batches of 32 per run (the budget)")
    p.add_argument("--seeds", default="0")
    p.add_argument("--fast-from", type=int, default=0, help="from this T on, train only the natively run cells")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--part", default="all", help="name of this part's JSON file")
    p.add_argument("--report", action="store_true", help="only merge the parts into the report")
    p.add_argument("--out", default=str(RESULTS))
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if not a.report:
        torch.set_num_threads(a.threads)
        meta = long_range.describe(a.updates, a.threads)
        grid = long_range.make_grid(_ints(a.adding), _ints(a.temporal_order), a.updates, a.fast_from)
        long_range.run(grid, seeds=_ints(a.seeds),
                       on_run=lambda runs: long_range.write_part(runs, meta, out / f"long_range.{a.part}.json"))
    print(long_range.write_report(out))


if __name__ == "__main__":
    main()
