"""gan/lpips.py against a numpy transcription of the LPIPS distance, on narrow random weights written
here (the filter counts come from the file; the layer layout is AlexNet's and VGG16's)."""
import os

import numpy as np
import pytest

from gan import lpips

NARROW_FILTERS = {'alex': [8, 12, 16, 8, 8], 'vgg': [4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 6, 6, 6]}

# LPIPS v0.1's input scaling layer and backbones, written here from their definitions rather than read
# from gan/lpips.py: torchvision's AlexNet features (conv 64 11x11 /4 pad 2, pool 3 /2, conv 192 5x5
# pad 2, pool 3 /2, conv 384, 256, 256 3x3 pad 1), compared after each of its five ReLUs, and VGG16's
# configuration D (3x3 pad 1 convolutions, 2x2 /2 pools at the 'M's), compared after the last ReLU
# of each block (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3).
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
ALEXNET = [('conv', 11, 4, 2), 'tap', ('pool', 3, 2), ('conv', 5, 1, 2), 'tap', ('pool', 3, 2),
           ('conv', 3, 1, 1), 'tap', ('conv', 3, 1, 1), 'tap', ('conv', 3, 1, 1), 'tap']
VGG16_D = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512]


def vgg_steps(configuration):
    steps = []
    for entry in configuration:
        steps += ['tap', ('pool', 2, 2)] if entry == 'M' else [('conv', 3, 1, 1)]
    return steps + ['tap']


BACKBONES = {'alex': ALEXNET, 'vgg': vgg_steps(VGG16_D)}


def test_the_backbones_and_scaling_are_lpips():
    assert lpips.ARCHITECTURES == BACKBONES
    assert lpips.SHIFT == LPIPS_SHIFT and lpips.SCALE == LPIPS_SCALE
    assert [step[0] for step in BACKBONES['vgg'] if step != 'tap'].count('conv') == len(NARROW_FILTERS['vgg']) == 13


def write_random_weights(path, net, seed=0):
    """Random weights (He-like scale, so that activations neither vanish nor explode) for the
    narrow backbone, and positive lin weights; returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays, channels, convolution, tap = {}, 3, 0, 0
    for step in BACKBONES[net]:
        if step == 'tap':
            arrays['lin%d' % tap] = rng.uniform(0.1, 1.0, channels).astype(np.float32)
            tap += 1
        elif step[0] == 'conv':
            filters, size = NARROW_FILTERS[net][convolution], step[1]
            scale = np.sqrt(2.0 / (size * size * channels))
            arrays['conv%d_kernel' % convolution] = (rng.normal(size=(size, size, channels, filters)) * scale).astype(
                np.float32)
            arrays['conv%d_bias' % convolution] = rng.normal(0, 0.05, filters).astype(np.float32)
            channels, convolution = filters, convolution + 1
    np.savez(path, **arrays)
    return arrays


def numpy_convolution(x, kernel, bias, stride, padding):
    """Cross-correlation of (H, W, C) with (k, k, C, F), zero padding, stride: a sum over the kernel
    taps of strided slices."""
    x = np.pad(x, ((padding, padding), (padding, padding), (0, 0)))
    size = kernel.shape[0]
    height = (x.shape[0] - size) // stride + 1
    width = (x.shape[1] - size) // stride + 1
    out = np.zeros((height, width, kernel.shape[3]))
    for dy in range(size):
        for dx in range(size):
            patch = x[dy:dy + stride * (height - 1) + 1:stride, dx:dx + stride * (width - 1) + 1:stride]
            out += patch @ kernel[dy, dx].astype(np.float64)
    return out + bias


def numpy_max_pool(x, size, stride):
    height = (x.shape[0] - size) // stride + 1
    width = (x.shape[1] - size) // stride + 1
    out = np.full((height, width, x.shape[2]), -np.inf)
    for i in range(height):
        for j in range(width):
            out[i, j] = x[i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(0, 1))
    return out


def numpy_lpips(image0, image1, arrays, net):
    """The LPIPS v0.1 distance of two uint8 images, written out in numpy (float64)."""
    def taps(image):
        x = (image.astype(np.float64) / 127.5 - 1 - np.array(LPIPS_SHIFT)) / np.array(LPIPS_SCALE)
        found, convolution = [], 0
        for step in BACKBONES[net]:
            if step == 'tap':
                found.append(x)
            elif step[0] == 'pool':
                x = numpy_max_pool(x, step[1], step[2])
            else:
                x = np.maximum(numpy_convolution(x, arrays['conv%d_kernel' % convolution],
                                                 arrays['conv%d_bias' % convolution], step[2], step[3]), 0)
                convolution += 1
        return found
    total = 0.0
    for layer, (f0, f1) in enumerate(zip(taps(image0), taps(image1))):
        n0 = f0 / (np.linalg.norm(f0, axis=2, keepdims=True) + 1e-10)
        n1 = f1 / (np.linalg.norm(f1, axis=2, keepdims=True) + 1e-10)
        total += np.mean(np.sum(arrays['lin%d' % layer] * (n0 - n1) ** 2, axis=2))
    return total


def random_images(count, size, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size + (3,), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize('net, size', [('alex', (64, 48)), ('vgg', (32, 32))])
def test_distance_matches_numpy_and_identical_images_give_zero(tmp_path, net, size):
    path = str(tmp_path / lpips.weights_name(net))
    arrays = write_random_weights(path, net)
    model = lpips.LPIPS(path, net, batch_size=2)
    first, second = random_images(3, size, 1), random_images(3, size, 2)
    second[2] = np.clip(first[2].astype(int) + 20, 0, 255).astype(np.uint8)   # a close pair
    values = model.distances(first, second)
    expected = [numpy_lpips(a, b, arrays, net) for a, b in zip(first, second)]
    assert values.shape == (3,) and min(expected) > 0
    np.testing.assert_allclose(values, expected, rtol=2e-4, atol=1e-6)
    assert values[2] < min(values[:2])
    np.testing.assert_allclose(model.distances(first, first), 0, atol=1e-7)


def test_find_lpips_reads_the_folder_and_says_what_is_missing(tmp_path, monkeypatch):
    write_random_weights(str(tmp_path / 'lpips_alex.npz'), 'alex')
    found, missing = lpips.find_lpips(str(tmp_path))
    assert list(found) == ['alex'] and list(missing) == ['vgg']
    message = missing['vgg']
    assert str(tmp_path / 'lpips_vgg.npz') in message and 'vgg16-397923af.pth' in message
    assert 'convert_lpips_weights.py vgg' in message and 'v0.1/vgg.pth' in message
    # No flag: Keras' cache folder; nothing there is not an error, only skipped scores.
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'keras-home'))
    found, missing = lpips.find_lpips()
    assert found == {} and os.path.join(str(tmp_path), 'keras-home', 'models', 'lpips_alex.npz') in missing['alex']
    # A folder given by flag with neither file is an error.
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='lpips_alex.npz'):
        lpips.find_lpips(str(empty))


def test_a_wrong_file_is_refused_naming_it(tmp_path):
    path = str(tmp_path / 'lpips_alex.npz')
    np.savez(path, conv0_kernel=np.zeros((3, 3, 3, 4), np.float32))
    with pytest.raises(ValueError, match='lpips_alex.npz is not the LPIPS alex weights: conv0_bias'):
        lpips.LPIPS(path, 'alex')
    (tmp_path / 'garbage.npz').write_bytes(b'not a zip')
    with pytest.raises(ValueError, match='garbage.npz is not an LPIPS weights file'):
        lpips.LPIPS(str(tmp_path / 'garbage.npz'), 'alex')


def test_conversion_from_torch_files(tmp_path):
    torch = pytest.importorskip('torch')
    arrays = write_random_weights(str(tmp_path / 'reference.npz'), 'alex')
    backbone, lins = {}, {}
    for i, feature in enumerate([0, 3, 6, 8, 10]):
        backbone['features.%d.weight' % feature] = torch.tensor(arrays['conv%d_kernel' % i].transpose(3, 2, 0, 1))
        backbone['features.%d.bias' % feature] = torch.tensor(arrays['conv%d_bias' % i])
    for i in range(5):
        lins['lin%d.model.1.weight' % i] = torch.tensor(arrays['lin%d' % i].reshape(1, -1, 1, 1))
    torch.save(backbone, str(tmp_path / 'backbone.pth'))
    torch.save(lins, str(tmp_path / 'lins.pth'))
    out = str(tmp_path / 'lpips_alex.npz')
    lpips.convert_torch_weights('alex', str(tmp_path / 'lins.pth'), str(tmp_path / 'backbone.pth'), out)
    with np.load(out) as converted:
        for name, value in arrays.items():
            np.testing.assert_array_equal(converted[name], value)
