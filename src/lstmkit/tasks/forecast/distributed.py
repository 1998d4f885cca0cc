"""Training a forecaster on several processes with PyTorch's DistributedDataParallel.

Every rank holds all the windows and draws the same global batches (one shuffle from the run's seed);
each computes the gradient of its shard of each batch — windows rank, rank + W, rank + 2W, ... as
`torch.utils.data.DistributedSampler` partitions — and DDP adds the shards' gradients, so one step
equals a single process's step on the whole global batch (to float rounding):

    grad = (1/B) sum_b grad l_b = sum_r (1/B) sum_{b in shard r} grad l_b

Each rank's loss is its shard's sum over B (times W, since DDP averages over the W ranks). Every
rank scores all the validation windows, so all take the same early-stopping decision without talking;
rank 0 alone writes files. The process group comes from the environment torchrun sets (RANK,
WORLD_SIZE, MASTER_ADDR, MASTER_PORT): gloo on CPU, nccl on GPU.

    lstmkit forecast train --dataset seattle-temps --nproc 2        # two local processes
    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        -m lstmkit.cli.main forecast train --dataset seattle-temps  # two machines, four each

Shapes: B global batch, W ranks, L+H window rows, F features, H horizon, T targets, Q quantiles.
"""
import copy
import os
import subprocess
import sys

import numpy as np
import torch
import torch.distributed as dist


def init_from_env() -> int:
    """Join the process group torchrun describes when WORLD_SIZE > 1 (else nothing); returns the rank."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return rank()


def active() -> bool:
    """True inside a process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def launch(nproc: int, argv: list) -> int:
    """Run `lstmkit <argv>` on `nproc` local processes through torch.distributed.run (torchrun)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "lstmkit.cli.main", *argv]
    return subprocess.run(cmd, check=False).returncode


def global_batches(n: int, batch_size: int, seed: int):
    """Endless global batches of window indices: a fresh permutation every pass, the last batch of a
    pass possibly short — the same on every rank."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n)
        yield from (order[i:i + batch_size] for i in range(0, n, batch_size))


def shard_loss(loss_fn, net, x, y, batch, world, r):
    """This rank's term of the global batch's mean loss: its shard's sum / B, times W for DDP's mean.
    A rank whose shard is empty runs one window at weight 0, so DDP's gradient hooks still fire."""
    mine = batch[r::world]
    weight = len(mine) / len(batch) * world
    if not len(mine):
        mine, weight = batch[:1], 0.0
    xb, yb = torch.from_numpy(x[mine]), torch.from_numpy(y[mine])
    return loss_fn(net(xb), yb) * weight


def fit(net, x, y, xv, yv, loss_fn, *, learning_rate, batch_size, epochs, patience, steps, seed):
    """Adam on `loss_fn` over global batches split across the ranks; early stopping on the validation
    loss with the best weights restored. Without a process group it is the same loop on one process.

    Args:
        net: the module (every rank builds it from the same seed). x: (N, L+H, F), y: (N, H, T)
            float32 training windows; xv, yv: the validation windows. loss_fn: (pred, y) -> mean loss.
        batch_size: B, the global batch. steps: batches per epoch (None: one full pass).
        epochs, patience: the epoch bound and epochs without improvement before stopping.

    Returns:
        (net in eval mode with the best weights, epochs run).
    """
    world, r = (dist.get_world_size(), dist.get_rank()) if active() else (1, 0)
    model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    opt = torch.optim.Adam(net.parameters(), lr=learning_rate)
    stream, per_epoch = global_batches(len(x), batch_size, seed), steps or -(-len(x) // batch_size)
    xv_t, yv_t = torch.from_numpy(xv), torch.from_numpy(yv)
    best, best_state, waited, epoch = float("inf"), None, 0, 0
    for epoch in range(1, epochs + 1):
        model.train()
        for _ in range(per_epoch):
            opt.zero_grad(set_to_none=True)
            shard_loss(loss_fn, model, x, y, next(stream), world, r).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            val = float(loss_fn(net(xv_t), yv_t))
        if val < best:
            best, best_state, waited = val, copy.deepcopy(net.state_dict()), 0
        else:
            waited += 1
            if waited >= patience:
                break
    net.load_state_dict(best_state)
    return net.eval(), epoch
