"""The "vanilla LSTM" of the most-copied univariate forecasting tutorial: LSTM(50, activation='relu')
on windows of 3 steps of an increasing sequence."""
import numpy as np
from keras.layers import LSTM, Dense
from keras.models import Sequential

raw = np.arange(10, 200, 10, dtype="float32")
X = np.array([raw[i:i + 3] for i in range(len(raw) - 3)])[..., None] / 100
y = raw[3:] / 100
model = Sequential()
model.add(LSTM(50, activation="relu", input_shape=(3, 1)))
model.add(Dense(1))
model.compile(optimizer="adam", loss="mse")
model.fit(X, y, epochs=400, verbose=0)
assert abs(float(model.predict(np.array([[[1.7], [1.8], [1.9]]]), verbose=0)[0, 0]) - 2.0) < 0.3
