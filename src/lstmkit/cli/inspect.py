"""`lstmkit inspect`: which kernel runs an LSTM configuration and why, and what its gates do."""
import torch

from .. import explain, kernels, nn, trace_gates
from ..errors import LstmkitError


def register(sub):
    p = sub.add_parser("inspect", help="which kernel runs an LSTM, and a plot of its gates",
                       description="Print, per layer, the kernel lstmkit runs for an LSTM configuration and "
                       "why; optionally draw its gate activations on the bundled AirPassengers series.",
                       epilog="examples:\n  lstmkit inspect --hidden-size 256 --num-layers 2 --bidirectional\n"
                       "  lstmkit inspect --masked --recurrent-dropout 0.2\n"
                       "  lstmkit inspect --hidden-size 16 --gates gates.png",
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--input-size", type=int, default=1)
    p.add_argument("--hidden-size", type=int, default=50)
    p.add_argument("--num-layers", type=int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--proj-size", type=int, default=0)
    p.add_argument("--recurrent-dropout", type=float, default=0.0)
    p.add_argument("--masked", action="store_true", help="input with an arbitrary padding mask")
    p.add_argument("--engine", default="auto", choices=kernels.ENGINES)
    p.add_argument("--train", action="store_true", help="choose for training (dropout active)")
    p.add_argument("--gates", metavar="PNG", help="draw gate activations over AirPassengers to this file")
    p.set_defaults(func=handle)


def handle(args):
    lstm = nn.LSTM(args.input_size, args.hidden_size, args.num_layers, bidirectional=args.bidirectional,
                   proj_size=args.proj_size, engine=args.engine, recurrent_dropout=args.recurrent_dropout)
    lstm.train(args.train)
    lstm.select_kernel(masked=args.masked)  # a named kernel that cannot run this raises: exit status 2
    explain(lstm, masked=args.masked)
    if args.gates:
        if args.input_size != 1:
            raise LstmkitError(f"--gates: the AirPassengers series has 1 feature; use --input-size 1, "
                               f"got {args.input_size}")
        from ..data.series import load_dataset
        from ..viz.gates import plot_gates
        frame, spec = load_dataset("airpassengers")
        series = frame[spec.target[0]].to_numpy(dtype="float64")
        x = torch.tensor((series - series.mean()) / series.std(), dtype=torch.float32).view(-1, 1, 1)
        plot_gates(trace_gates(lstm, x)[0], args.gates, title="LSTM gates over AirPassengers (untrained)")
        print(f"wrote {args.gates}")
    return 0

