"""An LSTM autoencoder that reconstructs each time step through a narrow recurrent bottleneck
(LSTM -> LSTM -> TimeDistributed(Dense)); the reconstruction error falls and the encoder alone is
then used, through get_layer, as a feature extractor."""
import numpy as np
import keras
from keras.layers import LSTM, Dense, Input, TimeDistributed

rng = np.random.default_rng(12)
t = np.linspace(0, 2 * np.pi, 20)
x = np.sin(t[None, :] * rng.uniform(0.5, 1.5, (300, 1)) + rng.uniform(0, 6, (300, 1)))[..., None]

inputs = Input(shape=(20, 1))
encoded = LSTM(8, return_sequences=True, name="encoder")(inputs)
decoded = LSTM(16, return_sequences=True)(encoded)
outputs = TimeDistributed(Dense(1))(decoded)
autoencoder = keras.models.Model(inputs, outputs)
autoencoder.compile(optimizer="adam", loss="mse")
history = autoencoder.fit(x, x, epochs=12, batch_size=32, verbose=0)
assert history.history["loss"][-1] < 0.3 * history.history["loss"][0], history.history["loss"]

encoder = keras.models.Model(autoencoder.input, autoencoder.get_layer("encoder").output)
assert encoder.predict(x[:4], verbose=0).shape == (4, 20, 8)
