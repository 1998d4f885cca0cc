"""Character-level text generation (the keras-io `text_generation_with_miniature_gpt` / classic
char-LSTM style): predict the next character from the previous 8, then sample greedily."""
import numpy as np
from keras.layers import LSTM, Dense, Embedding
from keras.models import Sequential

text = "the quick brown fox jumps over the lazy dog. " * 12
chars = sorted(set(text))
index = {c: k for k, c in enumerate(chars)}
maxlen = 8
ids = np.array([index[c] for c in text])
x = np.array([ids[i:i + maxlen] for i in range(len(ids) - maxlen)])
y = ids[maxlen:]

model = Sequential([Embedding(len(chars), 16), LSTM(64), Dense(len(chars), activation="softmax")])
model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(x, y, batch_size=64, epochs=40, verbose=0)
assert history.history["accuracy"][-1] > 0.9, history.history["accuracy"][-1]  # chance: about 1/28

seed = list(ids[:maxlen])
generated = ""
for _ in range(20):
    probs = model.predict(np.array([seed[-maxlen:]]), verbose=0)[0]
    nxt = int(np.argmax(probs))
    generated += chars[nxt]
    seed.append(nxt)
assert len(generated) == 20 and set(generated) <= set(chars), generated
