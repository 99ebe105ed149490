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
