"""BLEU of translations (chapters 11 and 13): sacreBLEU's corpus BLEU and a per-sentence score."""


from __future__ import annotations

from typing import Sequence


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0–100) of detokenised ``hypotheses`` against one reference each, by sacreBLEU
    with its standard 13a tokenisation, lowercased (the references are lowercased English)."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize="13a", lowercase=True).score


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """sacreBLEU's smoothed sentence BLEU (0–100), lowercased, for ranking single translations."""
    import sacrebleu

    return sacrebleu.sentence_bleu(hypothesis, [reference], lowercase=True).score

