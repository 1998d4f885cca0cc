"""Sequence labelling: an LSTM over the sequence and a TimeDistributed softmax tag per step (the
part-of-speech tagging tutorials' shape). The tag says whether the running sum is above zero."""
import numpy as np
from keras.layers import LSTM, Dense, Input, TimeDistributed
from keras.models import Sequential

rng = np.random.default_rng(7)
x = rng.standard_normal((400, 12, 1)).astype("float32")
tags = (np.cumsum(x[..., 0], axis=1) > 0).astype("int64")  # (400, 12)

model = Sequential([Input(shape=(None, 1)), LSTM(16, return_sequences=True),
                    TimeDistributed(Dense(2, activation="softmax"))])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x[:320], tags[:320], epochs=12, batch_size=32, verbose=0)
loss, accuracy = model.evaluate(x[320:], tags[320:], verbose=0)
assert accuracy > 0.85, accuracy
assert model.predict(x[:2], verbose=0).shape == (2, 12, 2)
