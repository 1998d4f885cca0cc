"""What the statsforecast peers add to the default `lstmkit forecast train` run (AirPassengers):
the same command with `--peers on` and `--peers off`, alternated, wall and CPU seconds of the whole
process (Python and torch start-up included), median over repeats; the table goes to
benchmarks/results/forecast_peers_cost.md with the machine's load.

    PYTHONPATH=src python benchmarks/forecast_peers_cost.py [--repeats 3]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(peers: str, out: str) -> tuple:
    """One default run; returns (wall s, CPU s of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lstmkit.cli.main", "forecast", "train", "--quiet", "--peers", peers,
                    "--out", out], check=True, env=os.environ)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - start, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load = os.popen("uptime").read().strip()
    times = {"on": [], "off": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for peers in ("on", "off"):
                times[peers].append(run(peers, f"{tmp}/{peers}"))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    lines = ["# Cost of the statsforecast peers in the default forecast run (AirPassengers)", "",
             f"Command: `PYTHONPATH=src python benchmarks/forecast_peers_cost.py --repeats {args.repeats}`; "
             f"load before: `{load}`; after: `{os.popen('uptime').read().strip()}`. The 2-core machine is "
             "shared with other jobs, so wall times are noisy.", "",
             "| run | wall s (median) | CPU s (median) |", "|---|---|---|",
             *(f"| --peers {k} | {w:.1f} | {c:.1f} |" for k, (w, c) in med.items()),
             f"| ratio on / off | {med['on'][0] / med['off'][0]:.2f} | {med['on'][1] / med['off'][1]:.2f} |", ""]
    path = Path(__file__).parent / "results" / "forecast_peers_cost.md"
    path.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
