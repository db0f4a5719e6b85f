import numpy as np
import pytest

from basicsr.metrics.metric_util import better_is, reorder_image, to_y_channel


def test_reorder_image_returns_hwc():
    chw = np.zeros((3, 4, 5))
    assert reorder_image(chw, input_order='CHW').shape == (4, 5, 3)
    assert reorder_image(np.zeros((4, 5)), input_order='HWC').shape == (4, 5, 1)
    with pytest.raises(ValueError, match='input_order'):
        reorder_image(chw, input_order='NCHW')


def test_to_y_channel_gives_bt601_luma_of_bgr_in_0_255():
    bgr = np.array([[[0, 0, 255], [255, 255, 255]]], dtype=np.uint8)  # red, white
    y = to_y_channel(bgr)
    assert y.shape == (1, 2, 1)
    assert y[0, 0, 0] == pytest.approx(16 + 65.481, abs=1e-3)
    assert y[0, 1, 0] == pytest.approx(235, abs=1e-3)


def test_better_is_declares_direction_and_rejects_others():
    @better_is('lower')
    def distance(img, img2):
        return 0.0

    assert distance.better == 'lower'
    with pytest.raises(ValueError, match='higher'):
        better_is('smaller')
