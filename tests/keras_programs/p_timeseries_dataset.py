"""Windows made by keras.utils.timeseries_dataset_from_array, as in the keras-io weather
forecasting example, fed straight to fit / evaluate / predict."""
import numpy as np
import keras

series = np.sin(np.arange(600) / 8).astype("float32")[:, None]
seq = 16
train = keras.utils.timeseries_dataset_from_array(series[:-seq], series[seq:, 0], sequence_length=seq,
                                                  batch_size=32, end_index=450)
val = keras.utils.timeseries_dataset_from_array(series[:-seq], series[seq:, 0], sequence_length=seq,
                                                batch_size=32, start_index=450)
model = keras.Sequential([keras.Input(shape=(seq, 1)), keras.layers.LSTM(16), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
history = model.fit(train, epochs=6, validation_data=val, verbose=0)
assert history.history["val_loss"][-1] < 0.2 * history.history["val_loss"][0]
assert model.evaluate(val, verbose=0) < 0.05
