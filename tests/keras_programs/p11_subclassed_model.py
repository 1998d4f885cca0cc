"""A subclassed model (the Keras guide's `class MyModel(keras.Model)` with `call`), trained with
compile and fit like any other."""
import numpy as np
import keras
from keras import layers


class Forecaster(keras.models.Model):
    def __init__(self, units=16, **kwargs):
        super().__init__(**kwargs)
        self.lstm = layers.LSTM(units)
        self.dropout = layers.Dropout(0.1)
        self.out = layers.Dense(1)

    def call(self, inputs, training=None):
        return self.out(self.dropout(self.lstm(inputs)))


rng = np.random.default_rng(11)
x = rng.standard_normal((256, 8, 1)).astype("float32")
y = x[:, -3:, 0].mean(axis=1, keepdims=True)
model = Forecaster(name="forecaster")
model.compile(optimizer="adam", loss="mse")
history = model.fit(x, y, epochs=20, batch_size=32, verbose=0)
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0], history.history["loss"]
assert model.predict(x[:5], verbose=0).shape == (5, 1)
