"""A functional model with two inputs (the Keras guide's multi-input style): a sales series read by
an LSTM, and the month as a one-hot vector through a Dense layer, joined by Concatenate."""
import numpy as np
import keras
from keras.layers import LSTM, Concatenate, Dense, Input

rng = np.random.default_rng(8)
n = 480
month = rng.integers(0, 12, n)
season = np.sin(month * 2 * np.pi / 12)
history_x = (rng.standard_normal((n, 8)) * 0.2 + np.linspace(0, 1, 8))[..., None]
y = history_x[:, -1, 0] + season + 0.05 * rng.standard_normal(n)

series_in = Input(shape=(8, 1), name="series")
month_in = Input(shape=(12,), name="month")
joined = Concatenate()([LSTM(16)(series_in), Dense(8, activation="relu")(month_in)])
out = Dense(1)(Dense(16, activation="relu")(joined))
model = keras.models.Model(inputs=[series_in, month_in], outputs=out)
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
onehot = np.eye(12)[month]
history = model.fit([history_x, onehot], y, epochs=25, batch_size=32, validation_split=0.2, verbose=0)
assert history.history["val_loss"][-1] < 0.3 * history.history["val_loss"][0], history.history["val_loss"]
by_name = model.predict({"series": history_x[:3], "month": onehot[:3]}, verbose=0)
assert np.allclose(by_name, model.predict([history_x[:3], onehot[:3]], verbose=0))
