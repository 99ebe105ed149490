"""dlbook.metrics."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.metrics import confusion_matrix


def test_confusion_matrix_counts_true_against_predicted():
    matrix = confusion_matrix([0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 0], num_classes=3)
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 1], [1, 0, 2]])
    assert matrix.sum() == 6


def test_confusion_matrix_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix([0, 1], [0], num_classes=2)


def test_confident_share():
    from dlbook.metrics import confident_share

    probabilities = [[0.95, 0.05], [0.6, 0.4], [0.1, 0.9], [0.5, 0.5]]
    assert confident_share(probabilities) == 0.5
    assert confident_share(probabilities, threshold=0.5) == 1.0


def test_class_entropy_is_log_k_when_balanced_and_zero_when_collapsed():
    from dlbook.metrics import class_entropy

    balanced = np.eye(10)[np.arange(100) % 10]
    assert class_entropy(balanced) == pytest.approx(np.log(10))
    collapsed = np.eye(10)[np.zeros(100, dtype=int)]
    assert class_entropy(collapsed) == 0.0
    two_classes = np.eye(10)[np.arange(100) % 2]
    assert class_entropy(two_classes) == pytest.approx(np.log(2))


def test_label_agreement_compares_the_most_likely_class_with_the_label():
    from dlbook.metrics import label_agreement

    probabilities = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.4, 0.35, 0.25]]
    assert label_agreement(probabilities, [0, 2, 1, 1]) == 0.75
    assert label_agreement(probabilities, np.array([[1], [0], [0], [0]])) == 0.25  # labels as a column
    assert label_agreement(probabilities, [0, 2, 1, 0]) == 1.0


def test_label_agreement_rejects_mismatched_inputs():
    from dlbook.metrics import label_agreement

    with pytest.raises(ValueError, match="one row of class probabilities per label"):
        label_agreement([[0.5, 0.5], [0.9, 0.1]], [0, 1, 1])
    with pytest.raises(ValueError, match="one row of class probabilities per label"):
        label_agreement([0.5, 0.5], [0, 1])


def test_frechet_distance_of_gaussians():
    from dlbook.metrics import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shifted = a + np.array([3.0, 0.0, 0.0])
    assert frechet_distance(a, shifted) == pytest.approx(9.0, rel=1e-6)  # |mu_a - mu_b|^2, same covariance
    scaled = rng.normal(size=(20000, 3)) * 2.0
    # N(0, I) vs N(0, 4I): 3 * (1 + 4 - 2 * 2) = 3
    assert frechet_distance(a, scaled) == pytest.approx(3.0, rel=0.05)


def test_recognised_share_needs_confidence_in_the_given_label():
    from dlbook.metrics import recognised_share

    probabilities = [[0.95, 0.05], [0.95, 0.05], [0.6, 0.4], [0.05, 0.95]]
    assert recognised_share(probabilities, [0, 1, 0, 1]) == 0.5   # sure of the label: rows 0 and 3
    assert recognised_share(probabilities, [0, 1, 0, 1], threshold=0.5) == 0.75
    # A classifier sure of class 0 for everything recognises only the images asked to be a 0.
    assert recognised_share(np.eye(10)[np.zeros(100, dtype=int)], np.arange(100) % 10) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="one row of class probabilities per label"):
        recognised_share(probabilities, [0, 1])
