"""LPIPS, the learned perceptual image patch similarity (Zhang et al. 2018, version 0.1), in Keras
(keras.ops only: every backend), with the AlexNet variant (the one later pose-transfer papers report)
and the VGG16 one.

Distance of two images x0, x1 (RGB, scaled to [-1, 1]):
    scaled x = (x - shift) / scale, shift (-.030, -.088, -.188), scale (.458, .448, .450);
    f^l = the backbone's ReLU outputs at its five taps (AlexNet: relu1..relu5; VGG16: relu1_2, relu2_2,
          relu3_3, relu4_3, relu5_3), for both images;
    n^l = f^l / (||f^l||_channels + 1e-10) at every position;
    d(x0, x1) = sum_l mean_(h, w) sum_c w^l_c (n0^l - n1^l)^2,
w^l being the learned non-negative channel weights (the "lin" layers). Identical images give 0.

Weights are read from one local ``.npz`` per variant (nothing is downloaded): ``lpips_alex.npz`` and
``lpips_vgg.npz``, made by ``evaluation/convert_lpips_weights.py`` from the lpips package's ``weights/v0.1/alex.pth``
/ ``vgg.pth`` and torchvision's ImageNet AlexNet / VGG16 weights. In the file: ``conv<i>_kernel``
(kh, kw, in, out), ``conv<i>_bias`` for each convolution in order, ``lin<l>`` (channels,) for each
tap; the filter counts are read from the file, the kernel sizes, strides, padding and pooling are the
backbone's.
"""
import os

import numpy as np

NETWORKS = ('alex', 'vgg')
SHIFT = (-.030, -.088, -.188)
SCALE = (.458, .448, .450)
EPSILON = 1e-10

# The backbones as steps: ('conv', kernel, stride, padding) is a convolution and its ReLU, ('pool',
# size, stride) a max-pooling without padding, 'tap' a compared feature map. torchvision's layouts.
ARCHITECTURES = {
    'alex': [('conv', 11, 4, 2), 'tap', ('pool', 3, 2), ('conv', 5, 1, 2), 'tap', ('pool', 3, 2),
             ('conv', 3, 1, 1), 'tap', ('conv', 3, 1, 1), 'tap', ('conv', 3, 1, 1), 'tap'],
    'vgg': ([('conv', 3, 1, 1)] * 2 + ['tap', ('pool', 2, 2)] + [('conv', 3, 1, 1)] * 2 + ['tap', ('pool', 2, 2)]
            + [('conv', 3, 1, 1)] * 3 + ['tap', ('pool', 2, 2)] + [('conv', 3, 1, 1)] * 3 + ['tap', ('pool', 2, 2)]
            + [('conv', 3, 1, 1)] * 3 + ['tap']),
}
SOURCES = {
    'alex': ('https://github.com/richzhang/PerceptualSimilarity (lpips/weights/v0.1/alex.pth)',
             'https://download.pytorch.org/models/alexnet-owt-7be5be79.pth'),
    'vgg': ('https://github.com/richzhang/PerceptualSimilarity (lpips/weights/v0.1/vgg.pth)',
            'https://download.pytorch.org/models/vgg16-397923af.pth'),
}


def weights_name(net):
    return 'lpips_%s.npz' % net


def missing_weights_message(net, folder):
    lins, backbone = SOURCES[net]
    return ('LPIPS (%s) weights not found: %s. Get %s and %s, then run python evaluation/convert_lpips_weights.py %s '
            'LIN.pth BACKBONE.pth %s (needs torch for the conversion only), or give the folder with '
            '--lpips_weights' % (net, os.path.join(folder, weights_name(net)), lins, backbone, net,
                                 os.path.join(folder, weights_name(net))))


def number_of_convolutions(net):
    return sum(1 for step in ARCHITECTURES[net] if step != 'tap' and step[0] == 'conv')


def number_of_taps(net):
    return ARCHITECTURES[net].count('tap')


def read_weights(path, net):
    """The arrays of an LPIPS weights file, checked: conv<i>_kernel / _bias and lin<l>."""
    try:
        with np.load(path) as data:
            arrays = {name: data[name].astype(np.float32) for name in data.files}
    except (OSError, ValueError) as error:
        raise ValueError('%s is not an LPIPS weights file (.npz): %s' % (path, error)) from error
    expected = (['conv%d_%s' % (i, part) for i in range(number_of_convolutions(net)) for part in ('kernel', 'bias')]
                + ['lin%d' % i for i in range(number_of_taps(net))])
    missing = [name for name in expected if name not in arrays]
    if missing:
        raise ValueError('%s is not the LPIPS %s weights: %s missing (evaluation/convert_lpips_weights.py %s makes it)'
                         % (path, net, ', '.join(missing[:3]), net))
    return arrays


def build_backbone(net, arrays):
    """Keras model: [-1, 1] RGB (B, H, W, 3) -> the five tap feature maps, with the given weights."""
    import keras
    image = keras.Input((None, None, 3))
    shift = np.array(SHIFT, np.float32)
    scale = np.array(SCALE, np.float32)
    x = keras.layers.Lambda(lambda t: (t - shift) / scale, name='scaling')(image)
    taps, convolution = [], 0
    for step in ARCHITECTURES[net]:
        if step == 'tap':
            taps.append(x)
        elif step[0] == 'pool':
            x = keras.layers.MaxPooling2D(step[1], step[2], padding='valid')(x)
        else:
            _, size, stride, padding = step
            kernel = arrays['conv%d_kernel' % convolution]
            if kernel.shape[:2] != (size, size) or kernel.shape[2] != x.shape[-1]:
                raise ValueError('LPIPS %s: conv%d_kernel has shape %s, expected (%d, %d, %d, filters)'
                                 % (net, convolution, kernel.shape, size, size, x.shape[-1]))
            layer = keras.layers.Conv2D(kernel.shape[3], size, strides=stride, padding='valid',
                                        activation='relu', name='conv%d' % convolution)
            x = layer(keras.layers.ZeroPadding2D(padding)(x) if padding else x)
            layer.set_weights([kernel, arrays['conv%d_bias' % convolution]])
            convolution += 1
    return keras.Model(image, taps, name='lpips_%s_backbone' % net)


def build_distance(net, arrays):
    """Keras model: two [-1, 1] RGB batches -> (B,) LPIPS distances."""
    import keras
    from keras import ops
    backbone = build_backbone(net, arrays)
    first, second = keras.Input((None, None, 3)), keras.Input((None, None, 3))
    weights = [arrays['lin%d' % i] for i in range(number_of_taps(net))]
    for i, (w, tap) in enumerate(zip(weights, backbone.outputs)):
        if w.shape != (tap.shape[-1],):
            raise ValueError('LPIPS %s: lin%d has shape %s, its tap %d channels' % (net, i, w.shape, tap.shape[-1]))

    def distance(features):
        count = len(features) // 2
        total = 0.0
        for w, f0, f1 in zip(weights, features[:count], features[count:]):
            n0 = f0 / (ops.sqrt(ops.sum(f0 * f0, axis=-1, keepdims=True)) + EPSILON)
            n1 = f1 / (ops.sqrt(ops.sum(f1 * f1, axis=-1, keepdims=True)) + EPSILON)
            total = total + ops.mean(ops.sum(ops.square(n0 - n1) * w, axis=-1), axis=(1, 2))
        return total

    features = backbone(first) + backbone(second)
    return keras.Model([first, second], keras.layers.Lambda(distance, name='distance')(features))


class LPIPS:
    """LPIPS of one variant (``net`` 'alex' or 'vgg') with the weights of a local file."""

    def __init__(self, weights_path, net='alex', batch_size=50):
        if net not in NETWORKS:
            raise ValueError('LPIPS network %r: choose from %s' % (net, ', '.join(NETWORKS)))
        if not os.path.isfile(weights_path):
            raise FileNotFoundError(missing_weights_message(net, os.path.dirname(weights_path) or '.'))
        self.net, self.weights_path, self.batch_size = net, weights_path, batch_size
        self.model = build_distance(net, read_weights(weights_path, net))

    def distances(self, images0, images1):
        """(N,) float64 LPIPS of uint8 (H, W, 3) image pairs."""
        if len(images0) != len(images1):
            raise ValueError('%d images against %d' % (len(images0), len(images1)))
        values = []
        for start in range(0, len(images0), self.batch_size):
            pair = [np.stack(images[start:start + self.batch_size]).astype(np.float32) / 127.5 - 1
                    for images in (images0, images1)]
            values.append(np.asarray(self.model.predict_on_batch(pair), np.float64).reshape(-1))
        return np.concatenate(values) if values else np.zeros(0)


def find_lpips(folder=None):
    """{net: LPIPS} for the variants whose file is in ``folder`` (default: Keras' cache folder), and
    {net: message} for those missing. A folder named by flag that holds neither file is an error."""
    from gan.inception_score import keras_cache_dir
    where = folder or keras_cache_dir()
    if folder and not os.path.isdir(folder):
        raise FileNotFoundError('--lpips_weights %s: no such folder' % folder)
    found, missing = {}, {}
    for net in NETWORKS:
        path = os.path.join(where, weights_name(net))
        if os.path.isfile(path):
            found[net] = LPIPS(path, net)
        else:
            missing[net] = missing_weights_message(net, where)
    if folder and not found:
        raise FileNotFoundError(' '.join(missing.values()))
    return found, missing


def convert_torch_weights(net, lins_path, backbone_path, out_path):
    """The .npz of ``net`` from the lpips package's lin weights (.pth) and torchvision's ImageNet
    backbone (.pth state dict); needs torch (for reading them) only here."""
    import torch
    lins = torch.load(lins_path, map_location='cpu', weights_only=True)
    backbone = torch.load(backbone_path, map_location='cpu', weights_only=True)
    conv_keys = sorted((key for key in backbone if key.startswith('features.') and key.endswith('.weight')),
                       key=lambda key: int(key.split('.')[1]))
    if len(conv_keys) != number_of_convolutions(net):
        raise ValueError('%s holds %d convolutions in features.*, the %s backbone has %d: is it torchvision\'s %s?'
                         % (backbone_path, len(conv_keys), net, number_of_convolutions(net),
                            {'alex': 'AlexNet', 'vgg': 'VGG16'}[net]))
    arrays = {}
    for i, key in enumerate(conv_keys):
        arrays['conv%d_kernel' % i] = backbone[key].numpy().transpose(2, 3, 1, 0)   # (out, in, h, w) -> (h, w, in, out)
        arrays['conv%d_bias' % i] = backbone[key[:-len('weight')] + 'bias'].numpy()
    for i in range(number_of_taps(net)):
        key = 'lin%d.model.1.weight' % i
        if key not in lins:
            raise ValueError('%s has no %s: is it the lpips package\'s weights/v0.1/%s.pth?' % (lins_path, key, net))
        arrays['lin%d' % i] = lins[key].numpy().reshape(-1)
    with open(out_path, 'wb') as f:
        np.savez(f, **{name: value.astype(np.float32) for name, value in arrays.items()})
    return out_path
