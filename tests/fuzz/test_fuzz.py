"""A short fuzzer run (make test): mutated model directories of the kinds marked clean in
`kinds.py` load and work, or are refused with one line; none escapes with another exception,
hangs, takes more memory than the cap, or runs code. The long run is `make fuzz`."""
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import kinds  # noqa: E402
import mutate  # noqa: E402
import runner  # noqa: E402

CASES = 200


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory):
    f = runner.Fuzzer(kinds.CLEAN, tmp_path_factory.mktemp("fuzz"))
    f.seen = []
    yield f
    f.close()


@settings(max_examples=CASES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(kinds.CLEAN),
       names=st.lists(st.sampled_from(sorted(mutate.MUTATIONS)), min_size=1, max_size=3),
       seed=st.integers(0, 2**32 - 1))
def test_mutated_directories_load_or_are_refused_in_one_line(fuzzer, kind, names, seed):
    outcome = fuzzer.case(kind, names, seed)
    fuzzer.seen.append(outcome.status)
    assert outcome.status in ("ok", "refused"), (
        f"{outcome.status}: {outcome.message} at {outcome.where} after {outcome.mutations}")


def test_the_run_saw_both_loads_and_refusals(fuzzer):
    # the fuzzer must really exercise both paths: a run where everything is refused tests little
    assert fuzzer.seen.count("refused") > CASES // 2 and fuzzer.seen.count("ok") > 5, fuzzer.seen
