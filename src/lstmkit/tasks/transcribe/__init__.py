"""Speech recognition (`train(utterances, Config(...))` -> Transcriber; `evaluate`) and spoken-digit
classification (`digits`)."""
from .config import Config
from .pipeline import Transcriber, evaluate, score, split, train, train_on

__all__ = ["Config", "Transcriber", "evaluate", "score", "split", "train", "train_on"]
