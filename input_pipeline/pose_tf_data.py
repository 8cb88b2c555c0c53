"""The tf.data side of pose_dataset.PoseHMDataset (TensorFlow backend only: imported by its
``train_dataset``, ``test_dataset`` and, on the TensorFlow backend, ``test_batches``).

Images are decoded in TensorFlow ops, pair by pair, so that tf.data decodes in parallel threads inside
the graph (PIL would hold the GIL); stepped ``hm`` pose maps are TensorFlow ops on whole batches; the
rest (smooth maps, stickmen, the warp types' inputs) is pose_batches' numpy code through
``tf.numpy_function``, the code of the numpy pipeline. Every value equals the numpy pipeline's bit for bit.
"""
import numpy as np
import tensorflow as tf

import pose_utils
from gan import tf_data
from input_pipeline import pose_batches


def heatmaps_tf(kp, image_size, sigma=pose_utils.HM_SIGMA, pose_map='stepped'):
    """(..., H, W, 18) float32 ``hm`` maps of (..., 18, 2) keypoints, as pose_utils.cords_to_map: stepped
    in TF ops; smooth by pose_batches.heatmaps (TensorFlow's float32 exp and its flushing of subnormal
    products would change last bits)."""
    height, width = image_size
    if pose_map != 'stepped':
        kp = tf.convert_to_tensor(kp)
        flat = tf.reshape(kp, (-1, 18, 2))
        maps = tf.numpy_function(lambda k: pose_batches.heatmaps(k, tuple(image_size), pose_map, sigma),
                                 [flat], tf.float32)
        return tf.reshape(maps, tf.concat([tf.shape(kp)[:-2], [height, width, 18]], axis=0))
    present = tf.cast(tf.reduce_all(kp != pose_utils.MISSING_VALUE, axis=-1), tf.float32)   # (..., 18)
    kp = tf.cast(kp, tf.int32)
    squared = (tf.square(tf.range(height)[:, None, None] - kp[..., None, None, :, 0])
               + tf.square(tf.range(width)[None, :, None] - kp[..., None, None, :, 1]))  # (..., H, W, 18)
    # The same integer steps and float32 values as the numpy maps, so both are equal bit for bit.
    steps = tf.minimum(-tf.math.floordiv(-squared, 2 * sigma ** 2), len(pose_utils.STEP_VALUES) - 1)
    # tf.where rather than a product: TensorFlow flushes float32 subnormals (e^-88 .. e^-103) to 0.
    return tf.where(present[..., None, None, :] > 0, tf.gather(tf.constant(pose_utils.STEP_VALUES), steps), 0.0)


def read_image_tf(path, image_size):
    """(H, W, 3) float32 in [-1, 1]; an image of another size fails naming its path.

    INTEGER_ACCURATE: the same pixels as PIL (pose_batches.read_image, the reference's skimage reader);
    TF's default JPEG DCT differs by up to a few levels. Grey, grey+alpha, palette, RGBA (alpha
    dropped) and CMYK JPEG files give the pixels of PIL's convert('RGB') too; 16-bit PNGs, which they
    would not, are refused when the dataset is built (pose_dataset.check_image)."""
    data = tf.io.read_file(path)
    image = tf.cond(tf.io.is_jpeg(data),
                    lambda: tf.io.decode_jpeg(data, channels=3, dct_method='INTEGER_ACCURATE'),
                    lambda: tf.io.decode_png(data, channels=3))
    shape, expected = tf.shape(image), tf.constant(image_size, tf.int32)
    with tf.control_dependencies([tf.debugging.Assert(
            tf.reduce_all(tf.equal(shape[:2], expected)),
            ['image', path, 'has size (H, W, C)', shape, 'expected (H, W)', expected])]):
        image = tf.ensure_shape(tf.identity(image), tuple(image_size) + (3,))
    return (tf.cast(image, tf.float32) / 255.0 - 0.5) * 2.0


def pair_fn(dataset, split):
    """The per-pair map of PoseHMDataset ``dataset``: images decoded, keypoints looked up."""
    pairs = tf.constant(dataset.pair_index[split])
    keypoints = tf.constant(dataset.keypoints)
    paths = tf.constant(dataset.image_paths or [''])
    backgrounds = tf.constant(dataset.background_paths) if dataset.use_bg else None
    image_size = dataset.image_size

    def load(pair_id):
        source, target = pairs[pair_id][0], pairs[pair_id][1]
        pair = {'source_image': read_image_tf(paths[source], image_size),
                'target_image': read_image_tf(paths[target], image_size),
                'source_keypoints': keypoints[source], 'target_keypoints': keypoints[target]}
        if dataset.use_bg:
            pair['background'] = read_image_tf(backgrounds[target], image_size)
        return pair
    return load


def _pose_batch(dataset, kp):
    if dataset.pose_rep_type == 'hm' and dataset.pose_map == 'stepped':
        return heatmaps_tf(kp, dataset.image_size, pose_map=dataset.pose_map)
    channels = 18 if dataset.pose_rep_type == 'hm' else 3

    def maps(kp_batch):
        return {'pose': pose_batches.pose_maps(kp_batch, dataset.image_size, dataset.pose_rep_type,
                                               dataset.pose_map)}
    return tf_data.numpy_batch(maps, [kp], {'pose': dataset.image_size + (channels,)})['pose']


def batch_fn(dataset, split):
    """The per-batch map: pose maps and the warp type's inputs from the batch's keypoints."""
    image_size = dataset.image_size

    def compute(pairs):
        batch = dict(pairs)
        source_kp, target_kp = batch.pop('source_keypoints'), batch.pop('target_keypoints')
        batch['target_pose'] = _pose_batch(dataset, target_kp)
        if dataset.use_input_pose:
            batch['source_pose'] = _pose_batch(dataset, source_kp)
        batch.update(tf_data.numpy_batch(
            lambda s, t: dataset.warp.batch_inputs(s, t, image_size), [source_kp, target_kp],
            dataset.warp.input_shapes(image_size)))
        return batch
    return compute


def test_batches(dataset, batch_size):
    """PoseHMDataset.test_batches through tf.data: an error of the pipeline becomes a ValueError naming
    the file that fails to load."""
    start = 0
    batches = dataset.test_dataset(batch_size).as_numpy_iterator()
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except tf.errors.OpError as error:
            raise ValueError(_pipeline_error(dataset, start, batch_size, error)) from None
        count = len(batch['source_image'])
        yield dataset.pairs['test'][start:start + count], batch
        start += count


def _pipeline_error(dataset, start, batch_size, error):
    """One line for a tf.data error in the test batch from pair ``start``: the first of its files that
    fails to load on its own, else TensorFlow's first line."""
    pair_ids = dataset.pair_index['test'][start:start + batch_size]
    paths = [dataset.image_paths[i] for i in np.unique(pair_ids)]
    if dataset.use_bg:
        paths += [dataset.background_paths[i] for i in np.unique(pair_ids[:, 1])]
    for path in paths:
        try:
            read_image_tf(path, dataset.image_size)
        except tf.errors.OpError as decode_error:
            return '%s cannot be read (%s): replace it or remove its pairs' % (path, tf_data.first_line(decode_error))
    return 'test pairs %d to %d: %s' % (start + 1, start + len(pair_ids), tf_data.first_line(error))
