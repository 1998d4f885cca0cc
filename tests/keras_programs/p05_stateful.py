"""A stateful LSTM reading a long series one chunk at a time (the classic stateful tutorial): the
state carries from batch to batch, fit runs without shuffling, and the state is reset by hand
after every pass over the series."""
import numpy as np
from keras.layers import LSTM, Dense, Input
from keras.models import Sequential

rng = np.random.default_rng(4)
batch_size, chunk = 8, 10
series = np.sin(np.arange(batch_size * 20 * chunk + 1) * 0.3)
x = series[:-1].reshape(batch_size, -1, chunk).transpose(1, 0, 2).reshape(-1, chunk, 1)  # streams
y = series[1:].reshape(batch_size, -1, chunk).transpose(1, 0, 2)[:, :, -1].reshape(-1, 1)

model = Sequential([Input(batch_shape=(batch_size, chunk, 1)), LSTM(16, stateful=True), Dense(1)])
model.compile(optimizer="adam", loss="mse")
losses = []
for epoch in range(6):
    history = model.fit(x, y, epochs=1, batch_size=batch_size, shuffle=False, verbose=0)
    losses.append(history.history["loss"][0])
    model.layers[0].reset_states()

assert losses[-1] < 0.5 * losses[0], losses
model.reset_states()
assert model.predict(x[:batch_size], batch_size=batch_size, verbose=0).shape == (batch_size, 1)
