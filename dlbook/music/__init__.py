"""Music: chapter 10's counting networks, the book's event model and the chorale LSTM.

``midi``       notes, MIDI files and sound (a small synthesiser)
``pianoroll``  the JSB Chorales as piano rolls, transposition, the frame NLL and its baselines
``events``     the book's note events: MIDI ``note_on`` messages as three one-hot classes
``counting``   strings 0ⁿ1ⁿ, tiny RNN and LSTM counters, gate traces
``composer``   the event model, the chorale LSTM, sampling with a temperature
"""
