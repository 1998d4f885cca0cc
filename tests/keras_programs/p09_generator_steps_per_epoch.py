"""Training from a Python generator that yields batches forever, with steps_per_epoch, as the
generator tutorials do; then evaluate and predict from arrays."""
import numpy as np
from keras.layers import LSTM, Dense
from keras.models import Sequential

rng = np.random.default_rng(9)


def batches(batch_size=32):
    while True:
        x = rng.uniform(-1, 1, (batch_size, 10, 1)).astype("float32")
        yield x, x.max(axis=1)  # target: the largest value seen


model = Sequential([LSTM(16, input_shape=(10, 1)), Dense(1)])
model.compile(optimizer="adam", loss="mse")
history = model.fit(batches(), steps_per_epoch=20, epochs=8, verbose=0)
assert len(history.history["loss"]) == 8
assert history.history["loss"][-1] < 0.3 * history.history["loss"][0], history.history["loss"]
x_test, y_test = next(batches(200))
assert model.evaluate(x_test, y_test, verbose=0) < 0.05
assert model.predict(x_test, verbose=0).shape == (200, 1)
