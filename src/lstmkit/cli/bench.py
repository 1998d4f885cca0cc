"""`lstmkit bench`: kernel timings next to torch.nn.LSTM, measured side by side."""
from .. import bench


def register(sub):
    p = sub.add_parser("bench", help="time the kernels next to torch.nn.LSTM and a plain loop",
                       description="Forward and forward+backward times of every kernel next to torch.nn.LSTM "
                       "and a plain autograd loop, with GFLOP/s and the fraction of the best matmul rate. "
                       "Ratios from one run hold; absolute times vary on shared machines.",
                       epilog="example: lstmkit bench --shapes S1,S2 --repeats 5 --out bench-results/")
    p.add_argument("--shapes", default=",".join(bench.SHAPES),
                   help="comma-separated: " + ", ".join(f"{k}=I{v[0]} H{v[1]} B{v[2]} T{v[3]}"
                                                        for k, v in bench.SHAPES.items()))
    p.add_argument("--modes", default="forward,train", help="forward (inference) and/or train")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="directory for engine.md and engine.json")
    p.add_argument("--long-range", action="store_true",
                   help="instead: the long-time-lag experiments of Hochreiter & Schmidhuber 1997 (adding and "
                   "temporal-order problems; --updates per run, results in --out, default long-range-results/)")
    p.add_argument("--updates", type=int, default=400, help="with --long-range: mini-batches of 32 per run")
    p.set_defaults(func=handle)


def _long_range(args):
    from pathlib import Path

    from .. import long_range
    out = Path(args.out or "long-range-results")
    out.mkdir(parents=True, exist_ok=True)
    part = out / "long_range.cli.jsonl"  # one line per finished run; a second call resumes
    done = long_range.done_keys(long_range.load_runs([part])) if part.exists() else set()
    long_range.run(long_range.make_grid(updates=args.updates, fast_from=100), done=done,
                   meta=long_range.describe(32, 1, f"lstmkit bench --long-range --updates {args.updates}"),
                   on_run=lambda r: long_range.append_run(r, part))
    print(long_range.write_report(out))
    return 0


def handle(args):
    if args.long_range:
        return _long_range(args)
    from ..errors import LstmkitError

    shapes, modes = args.shapes.split(","), args.modes.split(",")
    for name, given, known in (("--shapes", shapes, bench.SHAPES), ("--modes", modes, ("forward", "train"))):
        unknown = [s for s in given if s not in known]
        if unknown:
            raise LstmkitError(f"{name}: unknown {', '.join(map(repr, unknown))}; expected some of {', '.join(known)}")
    bench.run(shapes, modes, args.repeats, args.threads, args.out)
    return 0
