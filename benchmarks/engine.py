"""Engine benchmark: every kernel next to torch.nn.LSTM and a plain autograd loop, in one run.

Usage: .venv/bin/python benchmarks/engine.py [--shapes S1,S2] [--repeats 7] [--threads 2] [--clock cpu] [--cells lstm]
Writes benchmarks/results/engine.md (linked from the README) and engine.json. Never asserts a time.
`--cells gru,rnn` times the GRU and the simple RNN instead (next to torch.nn.GRU / torch.nn.RNN) and
writes benchmarks/results/engine_gru_rnn.md.
With --variants: the LSTM variants and minLSTM instead (`lstmkit.bench_variants`), on S2 and S3
unless --shapes says otherwise, into benchmarks/results/engine_variants.md; with --proj-size P every
variant (and torch.nn.LSTM) has that projection, into engine_variants_proj.md.
With --min: minLSTM / minGRU training at T=512, 1024, 4096 next to torch.nn.LSTM (`lstmkit.bench_min`,
one thread, CPU time), into benchmarks/results/engine_min.md.
"""
import argparse
from pathlib import Path

from lstmkit import bench, bench_min, bench_rnn, bench_variants

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shapes", default=",".join(bench.SHAPES))
    p.add_argument("--modes", default="forward,train")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    p.add_argument("--cells", default="lstm", help="lstm, or any of gru,rnn")
    p.add_argument("--variants", action="store_true", help="the LSTM variants and minLSTM (see above)")
    p.add_argument("--skip-min", action="store_true", help="with --variants: the variants only, not minLSTM")
    p.add_argument("--proj-size", type=int, default=0, help="with --variants: every LSTM with this proj_size")
    p.add_argument("--min", action="store_true", help="minLSTM / minGRU at long T (see above)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="cpu: this thread's CPU time (use with --threads 1 on a shared, loaded CPU)")
    a = p.parse_args()
    if a.proj_size and not a.variants:
        p.error("--proj-size: needs --variants")
    if a.min:
        bench_min.run(repeats=a.repeats if a.repeats != p.get_default("repeats") else 5, out_dir=a.out)
    elif a.variants:
        shapes = a.shapes.split(",") if a.shapes != p.get_default("shapes") else ["S2", "S3"]
        bench_variants.run(shapes, a.repeats, a.threads, a.out, with_min=not a.skip_min, clock=a.clock,
                           proj_size=a.proj_size)
    elif a.cells == "lstm":
        bench.run(a.shapes.split(","), a.modes.split(","), a.repeats, a.threads, a.out, clock=a.clock)
    else:
        bench_rnn.run(a.cells.split(","), a.shapes.split(","), a.modes.split(","), a.repeats, a.threads, a.out,
                      clock=a.clock)
