"""CNN-LSTM: Conv1D and MaxPooling1D read local patterns, an LSTM reads the pooled sequence (the
CNN-LSTM forecasting tutorials' shape). Classify whether a series holds a spike."""
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(20)
x = rng.standard_normal((400, 32, 1)).astype("float32") * 0.3
y = np.zeros(400, dtype="float32")
y[::2] = 1
x[::2, rng.integers(0, 28), 0] += 3.0

model = keras.Sequential([keras.Input(shape=(32, 1)), layers.Conv1D(8, 3, activation="relu", padding="same"),
                          layers.MaxPooling1D(2), layers.LSTM(16), layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=8, batch_size=32, verbose=0)
assert model.evaluate(x, y, verbose=0)[1] > 0.9
