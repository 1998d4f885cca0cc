"""The LSTM autoencoder of the "LSTM autoencoders" tutorial: encode to one vector, RepeatVector it
over time, decode with an LSTM and a TimeDistributed Dense."""
import numpy as np
import keras
from keras.layers import LSTM, Dense, RepeatVector, TimeDistributed

rng = np.random.default_rng(21)
t = np.linspace(0, 2 * np.pi, 12)
x = np.sin(t[None] + rng.uniform(0, 6, (300, 1)))[..., None].astype("float32")
model = keras.Sequential([keras.Input(shape=(12, 1)), LSTM(16), RepeatVector(12),
                          LSTM(16, return_sequences=True), TimeDistributed(Dense(1))])
model.compile(optimizer="adam", loss="mse")
history = model.fit(x, x, epochs=15, batch_size=32, verbose=0)
assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
