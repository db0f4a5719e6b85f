import cv2
import numpy as np
import pytest

from basicsr.data.degradations import ProbabilityError
from basicsr.data.pipeline_steps import (
    PIPELINE_REGISTRY,
    Collect,
    CopyValues,
    FixedCrop,
    Flip,
    ImageTooSmallError,
    MATLABLikeResize,
    Pipeline,
    PipelineError,
    Quantize,
    RandomResize,
    RandomTransposeHW,
    parse_number,
)
from basicsr.utils.matlab_functions import imresize

# The authors' train_s pipeline (options/train/ESRGAN/*.yml of Yuehan717/PDD), as YAML loads it.
AUTHORS_PIPELINE = [
    {'type': 'FixedCrop', 'keys': ['gt'], 'crop_size': [192, 192]},
    {'type': 'Flip', 'keys': ['gt'], 'flip_ratio': 0.5, 'direction': 'horizontal'},
    {'type': 'Flip', 'keys': ['gt'], 'flip_ratio': 0.5, 'direction': 'vertical'},
    {'type': 'RandomTransposeHW', 'keys': ['gt'], 'transpose_ratio': 0.5},
    {'type': 'CopyValues', 'src_keys': ['gt'], 'dst_keys': ['lq']},
    {
        'type': 'RandomResize',
        'params': {
            'target_size': [48, 48],
            'resize_opt': ['bicubic', 'bilinear', 'area'],
            'resize_prob': ['1/3', '1/3', '1/3'],
        },
        'keys': ['lq'],
    },
    {'type': 'Quantize', 'keys': ['lq']},
    {'type': 'Collect', 'keys': ['lq', 'gt'], 'meta_keys': ['gt_path']},
]


def _image(h: int = 20, w: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3)).astype(np.float32)


def _resize_params(**overrides) -> dict:
    params = {'target_size': [5, 6], 'resize_opt': ['bicubic', 'bilinear', 'area'], 'resize_prob': ['1/3'] * 3}
    params.update(overrides)
    return params


def test_parse_number_reads_yaml_fractions_and_numbers():
    assert parse_number('1/3', 'p') == pytest.approx(1 / 3)
    assert parse_number(' 2/4 ', 'p') == 0.5
    assert parse_number('0.25', 'p') == 0.25
    assert parse_number(1, 'p') == 1.0
    for bad in ('one/3', '1/0', True, None, [1]):
        with pytest.raises(PipelineError, match='p: expected a number'):
            parse_number(bad, 'p')


def test_all_authors_steps_are_registered():
    assert set(PIPELINE_REGISTRY.plain_names()) >= {
        'FixedCrop',
        'Flip',
        'RandomTransposeHW',
        'CopyValues',
        'RandomResize',
        'MATLABLikeResize',
        'Quantize',
        'Collect',
    }


def test_fixed_crop_draws_x_then_y_offsets_and_crops_paired_keys_alike():
    img = _image()
    np.random.seed(3)
    out = FixedCrop(keys=['gt', 'ref'], crop_size=[8, 10])({'gt': img, 'ref': img * 2})
    np.random.seed(3)
    x, y = np.random.randint(0, 30 - 10 + 1), np.random.randint(0, 20 - 8 + 1)
    np.testing.assert_array_equal(out['gt'], img[y : y + 8, x : x + 10])
    np.testing.assert_array_equal(out['ref'], out['gt'] * 2)


def test_fixed_crop_at_a_given_position_and_errors():
    img = _image()
    out = FixedCrop(keys=['gt'], crop_size=[4, 5], crop_pos=[2, 3])({'gt': [img, img]})
    np.testing.assert_array_equal(out['gt'][1], img[3:7, 2:7])
    with pytest.raises(ImageTooSmallError, match=r'20x30, smaller than crop_size 24x24'):
        FixedCrop(keys=['gt'], crop_size=[24, 24])({'gt': img, 'gt_path': 'a.png'})
    with pytest.raises(PipelineError, match='same size'):
        FixedCrop(keys=['gt', 'lq'], crop_size=[4, 4])({'gt': img, 'lq': img[:10]})
    with pytest.raises(PipelineError, match='crop_size'):
        FixedCrop(keys=['gt'], crop_size=[4, 0])


@pytest.mark.parametrize('direction, axis', [('horizontal', 1), ('vertical', 0)])
def test_flip_always_or_never_by_ratio(direction, axis):
    img = _image()
    flipped = Flip(keys=['gt'], flip_ratio=1, direction=direction)({'gt': img.copy()})['gt']
    np.testing.assert_array_equal(flipped, np.flip(img, axis))
    kept = Flip(keys=['gt'], flip_ratio='0', direction=direction)({'gt': img.copy()})['gt']
    np.testing.assert_array_equal(kept, img)


def test_flip_uses_one_draw_per_call_and_rejects_unknown_direction():
    np.random.seed(0)
    flips = [not np.array_equal(Flip(['gt'], 0.5)({'gt': _image()})['gt'], _image()) for _ in range(200)]
    np.random.seed(0)
    assert flips == [np.random.random() < 0.5 for _ in range(200)]
    with pytest.raises(PipelineError, match='diagonal'):
        Flip(['gt'], 0.5, direction='diagonal')
    with pytest.raises(PipelineError, match='flip_ratio'):
        Flip(['gt'], 1.5)


def test_random_transpose_swaps_height_and_width():
    img = _image(4, 6)
    out = RandomTransposeHW(keys=['gt'], transpose_ratio=1)({'gt': [img]})['gt'][0]
    assert out.shape == (6, 4, 3)
    np.testing.assert_array_equal(out, img.transpose(1, 0, 2))
    np.testing.assert_array_equal(RandomTransposeHW(['gt'], 0)({'gt': img})['gt'], img)


def test_copy_values_makes_independent_copies():
    results = CopyValues(src_keys=['gt'], dst_keys=['lq'])({'gt': _image()})
    results['lq'][:] = 0
    assert results['gt'].max() > 0
    with pytest.raises(PipelineError, match='same length'):
        CopyValues(['gt'], ['lq', 'x'])


def test_random_resize_draws_prob_then_mode_and_resizes_with_that_mode():
    img = _image()
    step = RandomResize(params=_resize_params(), keys=['lq'])
    for seed in range(6):
        np.random.seed(seed)
        out = step({'lq': img})['lq']
        np.random.seed(seed)
        np.random.uniform()  # the `prob` draw mmagic makes even when prob is 1
        mode = np.random.choice(['bicubic', 'bilinear', 'area'], p=[1 / 3] * 3)
        flag = {'bicubic': cv2.INTER_CUBIC, 'bilinear': cv2.INTER_LINEAR, 'area': cv2.INTER_AREA}[mode]
        np.testing.assert_array_equal(out, cv2.resize(img, (6, 5), interpolation=flag))
        assert out.shape == (5, 6, 3)


def test_random_resize_picks_modes_with_the_given_probabilities():
    img = _image(16, 16)
    expected = {
        mode: cv2.resize(img, (4, 4), interpolation=flag).tobytes()
        for mode, flag in (('bicubic', cv2.INTER_CUBIC), ('area', cv2.INTER_AREA))
    }
    step = RandomResize(
        params=_resize_params(target_size=[4, 4], resize_opt=['Bicubic', 'area'], resize_prob=['1/4', 0.75]),
        keys=['lq'],
    )
    np.random.seed(0)
    picks = [step({'lq': img})['lq'].tobytes() == expected['area'] for _ in range(400)]
    assert 0.68 < np.mean(picks) < 0.82


def test_random_resize_with_prob_zero_keeps_the_image():
    img = _image()
    np.testing.assert_array_equal(RandomResize(_resize_params(prob=0), ['lq'])({'lq': img})['lq'], img)


def test_random_resize_rejects_bad_options():
    with pytest.raises(PipelineError, match=r"unknown resize mode\(s\) \['nearest_neighbour'\]"):
        RandomResize(_resize_params(resize_opt=['bicubic', 'bilinear', 'nearest_neighbour']), ['lq'])
    with pytest.raises(ProbabilityError, match='sum to 1'):
        RandomResize(_resize_params(resize_prob=['1/3', '1/3', '1/4']), ['lq'])
    with pytest.raises(PipelineError, match='2 entries for 3'):
        RandomResize(_resize_params(resize_prob=[0.5, 0.5]), ['lq'])
    with pytest.raises(PipelineError, match=r"unknown \['scale'\]"):
        RandomResize(_resize_params(scale=2), ['lq'])


def test_matlab_like_resize_equals_imresize():
    img = _image(24, 24)
    out = MATLABLikeResize(keys=['lq'], output_shape=[6, 6])({'lq': img})['lq']
    np.testing.assert_allclose(out, imresize(img, 0.25), atol=1e-7)
    by_scale = MATLABLikeResize(keys=['lq'], scale='1/4')({'lq': img})['lq']
    np.testing.assert_array_equal(by_scale, out)
    with pytest.raises(PipelineError, match='exactly one'):
        MATLABLikeResize(keys=['lq'])
    with pytest.raises(PipelineError, match='bicubic'):
        MATLABLikeResize(keys=['lq'], scale=0.5, kernel='lanczos')


def test_quantize_rounds_to_8_bit_levels_and_clips():
    img = np.array([[[-0.2, 0.5, 1.3], [0.1234, 0.9999, 0.002]]], dtype=np.float32)
    out = Quantize(keys=['lq'])({'lq': img})['lq']
    np.testing.assert_allclose(out * 255, np.round(out * 255), atol=1e-4)
    np.testing.assert_allclose(out, [[[0, 128 / 255, 1], [31 / 255, 1, 1 / 255]]], atol=1e-7)
    assert out.dtype == np.float32


def test_collect_keeps_keys_and_gathers_meta():
    out = Collect(keys=['lq', 'gt'], meta_keys=['gt_path'])({'lq': 1, 'gt': 2, 'gt_path': 'a.png', 'tmp': 3})
    assert out == {'lq': 1, 'gt': 2, 'meta': {'gt_path': 'a.png'}}


def test_authors_pipeline_turns_a_gt_image_into_a_48px_lq_and_192px_gt():
    np.random.seed(0)
    results = Pipeline(AUTHORS_PIPELINE)({'gt': _image(200, 230), 'gt_path': 'x.png'})
    assert results['gt'].shape == (192, 192, 3) and results['lq'].shape == (48, 48, 3)
    assert results['meta'] == {'gt_path': 'x.png'}
    np.testing.assert_allclose(results['lq'] * 255, np.round(results['lq'] * 255), atol=1e-4)


def test_pipeline_errors_name_the_step_index_and_type():
    with pytest.raises(PipelineError, match=r"pipeline\[1\]: unknown step type 'Blur'"):
        Pipeline([AUTHORS_PIPELINE[0], {'type': 'Blur'}])
    with pytest.raises(PipelineError, match=r"pipeline\[0\] \(Flip\): unknown key\(s\) \['ratio'\]"):
        Pipeline([{'type': 'Flip', 'keys': ['gt'], 'ratio': 0.5}])
    with pytest.raises(PipelineError, match=r"pipeline\[0\] \(Quantize\): .*missing key\(s\) \['keys'\]"):
        Pipeline([{'type': 'Quantize'}])
    bad_prob = [dict(step) for step in AUTHORS_PIPELINE]
    bad_prob[5] = {**bad_prob[5], 'params': _resize_params(resize_prob=[0.5, 0.3, 0.1])}
    with pytest.raises(ProbabilityError, match=r'pipeline\[5\] \(RandomResize\): params.resize_prob'):
        Pipeline(bad_prob)
    with pytest.raises(PipelineError, match=r"pipeline\[0\] \(Quantize\): no result named 'lq'"):
        Pipeline([{'type': 'Quantize', 'keys': ['lq']}])({'gt': _image()})
    with pytest.raises(ImageTooSmallError, match=r'pipeline\[0\] \(FixedCrop\)'):
        Pipeline(AUTHORS_PIPELINE)({'gt': _image(100, 300)})
    with pytest.raises(PipelineError, match='non-empty list'):
        Pipeline([])
