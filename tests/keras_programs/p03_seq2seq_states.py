"""Character-level sequence to sequence, as in the keras-io `lstm_seq2seq` example: the encoder's
final states start the decoder (teacher forcing in training); then separate encoder and decoder
inference models are rebuilt from the trained model's layers and decode greedily.
The toy task: reverse a string of 4 letters."""
import numpy as np
import keras

rng = np.random.default_rng(2)
letters = "abcd"
tokens = ["\t", "\n", *letters]  # start, end, letters
index = {c: k for k, c in enumerate(tokens)}
num_tokens, latent_dim, n = len(tokens), 32, 800
inputs = ["".join(rng.choice(list(letters), 4)) for _ in range(n)]
targets = ["\t" + s[::-1] + "\n" for s in inputs]

encoder_input_data = np.zeros((n, 4, num_tokens), dtype="float32")
decoder_input_data = np.zeros((n, 6, num_tokens), dtype="float32")
decoder_target_data = np.zeros((n, 6, num_tokens), dtype="float32")
for i, (a, b) in enumerate(zip(inputs, targets)):
    for t, c in enumerate(a):
        encoder_input_data[i, t, index[c]] = 1.0
    for t, c in enumerate(b):
        decoder_input_data[i, t, index[c]] = 1.0
        if t > 0:
            decoder_target_data[i, t - 1, index[c]] = 1.0
    decoder_target_data[i, 5, index["\n"]] = 1.0

encoder_inputs = keras.layers.Input(shape=(None, num_tokens))
encoder = keras.layers.LSTM(latent_dim, return_state=True)
encoder_outputs, state_h, state_c = encoder(encoder_inputs)
encoder_states = [state_h, state_c]
decoder_inputs = keras.layers.Input(shape=(None, num_tokens))
decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
decoder_dense = keras.layers.Dense(num_tokens, activation="softmax")
decoder_outputs = decoder_dense(decoder_outputs)
model = keras.models.Model([encoder_inputs, decoder_inputs], decoder_outputs)
model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit([encoder_input_data, decoder_input_data], decoder_target_data, batch_size=32, epochs=30,
          validation_split=0.2, verbose=0)

# inference: rebuild the encoder and the decoder from the trained layers
encoder_inputs = model.input[0]
encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output
encoder_model = keras.models.Model(encoder_inputs, [state_h_enc, state_c_enc])
decoder_inputs = model.input[1]
decoder_state_input_h = keras.layers.Input(shape=(latent_dim,))
decoder_state_input_c = keras.layers.Input(shape=(latent_dim,))
decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
decoder_lstm = model.layers[3]
decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(decoder_inputs, initial_state=decoder_states_inputs)
decoder_dense = model.layers[4]
decoder_outputs = decoder_dense(decoder_outputs)
decoder_model = keras.models.Model([decoder_inputs] + decoder_states_inputs, [decoder_outputs, state_h_dec, state_c_dec])


def decode_sequence(input_seq):
    states_value = encoder_model.predict(input_seq, verbose=0)
    target_seq = np.zeros((1, 1, num_tokens), dtype="float32")
    target_seq[0, 0, index["\t"]] = 1.0
    decoded = ""
    while len(decoded) < 6:
        output_tokens, h, c = decoder_model.predict([target_seq] + states_value, verbose=0)
        sampled = tokens[int(np.argmax(output_tokens[0, -1, :]))]
        if sampled == "\n":
            break
        decoded += sampled
        target_seq = np.zeros((1, 1, num_tokens), dtype="float32")
        target_seq[0, 0, index[sampled]] = 1.0
        states_value = [h, c]
    return decoded


right = sum(decode_sequence(encoder_input_data[i:i + 1]) == inputs[i][::-1] for i in range(700, 720))
assert right >= 8, right  # chance is 1 in 256 per string
