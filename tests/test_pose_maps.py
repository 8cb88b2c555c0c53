"""The ``hm`` pose maps against a transcription of the reference's ``cords_to_map`` as Python 2 ran it:
integer keypoints on an integer grid, so ``-d2 / (2 * sigma ** 2)`` was a floor division and every
channel is a staircase exp(floor(-d2 / 72)). Checked on every row of the real annotation samples, for
the numpy maps, the tf.data maps and the map_to_cord round trip."""
import math

import numpy as np
import pytest
import tensorflow as tf

import pose_utils
from pose_dataset import heatmaps_tf
from reference_data import annotation_sets

SIGMA = 6


def python2_division(numerator, denominator):
    """Python 2's ``/`` on two ints: the floor of the quotient (Python 3's ``//``)."""
    return numerator // denominator


def reference_cords_to_map(cords, img_size, sigma=SIGMA):
    """The reference's loop, channel by channel, with Python 2's integer ``/``. exp of each distinct
    integer exponent is taken once with math.exp (float64), then stored in float32 as the reference's
    float32 result array did."""
    result = np.zeros(tuple(img_size) + (len(cords),), dtype='float32')
    xx, yy = np.meshgrid(np.arange(img_size[1]), np.arange(img_size[0]))
    for i, point in enumerate(cords):
        if point[0] == -1 or point[1] == -1:
            continue
        squared = (yy - int(point[0])) ** 2 + (xx - int(point[1])) ** 2
        distinct, where = np.unique(squared, return_inverse=True)
        values = [math.exp(python2_division(-int(d2), 2 * sigma ** 2)) for d2 in distinct]
        result[..., i] = np.array(values)[where.reshape(squared.shape)]
    return result


def test_staircase_values_by_hand():
    cords = np.full((18, 2), -1)
    cords[0] = [10, 10]
    maps = pose_utils.cords_to_map(cords, (32, 32))
    assert maps[10, 10, 0] == 1.0
    assert maps[10, 18, 0] == np.float32(math.exp(-1))       # d2 = 64
    assert maps[10, 18 + 1, 0] == np.float32(math.exp(-2))   # d2 = 81: floor(-81/72) = -2
    assert maps[16, 16, 0] == np.float32(math.exp(-1))       # d2 = 72: exactly -1
    assert maps[16, 17, 0] == np.float32(math.exp(-2))       # d2 = 85
    assert np.all(maps[..., 1:] == 0)
    # The smooth extension is the Gaussian itself.
    smooth = pose_utils.cords_to_map(cords, (32, 32), pose_map='smooth')
    assert np.isclose(smooth[10, 19, 0], math.exp(-81 / 72), rtol=1e-6)


@pytest.mark.slow
def test_every_reference_row_numpy_and_tf():
    for name, size, annotations in annotation_sets():
        names = sorted(annotations)
        if size == (256, 256):
            names = names[:40]  # 1.2 M values per pose at 256x256: a few dozen poses are plenty
        for start in range(0, len(names), 32):
            chunk = names[start:start + 32]
            kp = np.stack([annotations[n] for n in chunk])
            want = np.stack([reference_cords_to_map(k, size) for k in kp])
            got_numpy = np.stack([pose_utils.cords_to_map(k, size) for k in kp])
            got_tf = heatmaps_tf(tf.constant(kp.astype(np.int32)), size).numpy()
            np.testing.assert_array_equal(got_numpy, want, err_msg=name)
            np.testing.assert_array_equal(got_tf, want, err_msg=name)
            # The staircase itself, not a Gaussian: the two differ by up to 1 - e^-1 next to a point.
            smooth = np.stack([pose_utils.cords_to_map(k, size, pose_map='smooth') for k in kp])
            assert np.abs(smooth - want).max() > 0.5


def test_map_to_cord_recovers_every_reference_row():
    for name, size, annotations in annotation_sets():
        for image, kp in list(annotations.items())[:200]:
            inside = (kp[:, 0] >= 0) & (kp[:, 0] < size[0]) & (kp[:, 1] >= 0) & (kp[:, 1] < size[1])
            want = np.where(inside[:, None], kp, -1)
            got = pose_utils.map_to_cord(pose_utils.cords_to_map(kp, size))
            np.testing.assert_array_equal(got, want, err_msg='%s %s' % (name, image))


@pytest.mark.parametrize('pose_map', ['stepped', 'smooth'])
def test_numpy_and_tf_maps_agree_on_batches(pose_map):
    kp = np.random.default_rng(0).integers(-1, 128, size=(3, 18, 2))
    kp[:, 3] = -1
    want = np.stack([pose_utils.cords_to_map(k, (128, 64), pose_map=pose_map) for k in kp])
    got = heatmaps_tf(tf.constant(kp.astype(np.int32)), (128, 64), pose_map=pose_map).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6 if pose_map == 'smooth' else 0)
