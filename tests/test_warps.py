"""AffineTransformLayer and SpatialTransformer (warps/warp_types.py) against independent warps
written with scipy.ndimage.map_coordinates."""
import math

import keras
import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

import pose_transform
from warps import warp_sampling
from warps import warp_types

IMAGE_SIZE = (128, 64)
LEVEL_SIZES = [(128, 64), (64, 32), (32, 16), (16, 8)]

# A made-up standing person on a 128x64 image, (y, x) per keypoint in the project's order.
SOURCE_KP = np.array([[20, 32], [30, 32], [30, 24], [48, 20], [64, 18], [30, 40], [48, 44], [64, 46],
                      [70, 27], [92, 26], [115, 26], [70, 37], [92, 38], [115, 38], [17, 34], [17, 30],
                      [18, 37], [18, 27]])


def target_keypoints():
    """The same person shifted, arms raised, right knee bent, left wrist not visible."""
    kp = SOURCE_KP + np.array([4, 3])
    kp[3] = [22, 14]   # Relb up
    kp[4] = [8, 12]    # Rwri up
    kp[6] = [40, 52]   # Lelb out
    kp[7] = [-1, -1]   # Lwri missing -> "no point" transform, empty mask
    kp[9] = [90, 18]   # Rkne out
    return kp


def source_keypoints():
    kp = SOURCE_KP.copy()
    kp[10] = [-1, -1]  # Rank missing in the source only -> the mirrored left shin is used
    return kp


def round_half_away(values):
    """C's round() of each float32 value, with Python's exact float64 arithmetic."""
    return np.vectorize(lambda v: math.floor(v + 0.5) if v >= 0 else math.ceil(v - 0.5), otypes=[np.float64])(
        values.astype(np.float64))


def nearest_sample(channel, src_y, src_x):
    """The input pixel at the rounded coordinates, 0 outside the map."""
    height, width = channel.shape
    rows, cols = round_half_away(src_y), round_half_away(src_x)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    return np.where(inside, channel[np.clip(rows, 0, height - 1).astype(int), np.clip(cols, 0, width - 1).astype(int)],
                    0.0)


def reference_warp(features, transforms, masks, scale, aggregation, interpolation='nearest'):
    """Independent warp: for every output pixel (x, y), k = c0 x + c1 y + 1, sample the input at
    ((a0 x + a1 y + a2/s) / k, (b0 x + b1 y + b2/s) / k): nearest with float32 coordinates (the
    kernel's arithmetic) and C rounding, bilinear with scipy's order-1 interpolation in float64; zeros
    outside; masks subsampled by slicing; aggregated with numpy."""
    batch, height, width, channels = features.shape
    results = []
    for b in range(batch):
        parts = []
        for t in range(transforms.shape[1]):
            if interpolation == 'nearest':
                rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
                a0, a1, a2, b0, b1, b2, c0, c1 = transforms[b, t].astype(np.float32)
                a2, b2 = a2 / np.float32(scale), b2 / np.float32(scale)
            else:
                rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
                a0, a1, a2, b0, b1, b2, c0, c1 = transforms[b, t].astype(np.float64)
                a2, b2 = a2 / scale, b2 / scale
            k = c0 * cols + c1 * rows + 1
            src_x = (a0 * cols + a1 * rows + a2) / k
            src_y = (b0 * cols + b1 * rows + b2) / k
            if interpolation == 'nearest':
                warped = np.stack([nearest_sample(features[b, ..., c], src_y, src_x) for c in range(channels)], -1)
            else:
                warped = np.stack([scipy.ndimage.map_coordinates(features[b, ..., c].astype(np.float64),
                                                                 [src_y, src_x], order=1, mode='grid-constant',
                                                                 cval=0.0) for c in range(channels)], axis=-1)
            if masks is not None:
                warped = warped * masks[b, t, ::scale, ::scale, None]
            parts.append(warped)
        parts = np.array(parts)
        if aggregation == 'max':
            results.append(parts.max(axis=0))
        elif masks is None:
            results.append(parts.mean(axis=0))
        else:
            counts = masks[b, :, ::scale, ::scale].sum(axis=0)[..., None]
            results.append(np.divide(parts.sum(axis=0), counts, out=np.zeros_like(parts[0]), where=counts > 0))
    return np.array(results)


@pytest.fixture(scope='module')
def part_inputs():
    source, target = source_keypoints(), target_keypoints()
    transforms = np.stack([pose_transform.affine_transforms(source, target),
                           pose_transform.affine_transforms(target, source)])            # (2, 10, 8)
    masks = np.stack([pose_transform.pose_masks(target, IMAGE_SIZE),
                      pose_transform.pose_masks(source, IMAGE_SIZE)]).astype(np.float32)  # (2, 10, 128, 64)
    return transforms.astype(np.float32), masks


@pytest.mark.parametrize('interpolation', ['nearest', 'bilinear'])
@pytest.mark.parametrize('level_size', LEVEL_SIZES)
@pytest.mark.parametrize('aggregation', ['max', 'avg'])
def test_masked_part_warp_matches_independent_warp(part_inputs, level_size, aggregation, interpolation):
    transforms, masks = part_inputs
    assert np.any(transforms == 1000), 'the made-up poses should produce a "no point" transform'
    features = np.random.default_rng(0).normal(size=(2,) + level_size + (5,)).astype(np.float32)
    layer = warp_types.AffineTransformLayer(10, aggregation, IMAGE_SIZE, interpolation)
    got = np.asarray(layer([features, transforms, masks]))
    scale = IMAGE_SIZE[0] // level_size[0]
    want = reference_warp(features, transforms, masks, scale, aggregation, interpolation)
    assert got.shape == features.shape
    assert np.abs(got - want).max() < 1e-4
    # Not trivially zero: the parts put real content in most of the torso region.
    assert np.abs(want).mean() > 0.05


@pytest.mark.parametrize('interpolation', ['nearest', 'bilinear'])
@pytest.mark.parametrize('aggregation', ['max', 'avg'])
def test_global_transform_without_masks(aggregation, interpolation):
    source, target = source_keypoints(), target_keypoints()
    transforms = pose_transform.estimate_uniform_transform(source, target)[None].astype(np.float32)  # (1, 1, 8)
    features = np.random.default_rng(1).normal(size=(1, 64, 32, 4)).astype(np.float32)
    layer = warp_types.AffineTransformLayer(1, aggregation, IMAGE_SIZE, interpolation)
    got = np.asarray(layer([features, transforms]))
    want = reference_warp(features, transforms, None, 2, aggregation, interpolation)
    assert np.abs(got - want).max() < 1e-4


def test_projective_terms_and_no_point_transform():
    """A hand-written projective matrix (c0, c1 non-zero) and the "no point" transform (all zeros)."""
    transforms = np.array([[[0.9, 0.1, 2.0, -0.05, 1.1, -3.0, 0.002, -0.001],
                            [1, 0, 1000, 0, 1, 1000, 0, 0]]], dtype=np.float32)
    features = np.random.default_rng(2).uniform(0.5, 1.0, size=(1, 32, 16, 3)).astype(np.float32)
    layer = warp_types.AffineTransformLayer(2, 'none', (32, 16), 'bilinear')
    got = np.asarray(layer([features, transforms]))                                  # (1, 32, 16, 6)
    assert got.shape == (1, 32, 16, 6)
    want = reference_warp(features, transforms[:, :1], None, 1, 'max', 'bilinear')
    assert np.abs(got[..., :3] - want).max() < 1e-4
    assert np.all(got[..., 3:] == 0)


def test_avg_is_zero_where_no_mask_covers():
    features = np.ones((1, 16, 8, 2), np.float32)
    identity = np.tile(np.array([1, 0, 0, 0, 1, 0, 0, 0], np.float32), (1, 2, 1))
    masks = np.zeros((1, 2, 16, 8), np.float32)
    masks[0, 0, :8] = 1
    masks[0, 1, :4] = 1
    got = np.asarray(warp_types.AffineTransformLayer(2, 'avg', (16, 8))([features, identity, masks]))
    assert np.allclose(got[0, :8], 1) and np.all(got[0, 8:] == 0) and np.all(np.isfinite(got))


def test_gradient_reaches_features_through_avg_with_empty_masks(part_inputs):
    transforms, masks = part_inputs
    features = tf.Variable(np.random.default_rng(3).normal(size=(2, 32, 16, 3)).astype(np.float32))
    layer = warp_types.AffineTransformLayer(10, 'avg', IMAGE_SIZE)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer([features, transforms, masks]) ** 2)
    grad = tape.gradient(loss, features).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0


def test_nearest_indices_match_legacy_resize():
    """floor(i * in / out), the pick of TF 1's resize_images nearest (no half-pixel centres)."""
    assert warp_sampling.nearest_indices(8, 4).tolist() == [0, 2, 4, 6]
    assert warp_sampling.nearest_indices(128, 63)[:4].tolist() == [0, 2, 4, 6]
    assert warp_sampling.nearest_indices(128, 63)[-1] == 125  # floor(62 * 128 / 63)


def reference_spatial_transformer(features, theta):
    """Independent: output grid linspace(-1, 1), source point theta @ [x, y, 1], pixel coordinates
    (xs + 1) * w / 2 and (ys + 1) * h / 2, scipy bilinear inside [0, w-1] x [0, h-1], zero outside.
    Returns the warp and the points too close to the outer edge to compare (the reference's clipped
    corners give 0 at exactly w - 1, scipy the pixel)."""
    batch, height, width, channels = features.shape
    grid_y, grid_x = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing='ij')
    out = np.zeros(features.shape)
    near_edge = np.zeros(features.shape[:3], bool)
    for b in range(batch):
        t = theta[b].reshape(2, 3).astype(np.float64)
        x = (t[0, 0] * grid_x + t[0, 1] * grid_y + t[0, 2] + 1) * width / 2
        y = (t[1, 0] * grid_x + t[1, 1] * grid_y + t[1, 2] + 1) * height / 2
        inside = (x >= 0) & (x < width - 1) & (y >= 0) & (y < height - 1)
        near_edge[b] = (np.abs(x - (width - 1)) < 1e-3) | (np.abs(y - (height - 1)) < 1e-3) | \
                       (np.abs(x) < 1e-3) | (np.abs(y) < 1e-3)
        for c in range(channels):
            sampled = scipy.ndimage.map_coordinates(features[b, ..., c].astype(np.float64), [y, x], order=1,
                                                    mode='nearest')
            out[b, ..., c] = np.where(inside, sampled, 0.0)
    return out, near_edge


@pytest.mark.parametrize('level_size', LEVEL_SIZES)
def test_spatial_transformer_matches_scipy(level_size):
    rng = np.random.default_rng(4)
    features = rng.normal(size=(2,) + level_size + (3,)).astype(np.float32)
    theta = np.array([[0.9, 0.1, 0.05, -0.08, 0.85, -0.1],
                      [1.1, -0.05, -0.1, 0.1, 0.95, 0.07]], np.float32)
    got = np.asarray(warp_types.SpatialTransformer()([features, theta]))
    want, near_edge = reference_spatial_transformer(features, theta)
    assert near_edge.mean() < 0.05
    diff = np.abs(got - want)[~near_edge]
    assert diff.max() < 1e-4
    assert np.abs(want).mean() > 0.3


def test_spatial_transformer_starts_at_identity_and_learns():
    """The locnet's last Dense starts at the identity (zero kernel, identity bias), so at first only that
    layer gets gradients; once its kernel is not zero, gradients reach every locnet weight."""
    source = tf.constant(source_keypoints()[None].astype(np.float32))
    target = tf.constant(target_keypoints()[None].astype(np.float32))
    theta_model_inputs = [keras.Input((18, 2)), keras.Input((18, 2))]
    theta = warp_types.stn_parameters(*theta_model_inputs)
    features_in = keras.Input((32, 16, 3))
    warped = warp_types.SpatialTransformer()([features_in, theta])
    model = keras.Model(theta_model_inputs + [features_in], [theta, warped])
    features = tf.constant(np.random.default_rng(5).normal(size=(1, 32, 16, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        theta_value, out = model([source, target, features])
        loss = tf.reduce_sum(out * features)
    assert np.allclose(theta_value.numpy(), [[1, 0, 0, 0, 1, 0]])
    grads = tape.gradient(loss, model.trainable_weights)
    assert len(model.trainable_weights) == 6
    # At the start only the last layer's bias and kernel can move (its zero kernel blocks the rest).
    assert np.abs(grads[-1].numpy()).sum() > 0 and np.abs(grads[-2].numpy()).sum() > 0
    assert all(not np.any(g.numpy()) for g in grads[:-2])
    last_kernel = model.trainable_weights[-2]
    last_kernel.assign(np.random.default_rng(6).normal(scale=1e-3, size=last_kernel.shape).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model([source, target, features])[1] * features)
    assert all(np.abs(g.numpy()).sum() > 0 for g in tape.gradient(loss, model.trainable_weights))


def kernel_and_project_warps(features, transforms, masks, parts, interpolation):
    """(warped, gradient of sum(warped * weights) w.r.t. the features) of what the reference ran (the
    features repeated per part through TensorFlow's ImageProjectiveTransformV3 kernel and its
    registered gradient, then times the masks) and of warp_sampling.warp_parts."""
    batch, height, width, channels = features.shape
    weights = tf.constant(np.random.default_rng(5).normal(size=(batch, parts, height, width, channels)),
                          tf.float32)

    def kernel_warp(x):
        warped = tf.raw_ops.ImageProjectiveTransformV3(
            images=tf.repeat(x, parts, axis=0), transforms=transforms, output_shape=[height, width],
            fill_value=0.0, interpolation=interpolation.upper(), fill_mode='CONSTANT')
        warped = warped if masks is None else warped * masks[..., None]
        return tf.reshape(warped, (batch, parts, height, width, channels))

    def project_warp(x):
        return warp_sampling.warp_parts(x, tf.constant(transforms), parts, masks, interpolation)

    results = []
    for warp in (kernel_warp, project_warp):
        with tf.GradientTape() as tape:
            tape.watch(features)
            warped = warp(features)
            loss = tf.reduce_sum(warped * weights)
        results.append((warped.numpy(), tape.gradient(loss, features).numpy()))
    return results


@pytest.mark.parametrize('interpolation', ['nearest', 'bilinear'])
@pytest.mark.parametrize('with_masks', [False, True])
def test_warp_and_its_gradient_equal_tensorflows_projective_transform_kernel(part_inputs, with_masks,
                                                                           interpolation):
    transforms, masks = part_inputs
    transforms = transforms.reshape(-1, 8).copy()
    transforms[1] = [0.9, 0.1, 2.0, -0.05, 1.1, -3.0, 0.002, -0.001]       # projective terms as well
    masks = tf.constant(masks[:, :, ::4, ::4].reshape(20, 32, 16)) if with_masks else None
    features = tf.constant(np.random.default_rng(4).normal(size=(2, 32, 16, 3)).astype(np.float32))
    (want, want_grad), (got, got_grad) = kernel_and_project_warps(features, transforms, masks, 10, interpolation)
    assert np.abs(want).mean() > 0.05 and np.abs(want_grad).mean() > 0.05
    if interpolation == 'nearest':
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_nearest_warp_equals_the_kernel_on_real_part_transforms_at_every_level():
    """Real Market-1501 poses (consecutive images of one person), every level the generator warps and
    the warp discriminator's 63x31 map (translations divided by 2 and 2): the forward pass equal to the
    kernel bit for bit, the gradient to float32 rounding of the sum over parts."""
    from reference_data import annotation_sets
    sets = [(name, size, rows) for name, size, rows in annotation_sets() if size == IMAGE_SIZE]
    poses = [kp for _, _, rows in sets for _, kp in sorted(rows.items()) if pose_transform.check_valid(kp)]
    source, target = np.array(poses[0:64:2]), np.array(poses[1:64:2])
    transforms = pose_transform.affine_transforms_batch(source, target).astype(np.float32)  # (B, 10, 8)
    masks = pose_transform.pose_masks_batch(target, IMAGE_SIZE)                            # (B, 10, H, W)
    rng = np.random.default_rng(7)
    largest = 0.0
    for height, width in LEVEL_SIZES + [(63, 31)]:
        divisor = np.array([1, 1, IMAGE_SIZE[0] // height, 1, 1, IMAGE_SIZE[1] // width, 1, 1], np.float32)
        level_transforms = (transforms / divisor).reshape(-1, 8)
        rows = warp_sampling.nearest_indices(IMAGE_SIZE[0], height)
        cols = warp_sampling.nearest_indices(IMAGE_SIZE[1], width)
        level_masks = tf.constant(masks[:, :, rows][:, :, :, cols].reshape(-1, height, width))
        features = tf.constant(rng.normal(size=(len(source), height, width, 4)).astype(np.float32))
        (want, want_grad), (got, got_grad) = kernel_and_project_warps(features, level_transforms, level_masks, 10,
                                                                      'nearest')
        np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(got_grad, want_grad, rtol=1e-5, atol=1e-5)
        largest = max(largest, np.abs(got_grad - want_grad).max())
        assert np.abs(want).mean() > 0.05
    print('largest gradient difference %.3g' % largest)


def test_translation_divisors_are_integer_ratios():
    """Python 2's int / int: 128 / 63 = 2 and 64 / 31 = 2 on the warp discriminator's map."""
    layer = warp_types.AffineTransformLayer(10, 'max', IMAGE_SIZE)
    layer.build([(None, 63, 31, 4), (None, 10, 8), (None, 10) + IMAGE_SIZE])
    np.testing.assert_array_equal(layer.transform_divisor, [1, 1, 2, 1, 1, 2, 1, 1])
    layer = warp_types.AffineTransformLayer(10, 'max', IMAGE_SIZE)
    layer.build([(None, 32, 16, 4), (None, 10, 8), (None, 10) + IMAGE_SIZE])
    np.testing.assert_array_equal(layer.transform_divisor, [1, 1, 4, 1, 1, 4, 1, 1])
