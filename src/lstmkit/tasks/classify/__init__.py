"""Text classification and sentiment: `train(data, Config(...))` -> Classifier; `evaluate`."""
from .config import Config
from .pipeline import Classifier, evaluate, split, train

__all__ = ["Classifier", "Config", "evaluate", "split", "train"]
