"""Text as lists of ids of different lengths, padded by keras.utils.pad_sequences (pre-padding, the
default) and with one-hot labels from keras.utils.to_categorical: a 3-class LSTM classifier."""
import numpy as np
import keras

rng = np.random.default_rng(23)
labels = rng.integers(0, 3, 450)
docs = [list(rng.integers(4, 40, rng.integers(3, 15))) + [1 + int(c)] * 2 for c in labels]
x = keras.utils.pad_sequences(docs, maxlen=16)
y = keras.utils.to_categorical(labels, num_classes=3)
assert x.shape == (450, 16) and x[int(np.argmin([len(d) for d in docs])), 0] == 0  # pre-padded
model = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Embedding(40, 16, mask_zero=True),
                          keras.layers.LSTM(24), keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss="categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x[:350], y[:350], epochs=20, batch_size=32, verbose=0)
assert model.evaluate(x[350:], y[350:], verbose=0)[1] > 0.6  # chance: 1/3
