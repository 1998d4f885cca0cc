"""Distributed forecaster training: a 2-process gloo run (DDP, the global batch split across ranks)
ends with the same parameters as the same training on one process."""
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from lstmkit.cli.forecast import _without_nproc
from lstmkit.cli.main import main
from lstmkit.tasks.forecast import distributed
from lstmkit.tasks.forecast.net import ForecastNet, PinballLoss

N_WINDOWS = 33  # batches of 8, 8, 8, 8 and 1: unequal shards, and rank 1's shard of the last is empty


def _problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_WINDOWS, 10, 3)).astype(np.float32)  # L=6 lookback rows + H=4, F=3
    y = rng.normal(size=(N_WINDOWS, 4, 1)).astype(np.float32)
    xv, yv = x[:7] + 0.1, y[:7]
    return x, y, xv, yv


def _train(steps):
    torch.manual_seed(0)
    net = ForecastNet(3, 2, 1, lookback=6, horizon=4, n_quantiles=3, hidden_size=8)
    net, epochs = distributed.fit(net, *_problem(), PinballLoss((0.1, 0.5, 0.9)), learning_rate=1e-2,
                                  batch_size=8, epochs=3, patience=10, steps=steps, seed=5)
    return net, epochs


def _worker(rank, world, port, path, steps):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        net, _ = _train(steps)
        if rank == 0:
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, path)
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("steps", [None, 7])  # one full pass an epoch; 7 batches from the carried-on stream
def test_two_gloo_processes_match_one_process(tmp_path, steps):
    path = str(tmp_path / "rank0.safetensors")
    mp.start_processes(_worker, args=(2, _free_port(), path, steps), nprocs=2, join=True, start_method="spawn")
    single, epochs = _train(steps)
    assert not distributed.active() and epochs == 3
    two = load_file(path)
    for name, value in single.state_dict().items():
        assert torch.allclose(two[name], value, atol=1e-5), name
    torch.manual_seed(0)
    init = ForecastNet(3, 2, 1, lookback=6, horizon=4, n_quantiles=3, hidden_size=8).state_dict()
    assert all(not torch.allclose(init[k], v, atol=1e-4) for k, v in single.state_dict().items())  # it trained


def test_shards_partition_every_global_batch():
    batches = distributed.global_batches(10, 4, seed=0)
    first_pass = [next(batches) for _ in range(3)]
    assert [len(b) for b in first_pass] == [4, 4, 2]
    assert sorted(np.concatenate(first_pass).tolist()) == list(range(10))
    shards = [first_pass[0][r::3] for r in range(3)]  # DistributedSampler's interleaved partition
    assert sorted(np.concatenate(shards).tolist()) == sorted(first_pass[0].tolist())


def test_nproc_is_taken_off_the_relaunched_command_and_checked(capsys):
    assert _without_nproc(["forecast", "train", "--nproc", "2", "--quiet"]) == ["forecast", "train", "--quiet"]
    assert _without_nproc(["forecast", "train", "--nproc=4"]) == ["forecast", "train"]
    assert main(["forecast", "train", "--nproc", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--nproc" in err and "0" in err
