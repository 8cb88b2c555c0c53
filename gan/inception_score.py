"""Inception Score (Salimans et al. 2016) and the Inception networks that feed it and the FID
(docs/reference.md, "Scores").

Two networks give the class probabilities p(y|x) and the 2048 pool features:
- ``GraphInception``: the 2015 Inception graph (``classify_image_graph_def.pb`` from
  http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz) that the paper's
  scores used, imported with ``tf.compat.v1``; it takes the images at their own size (0-255) and
  resizes them itself; TensorFlow backend only. As in the reference (OpenAI's improved-gan code) the
  softmax is taken over ``pool_3`` times the weights of ``softmax/logits/MatMul``, without the bias
  (1008 classes).
- ``KerasInception``: Keras' InceptionV3 with its ImageNet weights, read from a local file (never
  downloaded); images are resized to 299x299 (bilinear) and scaled to [-1, 1]. Close to, but not
  the same numbers as, the 2015 graph. Runs on every Keras backend.
"""
import os

import numpy as np
from scipy.special import rel_entr
from tqdm import tqdm

KERAS_WEIGHTS_NAME = 'inception_v3_weights_tf_dim_ordering_tf_kernels.h5'
KERAS_WEIGHTS_URL = ('https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/'
                     + KERAS_WEIGHTS_NAME)
GRAPH_URL = 'http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz'
POOL_FEATURES = 2048


def inception_score(predictions, splits=10):
    """exp(E_x KL(p(y|x) || p(y))) on each of ``splits`` consecutive parts of the (N, classes)
    softmax predictions, p(y) being the part's mean prediction; returns (mean, std) over the
    parts. Parts are cut as the reference does: rows [i*N//splits, (i+1)*N//splits)."""
    predictions = np.asarray(predictions, dtype=np.float64)
    count = predictions.shape[0]
    if count < splits:
        raise ValueError('the Inception Score needs at least as many images as splits: %d images, '
                         '%d splits' % (count, splits))
    scores = []
    for i in range(splits):
        part = predictions[i * count // splits:(i + 1) * count // splits]
        marginal = part.mean(axis=0, keepdims=True)
        # rel_entr is p*log(p/q) with 0*log(0) = 0, so one-hot predictions are allowed.
        scores.append(np.exp(rel_entr(part, marginal).sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def get_inception_score(images, model, splits=10):
    """Inception Score (mean, std) of a list of uint8 (H, W, 3) images with an Inception model
    from ``load_inception``."""
    probabilities, _ = model.predict(images, want_features=False)
    return inception_score(probabilities, splits)


def keras_cache_dir():
    """Keras' own cache folder, where keras.applications keeps downloaded weights."""
    keras_home = os.environ.get('KERAS_HOME', os.path.join(os.path.expanduser('~'), '.keras'))
    return os.path.join(keras_home, 'models')


def missing_inception_message():
    """Which file to get and where to put it, for the scores that need Inception."""
    return ('Inception weights not found. Get %s and put it in %s (Keras\' cache) or give its path '
            'with --inception_weights; or, for the paper\'s exact protocol, extract '
            'classify_image_graph_def.pb from %s and give it with --inception_graph.'
            % (KERAS_WEIGHTS_URL, keras_cache_dir(), GRAPH_URL))


def find_keras_weights(weights_path=None):
    """The InceptionV3 weights file to use: ``weights_path`` when given, else Keras' cached file.
    Raises FileNotFoundError (saying what to get and where) when there is none."""
    path = weights_path or os.path.join(keras_cache_dir(), KERAS_WEIGHTS_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError('%s does not exist. %s' % (path, missing_inception_message()))
    return path


def load_inception(weights_path=None, graph_path=None, batch_size=50):
    """The 2015 graph when ``graph_path`` is given, else Keras' InceptionV3 with local weights."""
    if graph_path:
        return GraphInception(graph_path, batch_size=batch_size)
    return KerasInception(find_keras_weights(weights_path), batch_size=batch_size)


def check_graph_backend(graph_path):
    """The 2015 graph is a TensorFlow GraphDef: refused, in one line, on another Keras backend."""
    import keras
    backend = keras.backend.backend()
    if backend != 'tensorflow':
        raise ValueError('--inception_graph %s is a TensorFlow graph and the Keras backend is %s: run with the '
                         'TensorFlow backend (KERAS_BACKEND=tensorflow) for the paper-comparable Inception Score'
                         % (graph_path, backend))


class _BatchedInception:
    """Runs a network over a list of uint8 images in batches; subclasses define ``_run_batch``."""

    name = ''

    def __init__(self, batch_size):
        self.batch_size = batch_size

    def predict(self, images, want_features=True, progress=True):
        """(softmax (N, classes), pool features (N, 2048) or None) of uint8 (H, W, 3) images."""
        if len(images) == 0:
            raise ValueError('no images given to the Inception network')
        probabilities, features = [], []
        starts = range(0, len(images), self.batch_size)
        for start in tqdm(starts, desc='Inception (%s)' % self.name, disable=not progress):
            batch = np.stack(images[start:start + self.batch_size]).astype(np.float32)
            batch_probabilities, batch_features = self._run_batch(batch)
            probabilities.append(batch_probabilities)
            features.append(batch_features)
        return (np.concatenate(probabilities),
                np.concatenate(features).reshape(len(images), -1) if want_features else None)

    def _run_batch(self, batch):
        raise NotImplementedError


class KerasInception(_BatchedInception):
    """Keras' InceptionV3 (ImageNet, 1000 classes) loaded from a weights file, never downloaded.

    ``input_size`` is 299 for real scores; any size >= 75 works with the same weights file
    (the tests use a small one)."""

    name = 'Keras InceptionV3'
    comparable_to_paper = False  # other weights and preprocessing: close to the paper's IS, not the same

    def __init__(self, weights_path, batch_size=50, input_size=299):
        super().__init__(batch_size)
        import keras
        classifier = keras.applications.InceptionV3(include_top=True, weights=None,
                                                    input_shape=(input_size, input_size, 3))
        try:
            classifier.load_weights(weights_path)
        except Exception as error:
            raise ValueError('%s is not a Keras InceptionV3 ImageNet weights file (%s). %s'
                             % (weights_path, error, missing_inception_message())) from error
        self.weights_path = weights_path
        self.input_size = input_size
        self.network = keras.Model(classifier.input,
                                   [classifier.output, classifier.get_layer('avg_pool').output])

    def _run_batch(self, batch):
        import keras
        from keras.applications.inception_v3 import preprocess_input
        # keras.ops' bilinear resize is tf.image.resize's (half-pixel centres, no antialiasing) on
        # every backend.
        resized = keras.ops.image.resize(batch, (self.input_size, self.input_size), interpolation='bilinear')
        probabilities, features = self.network.predict_on_batch(preprocess_input(keras.ops.convert_to_numpy(resized)))
        return np.asarray(probabilities), np.asarray(features)


class GraphInception(_BatchedInception):
    """The 2015 Inception GraphDef (the reference's network), run in a tf.compat.v1 session.

    Its input tensor 'ExpandDims:0' is replaced by a batch placeholder of 0-255 images of any size;
    the graph resizes them to 299x299 itself."""

    name = '2015 Inception graph'
    comparable_to_paper = True  # the network the paper's Inception Scores were computed with

    def __init__(self, graph_path, batch_size=50):
        super().__init__(batch_size)
        check_graph_backend(graph_path)
        import tensorflow as tf
        if not os.path.isfile(graph_path):
            raise FileNotFoundError('%s does not exist. %s' % (graph_path, missing_inception_message()))
        graph_def = tf.compat.v1.GraphDef()
        try:
            with open(graph_path, 'rb') as f:
                graph_def.ParseFromString(f.read())
        except Exception as error:
            raise ValueError('%s is not a TensorFlow GraphDef (.pb) file: %s' % (graph_path, error)) from error
        self.graph_path = graph_path
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name='images')
            try:
                pool3, = tf.compat.v1.import_graph_def(graph_def, input_map={'ExpandDims:0': self.images},
                                                       return_elements=['pool_3:0'], name='inception')
                logit_weights = self.graph.get_operation_by_name('inception/softmax/logits/MatMul').inputs[1]
            except (ValueError, KeyError) as error:
                raise ValueError('%s is not the 2015 Inception graph (it needs the tensors ExpandDims:0, '
                                 'pool_3:0 and softmax/logits/MatMul): %s' % (graph_path, error)) from error
            self.features = tf.reshape(pool3, [-1, POOL_FEATURES])
            self.probabilities = tf.nn.softmax(tf.matmul(self.features, logit_weights))
        self.session = tf.compat.v1.Session(graph=self.graph)

    def _run_batch(self, batch):
        return self.session.run([self.probabilities, self.features], {self.images: batch})
