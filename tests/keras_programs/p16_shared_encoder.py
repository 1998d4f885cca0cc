"""A siamese model: one Sequential LSTM encoder used as a layer on two inputs (a nested model with
shared weights), the absolute difference of the encodings classified as same / different."""
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(16)
n, T = 512, 10
freq_a, freq_b = rng.integers(1, 4, n), rng.integers(1, 4, n)
t = np.linspace(0, 2 * np.pi, T)
a = np.sin(freq_a[:, None] * t + rng.uniform(0, 0.3, (n, 1)))[..., None]
b = np.sin(freq_b[:, None] * t + rng.uniform(0, 0.3, (n, 1)))[..., None]
same = (freq_a == freq_b).astype("float32")

encoder = keras.models.Sequential([layers.Input(shape=(T, 1)), layers.LSTM(16), layers.Dense(8)], name="encoder")
left, right = layers.Input(shape=(T, 1)), layers.Input(shape=(T, 1))
joined = layers.Concatenate()([encoder(left), encoder(right)])
out = layers.Dense(1, activation="sigmoid")(layers.Dense(16, activation="relu")(joined))
model = keras.models.Model([left, right], out)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit([a, b], same, epochs=25, batch_size=32, verbose=0)
_, accuracy = model.evaluate([a, b], same, verbose=0)
assert accuracy > 0.8, accuracy  # always 'different' scores about 0.67
assert model.count_params() == encoder.count_params() + (16 * 16 + 16) + (16 + 1)  # one encoder, shared
