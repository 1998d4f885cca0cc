"""A bidirectional LSTM text classifier over padded token ids (the keras-io IMDB example's shape,
on synthetic reviews: a review is positive when it holds more 'good' words than 'bad' ones)."""
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(1)
vocab, maxlen, n = 30, 16, 500
good, bad = np.arange(2, 6), np.arange(6, 10)
x = rng.integers(10, vocab, (n, maxlen))
lengths = rng.integers(5, maxlen + 1, n)
y = rng.integers(0, 2, n)
for i in range(n):
    x[i, rng.choice(lengths[i], 3, replace=False)] = rng.choice(good if y[i] else bad, 3)
    x[i, lengths[i]:] = 0  # padding

inputs = keras.layers.Input(shape=(None,), dtype="int64")
h = layers.Embedding(vocab, 16, mask_zero=True)(inputs)
h = layers.Bidirectional(layers.LSTM(12, return_sequences=True))(h)
h = layers.Bidirectional(layers.LSTM(8))(h)
outputs = layers.Dense(1, activation="sigmoid")(h)
model = keras.models.Model(inputs, outputs)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.summary(print_fn=lambda *a, **k: None)
history = model.fit(x[:400], y[:400], batch_size=32, epochs=10, validation_data=(x[400:], y[400:]), verbose=0)

loss, acc = model.evaluate(x[400:], y[400:], verbose=0)
assert acc > 0.8, acc
assert history.history["val_accuracy"][-1] > 0.8
