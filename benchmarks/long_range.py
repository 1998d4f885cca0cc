"""The long-time-lag experiments of Hochreiter & Schmidhuber 1997 (`lstmkit.long_range`).

Usage: .venv/bin/python benchmarks/long_range.py [--adding 100,500] [--temporal-order 100]
       [--budget 222000 | --budget-x 3] [--batch 32] [--seeds 0,1,2] [--models LSTM,minLSTM]
       [--fast-from 100] [--time-limit SECONDS] [--part NAME] [--report]
Appends every finished run as one JSON line to benchmarks/results/long_range.<part>.jsonl; run again
with the same arguments and the runs already there are skipped (resume); then merges every part into
benchmarks/results/long_range.md and long_range.png (--report: only merge). --budget-x N gives each
(task, T) N times the paper's mean sequences until success. Never asserts a time.
"""
import argparse
import math
import shlex
import sys
import time
from pathlib import Path

import torch

from lstmkit import long_range

RESULTS = Path(__file__).parent / "results"


def _model_names(text):
    """The comma-separated names in `text`, where a name may itself hold commas ("LSTM zoneout (0.1, 0.05)"):
    pieces are joined until they form a name of long_range.MODELS; an unknown name is one line, exit 2."""
    names, piece = [], ""
    for part in text.split(","):
        piece = f"{piece},{part}" if piece else part.strip()
        if piece in long_range.MODELS:
            names.append(piece)
            piece = ""
    if piece:
        raise SystemExit(f"--models: unknown model {piece!r}; expected comma-separated names of "
                         f"{', '.join(long_range.MODELS)}")
    return names


def _ints(text):
    return [int(v) for v in text.split(",") if v]


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--adding", default="100,500", help="minimal lags T for the adding problem")
    p.add_argument("--temporal-order", default="100", help="T for the temporal-order problem")
    p.add_argument("--budget", type=int, default=0, help="sequences per run (the same for every model)")
    p.add_argument("--budget-x", type=float, default=3.0, help="without --budget: times the paper's mean")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seeds", default="0")
    p.add_argument("--models", default="", help="comma-separated names of long_range.MODELS (default all)")
    p.add_argument("--fast-from", type=int, default=0, help="from this T on, train only the fast cells")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--time-limit", type=float, default=0, help="seconds for the whole grid (0: none)")
    p.add_argument("--part", default="all", help="name of this part's JSON-lines file")
    p.add_argument("--report", action="store_true", help="only merge the parts into the report")
    p.add_argument("--out", default=str(RESULTS))
    return p.parse_args(argv)


def _budget(a, task, T):
    if a.budget:
        return a.budget
    paper = long_range.PAPER.get((task, T))
    if paper is None:
        raise SystemExit(f"--budget: needed for {task} T={T} (no paper figure to scale by --budget-x)")
    return int(a.budget_x * paper)


def main(argv=None):
    a = _parse(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if not a.report:
        torch.set_num_threads(a.threads)
        part = out / f"long_range.{a.part}.jsonl"
        done = long_range.done_keys(long_range.load_runs([part])) if part.exists() else set()
        models = _model_names(a.models) or None
        grid = [(task, T, models_, math.ceil(_budget(a, task, T) / a.batch))
                for task, T, models_, _ in long_range.make_grid(_ints(a.adding), _ints(a.temporal_order), 1,
                                                                a.fast_from, models)]
        command = "python benchmarks/long_range.py " + shlex.join(sys.argv[1:] if argv is None else argv)
        deadline = time.monotonic() + a.time_limit if a.time_limit else None
        long_range.run(grid, seeds=_ints(a.seeds), batch=a.batch, done=done, deadline=deadline,
                       meta=long_range.describe(a.batch, a.threads, command),
                       on_run=lambda r: long_range.append_run(r, part))
    print(long_range.write_report(out))


if __name__ == "__main__":
    main()
