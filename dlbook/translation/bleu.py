"""BLEU of translations (chapters 11 and 13): sacreBLEU's corpus BLEU and a per-sentence score.

Both are lowercased (the translators write lowercase English) with sacreBLEU's standard 13a
tokenisation and one reference per sentence; :func:`signature` is sacreBLEU's description of
exactly that, which a reported score should carry (Post 2018).
"""


from __future__ import annotations

from typing import Sequence

SETTINGS = dict(tokenize="13a", lowercase=True)


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0–100) of detokenised ``hypotheses`` against one reference each, by sacreBLEU
    with its standard 13a tokenisation, lowercased (the references are lowercased English)."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return sacrebleu.corpus_bleu(list(hypotheses), [list(references)], **SETTINGS).score


def signature() -> str:
    """sacreBLEU's signature of :func:`bleu`, e.g. ``nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:2.5.1``
    (``case:lc``: lowercased)."""
    import sacrebleu

    metric = sacrebleu.BLEU(**SETTINGS)
    metric.corpus_score(["a"], [["a"]])  # the signature counts the reference streams of a scoring
    return str(metric.get_signature())


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """sacreBLEU's smoothed sentence BLEU (0–100), lowercased, for ranking single translations."""
    import sacrebleu

    return sacrebleu.sentence_bleu(hypothesis, [reference], lowercase=True).score
