"""Each loss of docs/reference.md, "Losses and training", against an independent numpy computation."""
import numpy as np
import pytest

import keras

from gan import losses
from gan.content_features import make_content_extractor, vgg_preprocess


def _np_nn_loss(reference, generated, k):
    """Explicit loops: for each generated pixel, the best k x k reference neighbour (outside = -10000)."""
    batch, height, width, channels = generated.shape
    half = k // 2
    result = np.zeros(batch)
    for b in range(batch):
        total = 0.0
        for i in range(height):
            for j in range(width):
                best = np.inf
                for di in range(-half, half + 1):
                    for dj in range(-half, half + 1):
                        y, x = i + di, j + dj
                        if 0 <= y < height and 0 <= x < width:
                            neighbour = reference[b, y, x]
                        else:
                            neighbour = np.full(channels, -10000.0)
                        best = min(best, float(np.sum(np.abs(neighbour - generated[b, i, j]))))
                total += best
        result[b] = total / (height * width)
    return result


@pytest.mark.parametrize('k', [1, 3, 5])
def test_nn_loss_matches_explicit_loops(k):
    rng = np.random.default_rng(k)
    reference = rng.uniform(-1, 1, (2, 5, 4, 3)).astype('float32')
    generated = rng.uniform(-1, 1, (2, 5, 4, 3)).astype('float32')
    got = keras.ops.convert_to_numpy(losses.nn_loss(reference, generated, k))
    np.testing.assert_allclose(got, _np_nn_loss(reference, generated, k), rtol=1e-5)


def test_nn_loss_forgives_a_one_pixel_shift_that_l1_does_not():
    rng = np.random.default_rng(0)
    reference = rng.uniform(-1, 1, (1, 8, 8, 3)).astype('float32')
    shifted = np.roll(reference, 1, axis=2)
    shifted[:, :, 0] = reference[:, :, 0]   # keep the wrapped column a valid neighbour
    assert float(losses.nn_loss(reference, shifted, 3)[0]) < 1e-6
    assert float(losses.l1_loss(reference, shifted)[0]) > 0.1


def test_l1_and_reconstruction_loss_sum_over_feature_maps():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 4, 6, 2)).astype('float32')
    c, d = rng.normal(size=(2, 3, 2, 3, 5)).astype('float32')
    got = keras.ops.convert_to_numpy(losses.reconstruction_loss([a, c], [b, d], 1))
    want = np.abs(a - b).mean(axis=(1, 2, 3)) + np.abs(c - d).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    got_nn = keras.ops.convert_to_numpy(losses.reconstruction_loss([a], [b], 3))
    np.testing.assert_allclose(got_nn, _np_nn_loss(a, b, 3), rtol=1e-5)


def test_tv_loss_matches_numpy():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 7, 3)).astype('float32')
    want = np.zeros(2)
    for b in range(2):
        for i in range(4):
            for j in range(6):
                for c in range(3):
                    v = (x[b, i, j, c] - x[b, i + 1, j, c]) ** 2 + (x[b, i, j, c] - x[b, i, j + 1, c]) ** 2
                    want[b] += v ** 1.25
    np.testing.assert_allclose(keras.ops.convert_to_numpy(losses.tv_loss(x)), want, rtol=1e-4)


def test_adversarial_losses_match_numpy():
    rng = np.random.default_rng(3)
    d = rng.uniform(0.01, 0.99, (3, 6)).astype('float32')
    np.testing.assert_allclose(losses.discriminator_real_loss(d), -np.log(d + 1e-7).mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(losses.discriminator_fake_loss(d), -np.log(1 - d + 1e-7).mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(losses.generator_adversarial_loss(d), -np.log(d + 1e-7).mean(axis=1), rtol=1e-5)
    # a confident, correct discriminator has a small loss; a fooled one a large loss
    assert float(losses.discriminator_real_loss(np.full((1, 1), 0.999, 'float32'))[0]) < 0.01
    assert float(losses.discriminator_fake_loss(np.full((1, 1), 0.999, 'float32'))[0]) > 5


def test_struct_loss_and_global_mean():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 4, 3, 2, 18)).astype('float32')
    per_example = keras.ops.convert_to_numpy(losses.struct_loss(a, b))
    np.testing.assert_allclose(per_example, ((a - b) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)
    # two replicas' halves, each divided by the global batch, sum to the global mean
    halves = [float(losses.global_mean(per_example[:2], 4)), float(losses.global_mean(per_example[2:], 4))]
    np.testing.assert_allclose(sum(halves), per_example.mean(), rtol=1e-6)


def test_vgg_preprocess_reproduces_the_reference_quirk():
    x = np.array([[[[-1.0, 0.0, 1.0]]]], dtype='float32')   # RGB = 0, 127.5, 255
    got = keras.ops.convert_to_numpy(vgg_preprocess(x))[0, 0, 0]
    # mean subtracted channel-wise BEFORE the reversal, G-116.779, B-123.68, then reversed
    np.testing.assert_allclose(got, [255 - 123.68, 127.5 - 116.779, 0 - 103.939], rtol=1e-5)


def test_content_extractor_uses_the_weights_file_and_the_quirk(tmp_path):
    keras.utils.set_random_seed(0)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(32, 32, 3))
    weights = str(tmp_path / 'vgg19_random.weights.h5')
    vgg.save_weights(weights)
    extractor = make_content_extractor(['block1_conv2', 'block2_conv1'], weights)
    images = np.random.default_rng(5).uniform(-1, 1, (2, 16, 8, 3)).astype('float32')
    block1, block2 = [keras.ops.convert_to_numpy(f) for f in extractor(images)]
    assert block1.shape == (2, 16, 8, 64) and block2.shape == (2, 8, 4, 128)
    # independent: numpy preprocessing then the VGG's own first two convolutions
    pixels = 255 * (images + 1) / 2 - np.array([103.939, 116.779, 123.68])
    conv1 = keras.ops.relu(vgg.get_layer('block1_conv1')(pixels[..., ::-1].astype('float32')))
    want = keras.ops.convert_to_numpy(keras.ops.relu(vgg.get_layer('block1_conv2')(conv1)))
    np.testing.assert_allclose(block1, want, rtol=1e-4, atol=1e-3)


def test_content_extractor_refuses_a_missing_weights_file(tmp_path):
    missing = str(tmp_path / 'nowhere.h5')
    with pytest.raises(FileNotFoundError, match='nowhere.h5.*vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5'):
        make_content_extractor(['block1_conv2'], missing)
