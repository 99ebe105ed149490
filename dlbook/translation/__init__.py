"""Chinese → English translation: chapters 11 (recurrent, with attention) and 13 (the Transformer).

``datasets``     Tatoeba pairs, tokens, the leak-free split, length-bucketed batches
``bleu``         sacreBLEU's corpus BLEU and a per-sentence score
``losses``       cross-entropy with label smoothing over the target words
``rnn``          the GRU encoder–decoder with or without attention (chapter 11)
``transformer``  attention from its formula, positional encodings, the Transformer (chapter 13)
``search``       greedy decoding and beam search, batched
``recipes``      each translator's recipe, training, evaluation and model cache
"""
