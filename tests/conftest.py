import pytest
import torch

# The test models are small: one thread avoids the per-call cost of waking a second one, and keeps
# runs repeatable when other work shares the machine.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def one_thread():
    """Every test starts on one thread, whatever an earlier test or command set."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
