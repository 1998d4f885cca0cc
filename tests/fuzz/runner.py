"""The fuzzer: mutate model directories (`mutate.py`) of every kind (`kinds.py`), load and use each
in a worker process, and sort the outcomes.

Each load runs in a separate worker process under a memory cap (RLIMIT_AS: CAP_BYTES above what the
worker held after its imports) and a deadline (CASE_SECONDS; a worker past it is killed and counted
as a hang). Outcomes: ok (loaded and used), refused (a one-line LstmkitError), multiline (an
LstmkitError of several lines), uncaught (any other exception), memory (an allocation over the cap),
hang, crash (the worker died), code (a pickle payload ran).

Long run: `python tests/fuzz/runner.py --cases 10000` (`make fuzz`), which prints the counts and
writes them to tests/fuzz/RESULTS.md.
"""
import argparse
import json
import os
import random
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAP_BYTES = 1 << 30
CASE_SECONDS = 20.0
BAD = ("multiline", "uncaught", "memory", "hang", "crash", "code")


@dataclass
class Outcome:
    kind: str
    mutations: list
    status: str
    message: str = ""
    where: str = ""
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def worker_main():
    """Read {"kind", "dir"} lines, load and use each directory, answer one JSON line each."""
    sys.path.insert(0, str(HERE))
    import kinds  # noqa: F401  (imports torch and lstmkit before the cap is measured)
    from lstmkit.errors import LstmkitError

    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the library prints must not mix with the answers
    size = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (size + CAP_BYTES, size + CAP_BYTES))
    for line in sys.stdin:
        request = json.loads(line)
        answer = {"status": "ok"}
        try:
            kinds.KINDS[request["kind"]].load_and_use(Path(request["dir"]))
        except LstmkitError as e:
            answer = {"status": "refused" if "\n" not in str(e).strip() else "multiline",
                      "message": str(e)[:2000], "where": _where(e)}
        except MemoryError as e:
            answer = {"status": "memory", "message": repr(e)[:300], "where": _where(e)}
        except Exception as e:  # noqa: BLE001  (counting every escape is the point)
            status = "memory" if "allocate" in str(e) else "uncaught"
            answer = {"status": status, "message": f"{type(e).__name__}: {' '.join(str(e).split())[:300]}",
                      "where": _where(e)}
        out.write(json.dumps(answer) + "\n")
        out.flush()


def _where(e) -> str:
    """The innermost frame inside lstmkit (else the innermost), as file:line function."""
    frames = traceback.extract_tb(e.__traceback__)
    inside = [f for f in frames if "lstmkit" in f.filename and "tests" not in f.filename] or frames
    f = inside[-1]
    return f"{f.filename.split('src/')[-1]}:{f.lineno} {f.name}"


class Worker:
    def __init__(self):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.proc = subprocess.Popen([sys.executable, str(HERE / "runner.py"), "--worker"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.fresh = True

    def ask(self, kind: str, directory: Path) -> dict:
        self.proc.stdin.write(json.dumps({"kind": kind, "dir": str(directory)}) + "\n")
        self.proc.stdin.flush()
        timeout = CASE_SECONDS * (3 if self.fresh else 1)  # the first load imports the task's libraries
        self.fresh = False
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            return {"status": "hang", "message": f"no answer within {timeout:.0f} s"}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            return {"status": "crash", "message": f"worker exited with status {code}"}
        return json.loads(line)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self):
        if self.alive():
            self.proc.kill()
        self.proc.wait()


class Fuzzer:
    """Base directories built once; `case` mutates a fresh copy and has a worker load it."""

    def __init__(self, kind_names, root: Path):
        sys.path.insert(0, str(HERE))
        import kinds

        self.root, self.kinds, self.worker = root, kind_names, None
        (root / "base").mkdir(parents=True, exist_ok=True)
        for name in kind_names:
            kinds.KINDS[name].make_dir(root / "base" / name)

    def case(self, kind: str, names: list, seed: int) -> Outcome:
        from mutate import MARKER, mutate

        case_dir, scratch = self.root / "case" / "model", self.root / "case" / "scratch"
        shutil.rmtree(self.root / "case", ignore_errors=True)
        shutil.copytree(self.root / "base" / kind, case_dir)
        scratch.mkdir()
        done = mutate(random.Random(seed), case_dir, scratch, names)
        if self.worker is None or not self.worker.alive():
            self.worker = Worker()
        start = time.monotonic()
        answer = self.worker.ask(kind, case_dir)
        outcome = Outcome(kind, done, seconds=time.monotonic() - start, **answer)
        if (scratch / MARKER).exists():
            outcome.status, outcome.message = "code", "a pickle payload ran during loading"
        return outcome

    def close(self):
        if self.worker is not None:
            self.worker.close()


def run(kind_names, cases: int, seed: int, root: Path, log=None, minutes=None) -> list:
    """`cases` mutated directories spread over `kind_names`, 1-3 mutations each (fewer when
    `minutes` run out first)."""
    from mutate import choose

    fuzzer, rng, outcomes = Fuzzer(kind_names, root), random.Random(seed), []
    stop = time.monotonic() + 60 * minutes if minutes else float("inf")
    try:
        for k in range(cases):
            if time.monotonic() > stop:
                break
            kind = kind_names[k % len(kind_names)]
            outcome = fuzzer.case(kind, choose(rng, rng.choice([1, 1, 2, 3])), rng.getrandbits(32))
            outcomes.append(outcome)
            if log and outcome.status in BAD:
                log(f"{outcome.status:9} {kind:15} {'; '.join(outcome.mutations)[:90]} | "
                    f"{outcome.message[:160]} | {outcome.where}")
    finally:
        fuzzer.close()
    return outcomes


def table(outcomes) -> str:
    """Markdown counts: one row per kind, one column per outcome."""
    statuses = ["ok", "refused", *BAD]
    counts = Counter((o.kind, o.status) for o in outcomes)
    kinds_ = list(dict.fromkeys(o.kind for o in outcomes))
    rows = ["| kind | directories | " + " | ".join(statuses) + " |", "|---" * (len(statuses) + 2) + "|"]
    for kind in [*kinds_, "all"]:
        pick = (lambda s: counts[(kind, s)]) if kind != "all" else (lambda s: sum(counts[(k, s)] for k in kinds_))
        rows.append(f"| {kind} | {sum(pick(s) for s in statuses)} | " + " | ".join(str(pick(s)) for s in statuses) + " |")
    return "\n".join(rows)


def failures(outcomes) -> str:
    """Each distinct failure (kind, status, where, exception type) once, with one example."""
    seen = {}
    for o in outcomes:
        if o.status in BAD:
            seen.setdefault((o.kind, o.status, o.where, o.message.split(":")[0]), o)
    lines = [f"- {o.kind}, {o.status}, `{o.where}`: {o.message[:200]} (after: {'; '.join(o.mutations)[:120]})"
             for o in seen.values()]
    return "\n".join(lines) or "none"


def main(argv=None):
    import kinds

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(kinds.KINDS))
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--minutes", type=float, default=None, help="stop early after this long")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lstmkit-fuzz-") as root:
        outcomes = run(args.kinds.split(","), args.cases, args.seed, Path(root), log=print,
                       minutes=args.minutes)
    seconds = time.monotonic() - start
    limit = f" --minutes {args.minutes:g}" if args.minutes else ""
    report = (f"# Model-directory fuzzer: results\n\nCommand: `python tests/fuzz/runner.py --cases {args.cases} "
              f"--seed {args.seed} --kinds {args.kinds}{limit}`: {len(outcomes)} directories in {seconds:.0f} s, load `{os.getloadavg()[0]:.1f}` "
              f"(a machine shared with other work). Memory cap {CAP_BYTES >> 20} MiB over the worker's size "
              f"after imports, {CASE_SECONDS:.0f} s per load.\n\n{table(outcomes)}\n\n"
              f"## Distinct failures\n\n{failures(outcomes)}\n")
    Path(args.out).write_text(report)
    print(report)
    bad_clean = [o for o in outcomes if o.status in BAD and kinds.KINDS[o.kind].clean]
    return 1 if bad_clean else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
