"""Evaluation measures that chapters share, in NumPy."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts ``matrix[true, predicted]`` of integer labels."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.shape} vs {y_pred.shape}.")
    matrix = np.zeros((num_classes, num_classes), dtype="int64")
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def confident_share(probabilities, threshold: float = 0.9) -> float:
    """Share of samples whose most likely class has probability at least ``threshold``, whatever
    the class (see :func:`recognised_share` for confidence in a given label)."""
    probabilities = np.asarray(probabilities, dtype="float64")
    return float(np.mean(probabilities.max(axis=1) >= threshold))


def recognised_share(probabilities, labels, threshold: float = 0.9) -> float:
    """Share of samples classified as their given label with probability at least ``threshold``.

    For a conditional generator: the share of its images that a classifier recognises, with
    confidence, as the digit asked for. Unlike :func:`confident_share` it cannot be earned by
    images a classifier is merely sure about: a classifier trained on digits is often certain of
    some class for pure noise, which then scores only the share of labels that class matches.
    """
    probabilities, labels = _checked(probabilities, labels)
    recognised = probabilities[np.arange(len(labels)), labels] >= threshold
    return float(np.mean(recognised))


def _checked(probabilities, labels):
    probabilities, labels = np.asarray(probabilities, dtype="float64"), np.asarray(labels).ravel()
    if probabilities.ndim != 2 or len(probabilities) != len(labels):
        raise ValueError(
            f"Expected probabilities of shape (n, num_classes) and n labels, got {probabilities.shape} "
            f"and {labels.shape}; pass one row of class probabilities per label."
        )
    return probabilities, labels.astype("int64")


def label_agreement(probabilities, labels) -> float:
    """Share of samples whose most likely class is the given label.

    For a conditional generator, ``labels`` are the digits it was asked for and ``probabilities``
    a classifier's verdict on its images: the share drawn as the requested digit.
    """
    probabilities, labels = _checked(probabilities, labels)
    return float(np.mean(probabilities.argmax(axis=1) == labels))


def class_entropy(probabilities) -> float:
    """Entropy (nats) of the histogram of predicted classes: ``log(num_classes)`` when balanced.

    For an *unconditional* generator, low values mean it draws only a few classes (mode
    collapse). It cannot see collapse within a class (a generator drawing one "3" well scores like
    one drawing every kind of "3"), and for a conditional generator asked for every label equally
    often it is near ``log(num_classes)`` whenever the labels are obeyed (see
    :func:`label_agreement`).
    """
    probabilities = np.asarray(probabilities)
    counts = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1])
    shares = counts[counts > 0] / counts.sum()
    return float(-(shares * np.log(shares)).sum())


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors.

    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``: the FID formula, here on whatever
    features are given (chapter 08 uses its digit classifier's penultimate layer). The trace of
    the matrix square root is the sum of the square roots of the eigenvalues of ``S_a S_b``.
    """
    a, b = np.asarray(features_a, dtype="float64"), np.asarray(features_b, dtype="float64")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b).real.clip(min=0)
    trace_sqrt = np.sqrt(eigenvalues).sum()
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)
