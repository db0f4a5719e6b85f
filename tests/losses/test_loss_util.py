import pytest
import torch

from basicsr.losses.loss_util import weight_reduce_loss, weighted_loss


@weighted_loss
def absolute_error(pred, target):
    return (pred - target).abs()


def test_weighted_loss_reduces_elementwise_loss_by_mean_sum_or_none():
    pred = torch.tensor([0.0, 2.0, 3.0])
    target = torch.tensor([1.0, 1.0, 1.0])
    assert absolute_error(pred, target).item() == pytest.approx(4 / 3)
    assert absolute_error(pred, target, reduction='sum').item() == pytest.approx(4)
    assert torch.equal(absolute_error(pred, target, reduction='none'), torch.tensor([1.0, 1.0, 2.0]))


def test_weighted_mean_averages_over_the_weighted_region_only():
    pred = torch.tensor([0.0, 2.0, 3.0])
    target = torch.tensor([1.0, 1.0, 1.0])
    weight = torch.tensor([1.0, 0.0, 1.0])
    assert absolute_error(pred, target, weight).item() == pytest.approx((1 + 2) / 2)
    assert absolute_error(pred, target, weight, reduction='sum').item() == pytest.approx(3)


def test_single_channel_weight_counts_once_per_loss_channel():
    loss = torch.arange(12, dtype=torch.float32).reshape(1, 3, 2, 2)
    weight = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    expected = (loss * weight).sum() / (weight.sum() * 3)
    assert torch.allclose(weight_reduce_loss(loss, weight, 'mean'), expected)


def test_weight_with_wrong_channel_count_is_rejected():
    with pytest.raises(ValueError, match='channels'):
        weight_reduce_loss(torch.ones(1, 3, 2, 2), torch.ones(1, 2, 2, 2))


def test_unknown_reduction_is_rejected():
    with pytest.raises(ValueError, match='reduction'):
        absolute_error(torch.ones(2), torch.zeros(2), reduction='average')
