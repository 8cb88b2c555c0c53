"""Every network input of a (source, target) pair, for training and testing (docs/reference.md,
"Keypoints and files", "Pose maps", "Part transforms and masks").

Batches are dicts keyed by the model input names ('source_image', 'source_pose', 'target_pose',
'background' and the inputs of the warp type, warp_types.py) plus 'target_image'; a model takes
``{k: batch[k] for k in its input names}`` (conv_layers.make_inputs).

The tf.data pipeline (gan/dataset.py) decodes the images pair by pair, then computes everything that
comes from keypoints on whole batches: ``hm`` pose maps in TF ops, the warp type's inputs
(warp_types.WarpType.batch_inputs: part transforms and masks in one vectorised numpy call per batch).
Nothing is cached (``--cache_pose_rep`` is accepted): a map costs less to compute than the reference's
cached 128x64x18 float32 maps (590 KB per image, 18 GB for Market) cost to read back.
"""
import os
import re

import numpy as np
import tensorflow as tf
from PIL import Image

import pose_transform
import pose_utils
import warp_types
from gan.dataset import PairDataset

SPLITS = ('train', 'test')


# ---- One pair, numpy (test.py, demo.py) ---------------------------------------------------------

def _as_network_image(image):
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return pose_utils.preprocess_image(image)
    return image.astype(np.float32)


def pose_representation(kp, image_size, pose_rep_type, pose_map='stepped'):
    """(H, W, 18) ``hm`` maps (``pose_map`` stepped or smooth) or (H, W, 3) ``stickman`` of a (18, 2)
    keypoint array (docs/reference.md, "Pose maps")."""
    if pose_rep_type == 'hm':
        return pose_utils.cords_to_map(kp, image_size, pose_map=pose_map)
    if pose_rep_type == 'stickman':
        return pose_transform.make_stickman(kp, image_size).astype(np.float32)
    raise ValueError('pose_rep_type must be hm or stickman, got %r' % (pose_rep_type,))


def warp_inputs(source_kp, target_kp, image_size, warp_skip):
    """The inputs of the warp ``warp_skip`` for one pair, as a dict (warp_types.py)."""
    return warp_types.warp_type(warp_skip).pair_inputs(source_kp, target_kp, image_size)


def make_pair_inputs(source_image, source_kp, target_kp, image_size, pose_rep_type, warp_skip,
                     use_input_pose, use_bg, background=None, target_image=None, pose_map='stepped'):
    """dict of float32 arrays (no batch axis) for one pair: images uint8 (scaled to [-1, 1] here) or
    float already in [-1, 1]; keypoints (18, 2) (y, x), -1 missing. Add a batch axis with
    ``{k: v[None] for k, v in inputs.items()}``."""
    image_size = tuple(image_size)
    inputs = {'source_image': _as_network_image(source_image),
              'target_pose': pose_representation(target_kp, image_size, pose_rep_type, pose_map)}
    if use_input_pose:
        inputs['source_pose'] = pose_representation(source_kp, image_size, pose_rep_type, pose_map)
    if use_bg:
        if background is None:
            raise ValueError('use_bg needs the background image')
        inputs['background'] = _as_network_image(background)
    if target_image is not None:
        inputs['target_image'] = _as_network_image(target_image)
    inputs.update(warp_inputs(source_kp, target_kp, image_size, warp_skip))
    for name, value in inputs.items():
        if name.endswith('image') or name == 'background':
            if value.shape != image_size + (3,):
                raise ValueError('%s has shape %s, expected %s' % (name, value.shape, image_size + (3,)))
    return {name: np.asarray(value, dtype=np.float32) for name, value in inputs.items()}


# ---- TensorFlow versions of the per-pair work (inside tf.data) -------------------------------------

def heatmaps_tf(kp, image_size, sigma=pose_utils.HM_SIGMA, pose_map='stepped'):
    """(..., H, W, 18) float32 ``hm`` maps of (..., 18, 2) keypoints, as pose_utils.cords_to_map, in TF ops."""
    height, width = image_size
    present = tf.cast(tf.reduce_all(kp != pose_utils.MISSING_VALUE, axis=-1), tf.float32)   # (..., 18)
    if pose_map == 'stepped':
        kp = tf.cast(kp, tf.int32)
        squared = (tf.square(tf.range(height)[:, None, None] - kp[..., None, None, :, 0])
                   + tf.square(tf.range(width)[None, :, None] - kp[..., None, None, :, 1]))  # (..., H, W, 18)
        # The same integer steps and float32 values as the numpy maps, so both are equal bit for bit.
        steps = tf.minimum(-tf.math.floordiv(-squared, 2 * sigma ** 2), len(pose_utils.STEP_VALUES) - 1)
        # tf.where rather than a product: TensorFlow flushes float32 subnormals (e^-88 .. e^-103) to 0.
        return tf.where(present[..., None, None, :] > 0, tf.gather(tf.constant(pose_utils.STEP_VALUES), steps), 0.0)
    kp = tf.cast(kp, tf.float32)
    # exp(-(dy^2 + dx^2)/2s^2) = row factor * column factor: two small exps instead of H*W*18.
    rows = tf.exp(-tf.square(tf.range(height, dtype=tf.float32)[:, None] - kp[..., None, :, 0]) / (2.0 * sigma ** 2))
    cols = tf.exp(-tf.square(tf.range(width, dtype=tf.float32)[:, None] - kp[..., None, :, 1]) / (2.0 * sigma ** 2))
    return (rows * present[..., None, :])[..., :, None, :] * cols[..., None, :, :]


def _read_image_tf(path, image_size):
    """(H, W, 3) float32 in [-1, 1]; an image of another size fails naming its path.

    The training pipeline's reader: TensorFlow ops, so that tf.data decodes in parallel threads inside
    the graph, where pose_utils.load_image (PIL, the reader of every numpy path) would hold the GIL."""
    data = tf.io.read_file(path)
    # INTEGER_ACCURATE: the same pixels as PIL / skimage.io.imread (the reference's reader); TF's
    # default JPEG DCT differs by up to a few levels.
    image = tf.cond(tf.io.is_jpeg(data),
                    lambda: tf.io.decode_jpeg(data, channels=3, dct_method='INTEGER_ACCURATE'),
                    lambda: tf.io.decode_png(data, channels=3))
    shape, expected = tf.shape(image), tf.constant(image_size, tf.int32)
    with tf.control_dependencies([tf.debugging.Assert(
            tf.reduce_all(tf.equal(shape[:2], expected)),
            ['image', path, 'has size (H, W, C)', shape, 'expected (H, W)', expected])]):
        image = tf.ensure_shape(tf.identity(image), tuple(image_size) + (3,))
    return (tf.cast(image, tf.float32) / 255.0 - 0.5) * 2.0


def find_image(name, folders, what='image'):
    """The first folder holding ``name`` (train folder first, then test: docs/reference.md, "Keypoints
    and files")."""
    for folder in folders:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError('%s %s not found in %s' % (what, name, ' or '.join(folders)))


# The last bytes of a whole file: JPEG's end-of-image marker, PNG's IEND chunk. A file cut short
# (an interrupted copy) lacks them, and the pipeline's decoder fails on it without naming it.
FILE_ENDS = {'JPEG': b'\xff\xd9', 'PNG': b'IEND\xaeB`\x82'}


def check_image(path, image_size):
    """ValueError naming ``path`` unless it is a whole JPEG or PNG file (what _read_image_tf decodes)
    of ``image_size``. Reads the header and the last bytes only: 30 us per image against 120 us for a
    full decode of a 128x64 JPEG (Market's 32,668 images: 1 s instead of 4 s)."""
    try:
        with Image.open(path) as image:   # reads the header only
            width, height = image.size
            image_format = image.format
    except OSError as error:
        raise ValueError('%s is not a readable image (%s): replace it or remove its pairs' % (path, error)) from None
    if image_format not in FILE_ENDS:
        raise ValueError('%s is a %s image; the pipeline reads JPEG and PNG only: convert it' % (path, image_format))
    with open(path, 'rb') as f:
        f.seek(max(os.path.getsize(path) - 64, 0))
        tail = f.read().rstrip(b'\x00')   # some writers pad a JPEG with zeros after its end
    if not tail.endswith(FILE_ENDS[image_format]):
        raise ValueError('%s is cut short (no %s end marker): replace it with a whole copy' % (path, image_format))
    if (height, width) != tuple(image_size):
        raise ValueError('image %s is %dx%d (HxW), expected %dx%d for this dataset'
                         % (path, height, width, image_size[0], image_size[1]))


def background_name(image_name):
    return image_name.replace('.jpg', '_BG.jpg')


def load_keypoints(annotations_files, image_size):
    """name -> (18, 2) keypoints of every annotation file, checked against the images' size."""
    keypoints = {}
    for path in annotations_files:
        keypoints.update(pose_utils.load_annotations(path, image_size))
    return keypoints


def load_usable_pairs(pairs_file, keypoints, skip_invalid_pairs=False):
    """(pairs, skipped): the pairs of ``pairs_file`` whose images have keypoints and a torso. A pair
    without a torso is refused naming its line (pose_utils.load_pairs), or with
    ``skip_invalid_pairs`` left out, listed in ``skipped`` as (line, pair) and counted aloud."""
    skipped = [] if skip_invalid_pairs else None
    pairs = pose_utils.load_pairs(pairs_file, keypoints=keypoints, skipped=skipped)
    if skipped:
        print('Skipped %d of the %d pairs of %s: a pose lacks a torso point (the first at line %d)'
              % (len(skipped), len(pairs) + len(skipped), pairs_file, skipped[0][0]))
    return pairs, skipped or []


class PoseHMDataset(PairDataset):
    """Training and test pairs of a dataset in the reference layout, as tf.data dict batches.

    ``train_dataset(first_batch, number_of_batches)``: batches of the reproducible training stream
    (gan/dataset.py); ``test_batches(batch_size)``: (list of (from, to), numpy dict batch) in
    pairs-file order. Missing, unreadable or cut-short images, images of the wrong size and pairs
    whose pose lacks a torso are refused when the dataset is built, naming the file (and line); with
    ``skip_invalid_pairs`` such pairs are left out instead, counted in ``skipped_pairs``."""

    def __init__(self, image_size, batch_size, images_dirs, annotations_files, pairs_files,
                 pose_rep_type='hm', warp_skip='mask', use_input_pose=True, use_bg=False, pose_map='stepped',
                 bg_images_dirs=None, seed=0, check_images=True, parallel_calls=tf.data.AUTOTUNE,
                 skip_invalid_pairs=False):
        super().__init__(batch_size, seed, parallel_calls)
        self.image_size = tuple(image_size)
        self.pose_rep_type = pose_rep_type
        self.pose_map = pose_map
        self.warp = warp_types.warp_type(warp_skip)
        self.use_input_pose = bool(use_input_pose)
        self.use_bg = bool(use_bg)
        annotations = load_keypoints(annotations_files, self.image_size)
        usable = {split: load_usable_pairs(pairs_files[split], annotations, skip_invalid_pairs) for split in SPLITS}
        self.pairs = {split: usable[split][0] for split in SPLITS}
        self.skipped_pairs = {split: usable[split][1] for split in SPLITS}
        names = sorted({name for split in SPLITS for pair in self.pairs[split] for name in pair})
        self.names = names
        index = {name: i for i, name in enumerate(names)}
        self.keypoints = np.stack([annotations[name] for name in names]).astype(np.int32) if names else \
            np.zeros((0, 18, 2), np.int32)
        self.image_paths = [find_image(name, images_dirs) for name in names]
        self.pair_index = {split: np.array([[index[fr], index[to]] for fr, to in self.pairs[split]],
                                           dtype=np.int64).reshape(-1, 2) for split in SPLITS}
        self.background_paths = None
        if self.use_bg:
            targets = sorted({to for split in SPLITS for _, to in self.pairs[split]})
            found = {to: find_image(background_name(to), bg_images_dirs, 'background') for to in targets}
            self.background_paths = [found.get(name, '') for name in names]
        if check_images:
            for path in self.image_paths + [path for path in self.background_paths or [] if path]:
                check_image(path, self.image_size)

    @classmethod
    def from_args(cls, args, check_images=True):
        """From the flags of cmd.train_parser (with cmd.add_dataset_paths applied)."""
        return cls(args.image_size, args.batch_size,
                   images_dirs=[args.images_dir_train, args.images_dir_test],
                   annotations_files=[args.annotations_file_train, args.annotations_file_test],
                   pairs_files={'train': args.pairs_file_train, 'test': args.pairs_file_test},
                   pose_rep_type=args.pose_rep_type, warp_skip=args.warp_skip,
                   use_input_pose=args.use_input_pose, use_bg=args.use_bg, pose_map=args.pose_map,
                   bg_images_dirs=[args.bg_images_dir_train, args.bg_images_dir_test], seed=args.seed,
                   check_images=check_images, skip_invalid_pairs=args.skip_invalid_pairs)

    def number_of_pairs(self, split):
        return len(self.pairs[split])

    # ---- the per-pair map (files) and the per-batch map (everything from keypoints) -------------
    def _pair_fn(self, split):
        pairs = tf.constant(self.pair_index[split])
        keypoints = tf.constant(self.keypoints)
        paths = tf.constant(self.image_paths or [''])
        backgrounds = tf.constant(self.background_paths) if self.use_bg else None
        image_size = self.image_size

        def load(pair_id):
            source, target = pairs[pair_id][0], pairs[pair_id][1]
            pair = {'source_image': _read_image_tf(paths[source], image_size),
                    'target_image': _read_image_tf(paths[target], image_size),
                    'source_keypoints': keypoints[source], 'target_keypoints': keypoints[target]}
            if self.use_bg:
                pair['background'] = _read_image_tf(backgrounds[target], image_size)
            return pair
        return load

    def _pose_batch_tf(self, kp):
        if self.pose_rep_type == 'hm':
            return heatmaps_tf(kp, self.image_size, pose_map=self.pose_map)

        def stickmen(kp_batch):
            return np.stack([pose_transform.make_stickman(k, self.image_size) for k in kp_batch]).astype(np.float32)
        return tf.ensure_shape(tf.numpy_function(stickmen, [kp], tf.float32), (None,) + self.image_size + (3,))

    def _batch_fn(self, split):
        def compute(pairs):
            batch = dict(pairs)
            source_kp, target_kp = batch.pop('source_keypoints'), batch.pop('target_keypoints')
            batch['target_pose'] = self._pose_batch_tf(target_kp)
            if self.use_input_pose:
                batch['source_pose'] = self._pose_batch_tf(source_kp)
            batch.update(self.warp.batch_inputs(source_kp, target_kp, self.image_size))
            return batch
        return compute

    def test_batches(self, batch_size):
        """Yields (list of (from, to) names, dict of numpy arrays) over the test pairs in file order.
        An image the decoder refuses (damage that the checks at build time do not see) raises
        ValueError naming it."""
        start = 0
        batches = self.test_dataset(batch_size).as_numpy_iterator()
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except tf.errors.OpError as error:
                raise ValueError(self._pipeline_error(start, batch_size, error)) from None
            count = len(batch['source_image'])
            yield self.pairs['test'][start:start + count], batch
            start += count

    def _pipeline_error(self, start, batch_size, error):
        """One line for a tf.data error in the test batch from pair ``start``: the first of its files
        that fails to load on its own, else TensorFlow's first line."""
        pair_ids = self.pair_index['test'][start:start + batch_size]
        paths = [self.image_paths[i] for i in np.unique(pair_ids)]
        if self.use_bg:
            paths += [self.background_paths[i] for i in np.unique(pair_ids[:, 1])]
        for path in paths:
            try:
                _read_image_tf(path, self.image_size)
            except tf.errors.OpError as decode_error:
                return '%s cannot be read (%s): replace it or remove its pairs' % (path, _first_line(decode_error))
        return 'test pairs %d to %d: %s' % (start + 1, start + len(pair_ids), _first_line(error))


def _first_line(tf_error):
    """A TensorFlow error's message without its ``{{function_node ...}}`` prefix, first line only."""
    return re.sub(r'^\{\{.*?\}\}\s*', '', tf_error.message).splitlines()[0]
