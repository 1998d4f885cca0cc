"""How much training a forecast run gets, as functions of how much data it has.

A run's cost is windows seen per epoch x epochs x ensemble members. Left fixed, a year of hourly data
(about 7,000 training windows) costs a hundred times what AirPassengers (about 70) does. So each of
the three follows the data instead:

- windows per epoch: all of them up to `EPOCH_WINDOWS`; beyond, an epoch is that many windows drawn
  from a stream that reshuffles the training windows after every full pass (every window is still
  seen, over several epochs), so early stopping checks the validation loss at the same pace in
  training windows whatever the series' length;
- ensemble members: `MEMBER_WINDOWS / n` rounded, between 1 and the cap (3): averaging members
  helps most where data is scarce and each member is noisy; a long series gets one;
- patience: `PATIENCE_WINDOWS / windows per epoch` epochs, between 10 and the cap (60): 60 epochs
  up to 1,200 windows an epoch, then about the same number of training windows without improvement
  (35 epochs of 2,048); a patience of 10 on a series of 1,200 windows stopped too early (MSFT: MASE
  1.030 against 0.987 with 60);
- epochs: at most `TOTAL_WINDOWS / windows per epoch` (and the configured bound): a ceiling on one
  member's cost that only long series reach (a year of hourly windows: 48 epochs of 2,048).

The constants were set so that AirPassengers (73 training windows) keeps the previous defaults
(all windows, 3 members, patience 60) exactly.

Example:
    >>> epoch_windows(73), ensemble_size(73), patience_epochs(73)
    (73, 3, 60)
    >>> epoch_windows(7000), ensemble_size(7000), patience_epochs(2048), max_epochs(2048, 300)
    (2048, 1, 35, 48)
"""
EPOCH_WINDOWS = 2048   # windows per epoch at most
MEMBER_WINDOWS = 6000  # ensemble members = this / training windows, rounded, within [1, cap]
PATIENCE_WINDOWS = 72_000  # patience in epochs = this / windows per epoch, within [10, cap]
TOTAL_WINDOWS = 100_000  # training windows one member sees at most


def epoch_windows(n_windows: int, budget: int | None = EPOCH_WINDOWS) -> int:
    """Training windows seen per epoch: all of them, or `budget` when there are more (None: all).

    Example:
        >>> epoch_windows(100), epoch_windows(5000), epoch_windows(5000, None)
        (100, 2048, 5000)
    """
    return n_windows if budget is None else min(n_windows, budget)


def ensemble_size(n_windows: int, cap: int = 3) -> int:
    """Members for `n_windows` training windows: round(MEMBER_WINDOWS / n) within [1, cap].

    Example:
        >>> [ensemble_size(n) for n in (80, 2200, 4000, 8000)]
        [3, 3, 2, 1]
    """
    return max(1, min(cap, round(MEMBER_WINDOWS / max(1, n_windows))))


def patience_epochs(windows_per_epoch: int, cap: int = 60) -> int:
    """Epochs without a better validation loss before stopping: PATIENCE_WINDOWS / windows per epoch
    within [min(10, cap), cap].

    Example:
        >>> [patience_epochs(n) for n in (73, 1200, 2048, 8000)]
        [60, 60, 35, 10]
    """
    return max(min(10, cap), min(cap, round(PATIENCE_WINDOWS / max(1, windows_per_epoch))))


def max_epochs(windows_per_epoch: int, cap: int) -> int:
    """The epoch bound: TOTAL_WINDOWS / windows per epoch, at most `cap` (the configured epochs).

    Example:
        >>> [max_epochs(n, 300) for n in (73, 1200, 2048)]
        [300, 83, 48]
    """
    return max(1, min(cap, TOTAL_WINDOWS // max(1, windows_per_epoch)))
