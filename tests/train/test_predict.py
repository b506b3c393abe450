"""Batch inference (mumo.train.predict): the order in which rows are batched, each row keeping its value."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mumo.model import get_preset
from mumo.train import predict


@pytest.mark.parametrize("in_dataset_order", [True, False])
def test_user_predictions_are_batched_as_the_model_was_evaluated(monkeypatch, lengths_only, in_dataset_order):
    """A paper-quirk model predicts consecutive rows together, as the paper did; each row keeps its value."""
    batches = []

    def fake_predict_batch(model, dataset, indices, device):
        batches.append(list(indices))
        return np.asarray(indices, dtype=float)[:, None]

    monkeypatch.setattr(predict, "predict_batch", fake_predict_batch)
    lengths = np.array([9, 3, 7, 3, 12])
    model = SimpleNamespace(config=get_preset("tiny", eval_in_dataset_order=in_dataset_order))
    values, failures = predict.predict_isolating_failures(
        model, lengths_only(lengths), 2, torch.device("cpu"), 1
    )
    np.testing.assert_array_equal(values[:, 0], np.arange(len(lengths)))
    assert failures == {}
    assert batches == ([[0, 1], [2, 3], [4]] if in_dataset_order else [[1, 3], [2, 0], [4]])
