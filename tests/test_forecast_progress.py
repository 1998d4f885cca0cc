"""The forecast run's progress line: elapsed time and the estimate of what is left for the whole run."""
import io

from lstmkit.tasks.forecast.progress import Progress, RunClock


def test_eta_uses_the_budget_first_then_the_finished_members():
    clock = RunClock(members=3, epochs=10)
    # first member, 0.5 s an epoch after 2 epochs: 8 left (4 s) + two members at the budget (2 x 5 s)
    assert clock.eta(1.0, 1) == 14.0
    clock.done.append((3.0, 6))  # it stopped early: 6 epochs in 3 s
    # second member, 1 s an epoch after 2 epochs: expected to stop after 6 too (4 s) + one member of 3 s
    assert clock.eta(2.0, 1) == 7.0
    assert clock.eta(10.0, 9) == 3.0  # past the mean: this member is due now, one left


def test_progress_line_shows_elapsed_and_eta():
    out = io.StringIO()
    clock = RunClock(members=2, epochs=4)
    bar = Progress(0, clock, file=out)
    bar.on_train_begin()
    bar.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.6})
    bar.on_train_end()
    line = out.getvalue()
    assert "member 1/2" in line and "elapsed 0:00" in line and "ETA 0:00" in line and line.endswith("\n")
    assert clock.done == [(clock.done[0][0], 1)]
