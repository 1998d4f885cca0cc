import torch

# The test models are small: one thread avoids the per-call cost of waking a second one, and keeps
# runs repeatable when other work shares the machine.
torch.set_num_threads(1)
