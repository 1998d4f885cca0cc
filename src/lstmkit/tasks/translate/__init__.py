"""Machine translation: `train(pairs, Config(...))` -> Translator; `evaluate`."""
from .config import Config
from .pipeline import Translator, evaluate, split, train

__all__ = ["Config", "Translator", "evaluate", "split", "train"]
