"""Train, save the whole model to a .keras file and the weights to a .weights.h5 file, load both
back and check that they predict exactly what the trained model does."""
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(10)
x = rng.standard_normal((200, 6, 2)).astype("float32")
y = x.sum(axis=(1, 2))[:, None]

model = keras.models.Sequential([layers.Input(shape=(6, 2)), layers.LSTM(12), layers.Dense(1)], name="summer")
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3, verbose=0)
model.save("summer.keras")
model.save_weights("summer.weights.h5")

restored = keras.models.load_model("summer.keras")
assert np.allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
twin = keras.models.Sequential([layers.Input(shape=(6, 2)), layers.LSTM(12), layers.Dense(1)])
twin.load_weights("summer.weights.h5")
assert np.allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
