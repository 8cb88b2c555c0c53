"""Inception Score math, and both Inception loaders on networks the tests make themselves."""
import h5py
import numpy as np
import pytest

from gan.inception_score import (KERAS_WEIGHTS_NAME, GraphInception, KerasInception, find_keras_weights,
                                 get_inception_score, inception_score, load_inception)


def test_uniform_predictions_give_one():
    mean, std = inception_score(np.full((50, 7), 1 / 7), splits=10)
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0)


def test_equally_likely_one_hot_classes_give_their_number():
    classes = 4
    predictions = np.eye(classes)[np.arange(10 * classes) % classes]  # every split holds each class once
    mean, std = inception_score(predictions, splits=10)
    assert mean == pytest.approx(classes) and std == pytest.approx(0.0, abs=1e-12)


def test_two_images_by_hand():
    predictions = np.array([[1.0, 0.0], [0.5, 0.5]])
    marginal = np.array([0.75, 0.25])
    kl_first = np.log(1 / 0.75)
    kl_second = 0.5 * np.log(0.5 / marginal[0]) + 0.5 * np.log(0.5 / marginal[1])
    mean, _ = inception_score(predictions, splits=1)
    assert mean == pytest.approx(np.exp((kl_first + kl_second) / 2))


def test_uneven_splits_match_a_loop_written_differently():
    rng = np.random.default_rng(0)
    predictions = rng.dirichlet(np.full(6, 0.3), size=23)
    expected = []
    bounds = [i * 23 // 10 for i in range(11)]
    for start, stop in zip(bounds[:-1], bounds[1:]):
        part = predictions[start:stop]
        marginal = part.sum(0) / len(part)
        expected.append(np.exp(np.mean([np.sum(p * np.log(p / marginal)) for p in part])))
    mean, std = inception_score(predictions, splits=10)
    assert mean == pytest.approx(np.mean(expected)) and std == pytest.approx(np.std(expected))


def test_too_few_images_for_the_splits_is_refused():
    with pytest.raises(ValueError, match='3 images, 10 splits'):
        inception_score(np.full((3, 2), 0.5), splits=10)


def test_missing_keras_weights_say_what_to_get(tmp_path, monkeypatch):
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'keras-home'))
    with pytest.raises(FileNotFoundError) as error:
        find_keras_weights()
    message = str(error.value)
    assert KERAS_WEIGHTS_NAME in message and str(tmp_path / 'keras-home' / 'models') in message
    assert '--inception_weights' in message and '--inception_graph' in message
    with pytest.raises(FileNotFoundError, match='nowhere.h5'):
        load_inception(weights_path=str(tmp_path / 'nowhere.h5'))


def save_random_keras_inception(path):
    """A randomly initialised InceptionV3 (75x75 input, for speed; the weights fit any input size)
    saved as a Keras 2 style h5 file, like the one keras.applications caches."""
    import keras
    from keras.src.legacy.saving import legacy_h5_format
    keras.utils.set_random_seed(0)
    network = keras.applications.InceptionV3(weights=None, input_shape=(75, 75, 3))
    with h5py.File(path, 'w') as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, network)
    return network


@pytest.fixture(scope='module')
def random_keras_inception(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('keras-home') / KERAS_WEIGHTS_NAME)
    return save_random_keras_inception(path), path


@pytest.mark.slow
def test_keras_inception_loads_the_file_and_batches(random_keras_inception):
    import tensorflow as tf
    network, path = random_keras_inception
    images = [np.random.default_rng(i).integers(0, 256, (32, 16, 3), dtype=np.uint8) for i in range(5)]
    model = KerasInception(path, batch_size=2, input_size=75)
    probabilities, features = model.predict(images, progress=False)
    assert probabilities.shape == (5, 1000) and features.shape == (5, 2048)
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)
    # The saving network on the same resized, [-1, 1] scaled images: the weights were loaded.
    scaled = tf.image.resize(np.stack(images).astype(np.float32), (75, 75)).numpy() / 127.5 - 1
    expected = np.asarray(network(scaled, training=False))
    assert np.allclose(probabilities, expected, atol=1e-5)
    assert get_inception_score(images, model, splits=5)[0] == pytest.approx(
        inception_score(expected, splits=5)[0], rel=1e-4)
    # test.py says these scores are not the paper's network.
    import test as test_script
    provenance = test_script.inception_provenance(model)
    assert provenance['comparable_to_paper'] is False and 'NOT comparable' in provenance['note']


@pytest.mark.slow
def test_keras_inception_refuses_another_file(tmp_path):
    path = str(tmp_path / 'other.h5')
    with h5py.File(path, 'w') as f:
        f.attrs['layer_names'] = [b'dense']
        f.create_group('dense').attrs['weight_names'] = []
    with pytest.raises(ValueError, match='other.h5 is not a Keras InceptionV3'):
        KerasInception(path, input_size=75)


def write_fake_2015_graph(path, classes=5):
    """A GraphDef with the 2015 graph's tensor names: 'ExpandDims' (the image batch), 'pool_3'
    (N, 1, 1, 2048) = spatial mean times a matrix, and 'softmax/logits/MatMul' (pool_3 times W)."""
    import tensorflow as tf
    rng = np.random.default_rng(0)
    projection = rng.normal(size=(3, 2048)).astype(np.float32) / 100
    logit_weights = rng.normal(size=(2048, classes)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        decoded = tf.compat.v1.placeholder(tf.float32, [1, None, None, 3], name='DecodeJpeg')
        images = tf.identity(decoded, name='ExpandDims')
        pooled = tf.matmul(tf.reduce_mean(images, axis=[1, 2]), tf.constant(projection))
        pool3 = tf.reshape(pooled, [-1, 1, 1, 2048], name='pool_3')
        tf.matmul(tf.reshape(pool3, [-1, 2048]), tf.constant(logit_weights), name='softmax/logits/MatMul')
    with open(path, 'wb') as f:
        f.write(graph.as_graph_def().SerializeToString())
    return projection, logit_weights


def test_graph_inception_feeds_batches_and_takes_softmax_of_pool3(tmp_path):
    path = str(tmp_path / 'classify_image_graph_def.pb')
    projection, logit_weights = write_fake_2015_graph(path)
    images = [np.random.default_rng(i).integers(0, 256, (12, 6, 3), dtype=np.uint8) for i in range(7)]
    model = load_inception(weights_path='ignored-when-a-graph-is-given', graph_path=path, batch_size=3)
    assert isinstance(model, GraphInception)
    probabilities, features = model.predict(images, progress=False)
    expected_features = np.stack(images).astype(np.float64).mean(axis=(1, 2)) @ projection
    logits = expected_features @ logit_weights
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    assert np.allclose(features, expected_features, rtol=1e-4, atol=1e-4)
    assert np.allclose(probabilities, expected, atol=1e-4)


def test_graph_inception_refuses_other_files(tmp_path):
    import tensorflow as tf
    not_a_graph = tmp_path / 'garbage.pb'
    not_a_graph.write_bytes(b'\xff\x00 not a protobuf')
    with pytest.raises(ValueError, match='garbage.pb is not a TensorFlow GraphDef'):
        GraphInception(str(not_a_graph))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.placeholder(tf.float32, [None, 3], name='x')
    other = tmp_path / 'other.pb'
    other.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(ValueError, match='other.pb is not the 2015 Inception graph'):
        GraphInception(str(other))
    with pytest.raises(FileNotFoundError, match='missing.pb'):
        GraphInception(str(tmp_path / 'missing.pb'))


def half_pixel_bilinear(images, size):
    """tf.image.resize's bilinear resize (half-pixel centres, no antialiasing): output pixel o reads the
    input at (o + 0.5) * in / out - 0.5 (in float32, as the kernel computes it), clamped to the image,
    between its two neighbours; the interpolation in float64."""
    out = images.astype(np.float64)
    for axis, length in ((1, size[0]), (2, size[1])):
        scale = np.float32(out.shape[axis]) / np.float32(length)
        source = (np.arange(length, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
        source = np.clip(source, 0, out.shape[axis] - 1).astype(np.float64)
        low = np.floor(source).astype(int)
        high = np.minimum(low + 1, out.shape[axis] - 1)
        shape = [1, 1, 1, 1]
        shape[axis] = length
        weight = (source - low).reshape(shape)
        out = np.take(out, low, axis=axis) * (1 - weight) + np.take(out, high, axis=axis) * weight
    return out


RESIZE_SIZES = ((299, 299), (75, 75), (40, 20))
RESIZE_ON_A_BACKEND = '''
import sys
import keras
import numpy as np
batch = np.load(sys.argv[1])
np.savez(sys.argv[2], *[keras.ops.convert_to_numpy(keras.ops.image.resize(batch, size, interpolation='bilinear'))
                        for size in %r])
''' % (RESIZE_SIZES,)


@pytest.mark.parametrize('backend', ['tensorflow', 'jax'])
def test_keras_resize_is_tensorflows_bilinear_resize(backend, tmp_path):
    """KerasInception resizes with keras.ops.image.resize (bilinear): on every backend that is
    tf.image.resize's half-pixel bilinear resize (the 2015 graph's), up and down, to float32 rounding."""
    import os
    import sys
    from tests import subprocesses
    if backend == 'jax':
        pytest.importorskip('jax')
    batch = np.random.default_rng(0).integers(0, 256, (2, 128, 64, 3)).astype(np.float32)
    np.save(tmp_path / 'batch.npy', batch)
    env = dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS='cpu', TF_CPP_MIN_LOG_LEVEL='3')
    result = subprocesses.run([sys.executable, '-c', RESIZE_ON_A_BACKEND, str(tmp_path / 'batch.npy'),
                               str(tmp_path / 'resized.npz')], 120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    with np.load(tmp_path / 'resized.npz') as resized:
        for index, size in enumerate(RESIZE_SIZES):
            # Each backend rounds the float32 sampling coordinate its own way: up to 128 * 2^-24 px,
            # times a difference of up to 255 between neighbours (align_corners or antialiasing would
            # differ by whole units).
            np.testing.assert_allclose(resized['arr_%d' % index], half_pixel_bilinear(batch, size),
                                       rtol=0, atol=128 * 2.0 ** -24 * 255, err_msg=str(size))


def test_the_2015_graph_is_refused_on_jax_in_one_line(tmp_path):
    import os
    from tests import subprocesses
    import sys
    pytest.importorskip('jax')
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    check = ('import sys\nfrom gan.inception_score import load_inception\n'
             'try:\n    load_inception(graph_path=%r)\nexcept ValueError as error:\n'
             '    print(error)\nprint("tensorflow" in sys.modules)\n' % str(tmp_path / 'graph.pb'))
    result = subprocesses.run([sys.executable, '-c', check], 120, cwd=root, env=dict(os.environ, KERAS_BACKEND='jax'))
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 2, result.stderr[-2000:]
    assert 'graph.pb is a TensorFlow graph and the Keras backend is jax' in lines[0]
    assert 'KERAS_BACKEND=tensorflow' in lines[0] and lines[1] == 'False'
