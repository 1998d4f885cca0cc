"""Multivariate, multi-step forecasting (the "vector output" LSTM tutorial): 3 input series, the
next 4 values of the first one predicted at once, validation_split and EarlyStopping-free history."""
import numpy as np
from keras.layers import LSTM, Dense, Dropout
from keras.models import Sequential

rng = np.random.default_rng(17)
t = np.arange(700)
data = np.stack([np.sin(t / 10), np.cos(t / 15), 0.1 * rng.standard_normal(len(t))], axis=1)
n_in, n_out = 16, 4
X = np.array([data[i:i + n_in] for i in range(len(t) - n_in - n_out)])
Y = np.array([data[i + n_in:i + n_in + n_out, 0] for i in range(len(t) - n_in - n_out)])

model = Sequential([LSTM(32, input_shape=(n_in, 3)), Dropout(0.1), Dense(n_out)])
model.compile(optimizer="adam", loss="mse")
history = model.fit(X, Y, epochs=8, batch_size=32, validation_split=0.2, shuffle=True, verbose=0)
val = history.history["val_loss"]
assert len(val) == 8 and val[-1] < 0.2 * val[0], val
assert model.predict(X[-1:], verbose=0).shape == (1, n_out)
