"""Stacked LSTMs forecasting the next value of a noisy sine wave from a window of 12 (the style of
the most-copied LSTM forecasting tutorials)."""
import numpy as np
from keras.layers import LSTM, Dense
from keras.models import Sequential

rng = np.random.default_rng(0)
t = np.arange(400)
series = np.sin(t * 2 * np.pi / 25) + 0.1 * rng.standard_normal(len(t))
n_steps = 12
X = np.array([series[i:i + n_steps] for i in range(len(series) - n_steps)])[..., None]
y = series[n_steps:]

model = Sequential()
model.add(LSTM(32, return_sequences=True, input_shape=(n_steps, 1)))
model.add(LSTM(16))
model.add(Dense(1))
model.compile(optimizer="adam", loss="mse")
history = model.fit(X, y, epochs=8, batch_size=32, verbose=0)

forecast = model.predict(X[-5:], verbose=0)
assert forecast.shape == (5, 1)
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
assert np.mean((model.predict(X, verbose=0)[:, 0] - y) ** 2) < 0.1
