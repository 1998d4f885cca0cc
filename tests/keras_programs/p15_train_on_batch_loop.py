"""A hand-written training loop with train_on_batch / test_on_batch / predict_on_batch, as the
GAN and custom-loop tutorials write it."""
import numpy as np
from keras.layers import LSTM, Dense, Input
from keras.models import Sequential

rng = np.random.default_rng(15)
model = Sequential([Input(shape=(5, 3)), LSTM(8), Dense(1)])
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
x_val = rng.standard_normal((64, 5, 3)).astype("float32")
y_val = x_val[:, :, 0].sum(axis=1, keepdims=True)
first = model.test_on_batch(x_val, y_val)
for step in range(300):
    xb = rng.standard_normal((32, 5, 3)).astype("float32")
    loss, mae = model.train_on_batch(xb, xb[:, :, 0].sum(axis=1, keepdims=True))
last = model.test_on_batch(x_val, y_val, return_dict=True)
assert set(last) == {"loss", "mae"} and last["loss"] < 0.5 * first[0], (first, last)
assert model.predict_on_batch(x_val[:7]).shape == (7, 1)
