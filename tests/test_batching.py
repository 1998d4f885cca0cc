"""The one length-bucketing batcher: every index once, little padding, repeatable with a seed."""
import random

import numpy as np
import pytest

from lstmkit.data.batching import length_batches

LENGTHS = [int(x) for x in np.random.default_rng(0).integers(1, 80, 300)]


def _flat(batches):
    return sorted(k for b in batches for k in b)


@pytest.mark.parametrize("make_rng,kwargs", [
    (lambda: None, dict(batch_size=16)),
    (lambda: random.Random(0), dict(batch_size=16)),
    (lambda: random.Random(0), dict(max_padded=500)),
    (lambda: np.random.default_rng(0), dict(batch_size=16, window=4)),
])
def test_every_index_once_and_the_same_batches_from_the_same_seed(make_rng, kwargs):
    batches = length_batches(LENGTHS, make_rng(), **kwargs)
    assert _flat(batches) == list(range(len(LENGTHS)))
    assert length_batches(LENGTHS, make_rng(), **kwargs) == batches


def test_evaluation_order_is_shortest_first_and_a_padded_budget_holds():
    batches = length_batches(LENGTHS, batch_size=16)
    flat = [LENGTHS[k] for b in batches for k in b]
    assert flat == sorted(LENGTHS)
    budget = length_batches(LENGTHS, random.Random(1), max_padded=500, shuffle=False)
    assert all(len(b) == 1 or len(b) * max(LENGTHS[k] for k in b) <= 500 for b in budget)
    assert [LENGTHS[b[0]] for b in budget] == sorted(LENGTHS[b[0]] for b in budget)  # shortest first


def test_windowed_batches_change_between_epochs_and_stay_tight():
    rng = np.random.default_rng(0)
    first, second = (length_batches(LENGTHS, rng, batch_size=10, window=5) for _ in range(2))
    assert {tuple(b) for b in first} != {tuple(b) for b in second}  # random members each epoch
    padding = sum(len(b) * max(LENGTHS[k] for k in b) for b in first) - sum(LENGTHS)
    shuffled = [list(range(i, min(i + 10, 300))) for i in range(0, 300, 10)]  # no bucketing at all
    assert padding < 0.5 * (sum(len(b) * max(LENGTHS[k] for k in b) for b in shuffled) - sum(LENGTHS))


def test_exactly_one_size_is_given():
    with pytest.raises(ValueError, match="exactly one of batch_size and max_padded"):
        length_batches(LENGTHS, batch_size=4, max_padded=10)
