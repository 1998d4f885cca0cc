"""Variable-length float sequences padded with zeros and skipped by a Masking layer: classify
whether a sequence's values sum to more than zero."""
import numpy as np
from keras.layers import LSTM, Dense, Masking
from keras.models import Sequential

rng = np.random.default_rng(5)
n, T = 600, 15
x = np.zeros((n, T, 2), dtype="float32")
y = np.zeros((n, 1), dtype="float32")
for i in range(n):
    length = rng.integers(3, T + 1)
    values = rng.standard_normal((length, 2)) + 0.01
    x[i, :length] = values
    y[i] = float(values[:, 0].sum() > 0)

model = Sequential([Masking(mask_value=0.0, input_shape=(None, 2)), LSTM(16), Dense(1, activation="sigmoid")])
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x[:500], y[:500], epochs=12, batch_size=32, verbose=0)
_, accuracy = model.evaluate(x[500:], y[500:], verbose=0)
assert accuracy > 0.8, accuracy
# padding changes nothing: a sequence and its padded copy give the same prediction
short = x[500:501, :3]
assert np.allclose(model.predict(short, verbose=0), model.predict(np.pad(short, ((0, 0), (0, 12), (0, 0))),
                                                                   verbose=0), atol=1e-5)
