"""An imbalanced binary sequence classifier: class_weight (as the imbalanced-data tutorial
computes it) makes the rare class count, and sample_weight of zero removes samples from the loss."""
import numpy as np
from keras.layers import LSTM, Dense
from keras.models import Sequential

rng = np.random.default_rng(14)
n = 600
x = rng.standard_normal((n, 10, 1)).astype("float32")
y = (x[:, :, 0].max(axis=1) > 2.0).astype("float32")  # about 10% positives
neg, pos = np.bincount(y.astype(int))
class_weight = {0: (1 / neg) * n / 2.0, 1: (1 / pos) * n / 2.0}


def recall(model):
    p = model.predict(x, verbose=0)[:, 0] > 0.5
    return (p & (y == 1)).sum() / (y == 1).sum()


weighted = Sequential([LSTM(16, input_shape=(10, 1)), Dense(1, activation="sigmoid")])
weighted.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
weighted.fit(x, y, epochs=10, batch_size=32, class_weight=class_weight, verbose=0)
assert recall(weighted) > 0.6, recall(weighted)

masked = Sequential([LSTM(4, input_shape=(10, 1)), Dense(1, activation="sigmoid")])
masked.compile(optimizer="adam", loss="binary_crossentropy")
w = np.ones(n)
w[:300] = 0.0  # Keras' sum_over_batch_size: zero-weight samples still count in the denominator
rest = masked.evaluate(x[300:], y[300:], verbose=0)
assert np.isclose(masked.evaluate(x, y, sample_weight=w, verbose=0), rest * 300 / n, rtol=1e-5)
assert np.isclose(masked.evaluate(x, y, sample_weight=2 * np.ones(n), verbose=0),
                  2 * masked.evaluate(x, y, verbose=0), rtol=1e-5)
