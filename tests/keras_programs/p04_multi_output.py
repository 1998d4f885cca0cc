"""A functional model with two heads (the Keras guide's multi-output style): from one LSTM
encoding, regress the sequence's mean and classify whether it trends up; losses, loss weights and
metrics keyed by output name."""
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(3)
n, T = 512, 16
slope = rng.standard_normal(n)
x = (slope[:, None] * np.linspace(0, 1, T) + 0.3 * rng.standard_normal((n, T)))[..., None]
mean = x.mean(axis=(1, 2))[:, None]
up = (slope > 0).astype("float32")[:, None]

series = keras.layers.Input(shape=(T, 1), name="series")
encoded = layers.LSTM(24)(series)
level = layers.Dense(1, name="level")(encoded)
trend = layers.Dense(1, activation="sigmoid", name="trend")(layers.Dense(8, activation="relu")(encoded))
model = keras.models.Model(inputs=series, outputs=[level, trend])
model.compile(optimizer="adam",
              loss={"level": "mse", "trend": "binary_crossentropy"},
              loss_weights={"level": 1.0, "trend": 0.5},
              metrics={"trend": ["accuracy"]})
history = model.fit(x, {"level": mean, "trend": up}, epochs=10, batch_size=32, verbose=0)

h = history.history
assert h["level_loss"][-1] < h["level_loss"][0] and h["trend_loss"][-1] < h["trend_loss"][0]
results = model.evaluate(x, [mean, up], verbose=0, return_dict=True)
assert results["trend_accuracy"] > 0.85, results
pred_level, pred_trend = model.predict(x[:4], verbose=0)
assert pred_level.shape == (4, 1) and pred_trend.shape == (4, 1)
