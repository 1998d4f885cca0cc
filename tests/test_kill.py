"""Killed runs lose nothing: a training run killed with SIGKILL at random moments leaves every model it
saved loadable, no temporary files behind, and resumes (BackupAndRestore) to the same final weights,
bit for bit, as a run that was never interrupted.

Each run is forked from a helper process that imported torch once (a fresh interpreter per trial
would spend most of the time importing); the forked child uses one thread and reseeds, so runs are
repeatable."""
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmkit.models import load_model

EPOCHS = 15
TRIALS = 20


def train(run_dir: Path):
    """One fit (resuming from the backup in run_dir when there is one); final weights at the end."""
    import lstmkit
    from lstmkit.layers import LSTM, Dense, Dropout
    from lstmkit.models import BackupAndRestore, CSVLogger, EarlyStopping, ModelCheckpoint, Sequential

    torch.set_num_threads(1)
    lstmkit.set_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.random((48, 6, 2), dtype=np.float32), rng.random((48, 1), dtype=np.float32)
    model = Sequential([LSTM(8, input_shape=(None, 2), dropout=0.2), Dropout(0.3), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=EPOCHS, batch_size=8, verbose=0, callbacks=[
        BackupAndRestore(run_dir / "backup"), EarlyStopping(monitor="loss", patience=50),
        ModelCheckpoint(str(run_dir / "ckpt" / "ep{epoch:03d}")), CSVLogger(run_dir / "log.csv")])
    model.save_weights(run_dir / "final.safetensors")


def serve():
    """The helper process: for each 'RUN dir' line, fork a child that trains, and print its pid;
    for each 'WAIT pid' line, reap the child and print its exit status."""
    for line in sys.stdin:
        cmd, arg = line.split()
        if cmd == "RUN":
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    train(Path(arg))
                except BaseException:
                    code = 1
                os._exit(code)
        else:
            _, status = os.waitpid(int(arg), 0)
            pid = os.waitstatus_to_exitcode(status)
        print(pid, flush=True)


class Zygote:
    def __init__(self):
        here = Path(__file__).parent
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), *sys.path])}
        self.proc = subprocess.Popen([sys.executable, "-c", "import test_kill; test_kill.serve()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, line: str, timeout: float = 60) -> int:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"no answer to {line!r} within {timeout} s"
        return int(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def check_saved_models_load(run_dir: Path, x):
    for path in sorted((run_dir / "ckpt").glob("ep*")):
        model = load_model(path)
        assert np.isfinite(model.predict(x)).all()


@pytest.fixture
def zygote():
    z = Zygote()
    yield z
    z.close()


def test_sigkill_at_random_points_resumes_to_identical_weights(tmp_path, zygote):
    deadline = time.monotonic() + 120  # the test stops by itself even if something goes wrong
    x = np.random.default_rng(1).random((4, 6, 2), dtype=np.float32)
    reference = tmp_path / "reference"
    assert zygote.ask(f"WAIT {zygote.ask(f'RUN {reference}')}") == 0
    run, rng, kills = tmp_path / "killed", random.Random(14), 0
    for _ in range(TRIALS):
        pid = zygote.ask(f"RUN {run}")
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(pid, signal.SIGKILL)  # it may have finished already: then the kill does nothing
        status = zygote.ask(f"WAIT {pid}")
        kills += status == -signal.SIGKILL
        assert status in (0, -signal.SIGKILL)
        check_saved_models_load(run, x)
        assert time.monotonic() < deadline
    while not (run / "final.safetensors").exists():  # resume until training completes
        assert zygote.ask(f"WAIT {zygote.ask(f'RUN {run}')}") == 0
        assert time.monotonic() < deadline
    assert kills >= TRIALS // 2, f"only {kills} of {TRIALS} runs were killed before they finished"
    check_saved_models_load(run, x)
    assert (run / "final.safetensors").read_bytes() == (reference / "final.safetensors").read_bytes()
    # the callbacks' state came back too: the log holds every epoch once, with the same losses
    assert (run / "log.csv").read_text() == (reference / "log.csv").read_text()
    assert sorted(p.name for p in (run / "ckpt").iterdir()) == [f"ep{e:03d}" for e in range(1, EPOCHS + 1)]
    assert not (run / "backup").exists()  # deleted once training completed
