"""Training with the callbacks tutorials reach for: EarlyStopping with restore_best_weights,
ModelCheckpoint of the best model, LearningRateScheduler and TerminateOnNaN."""
import numpy as np
import keras

rng = np.random.default_rng(22)
x = rng.standard_normal((300, 8, 1)).astype("float32")
y = x.sum(axis=(1, 2))[:, None]
model = keras.Sequential([keras.Input(shape=(8, 1)), keras.layers.LSTM(12), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
             keras.callbacks.ModelCheckpoint("best.keras", monitor="val_loss", save_best_only=True),
             keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch < 5 else lr * 0.9),
             keras.callbacks.TerminateOnNaN()]
history = model.fit(x, y, epochs=30, validation_split=0.2, callbacks=callbacks, verbose=0)
assert min(history.history["val_loss"]) < history.history["val_loss"][0]
best = keras.models.load_model("best.keras")
assert np.isclose(best.evaluate(x[240:], y[240:], verbose=0), min(history.history["val_loss"]), rtol=1e-3)
