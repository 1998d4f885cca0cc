"""Errors a user can cause. The CLI prints them as one line and exits with status 2."""


class LstmkitError(ValueError):
    """Bad input: names the argument, what was expected and what was received."""


class KernelUnavailable(LstmkitError):
    """A kernel asked for by name cannot run the requested configuration."""


class ModelFileError(LstmkitError):
    """A model directory is missing, truncated, corrupted or not written by lstmkit."""


class DataError(LstmkitError):
    """A data file or data set cannot be used as given."""


class DataWarning(UserWarning):
    """Entries of a data file were skipped (say, rows with an empty text); the message lists them.
    The CLI prints it as one line on stderr."""
