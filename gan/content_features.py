"""VGG19 features for the content (feature-matching / perceptual) loss, docs/reference.md "Losses and training".

The ImageNet weights come from a local file only (no download at run time): ``--vgg_weights`` or
Keras' own cache.
"""
import os

import keras
from keras import ops

# The reference subtracts Caffe's BGR means from the RGB channels, and only then reverses the
# channel order (a quirk kept for fidelity, docs/reference.md "Losses and training").
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
KERAS_VGG19_NOTOP = 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5'


def default_vgg_weights_path():
    keras_home = os.environ.get('KERAS_HOME', os.path.join(os.path.expanduser('~'), '.keras'))
    return os.path.join(keras_home, 'models', KERAS_VGG19_NOTOP)


def vgg_preprocess(images):
    """[-1, 1] RGB -> the reference's VGG input: 255*(x+1)/2, minus the BGR mean on RGB, then RGB->BGR."""
    pixels = 255.0 * (images + 1.0) / 2.0
    centred = pixels - ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype=images.dtype)
    return ops.flip(centred, axis=-1)


def resolve_vgg_weights(weights_path=None):
    path = weights_path or default_vgg_weights_path()
    if not os.path.exists(path):
        raise FileNotFoundError(
            'VGG19 ImageNet weights not found at %s. The content loss (--content_loss_layer) needs '
            'Keras\' file %s (from https://storage.googleapis.com/tensorflow/keras-applications/vgg19/%s): '
            'put it in %s or pass its path with --vgg_weights. Nothing is downloaded at run time.'
            % (path, KERAS_VGG19_NOTOP, KERAS_VGG19_NOTOP, os.path.dirname(default_vgg_weights_path()),))
    return path


def make_content_extractor(layer_names, weights_path=None):
    """A frozen keras.Model: [-1, 1] images (B, H, W, 3) -> list of the named VGG19 layers' outputs.

    Input preprocessing (``vgg_preprocess``) happens inside the model; any image size works."""
    path = resolve_vgg_weights(weights_path)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    vgg.load_weights(path)
    vgg.trainable = False
    images = keras.Input((None, None, 3), name='image')
    features = keras.Model(vgg.input, [vgg.get_layer(name).output for name in layer_names],
                           name='vgg19_features')
    outputs = features(keras.layers.Lambda(vgg_preprocess, name='vgg_preprocess')(images))
    if not isinstance(outputs, (list, tuple)):   # a one-layer model returns its tensor, not a list
        outputs = [outputs]
    extractor = keras.Model(images, list(outputs), name='content_features')
    extractor.trainable = False
    return extractor
