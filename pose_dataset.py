"""Every network input of a (source, target) pair, for training and testing (docs/reference.md,
"Keypoints and files", "Pose maps", "Part transforms and masks").

Batches are dicts keyed by the model input names ('source_image', 'source_pose', 'target_pose',
'background' and the inputs of the warp type, warps/warp_types.py) plus 'target_image'; a model takes
``{k: batch[k] for k in its input names}`` (conv_layers.make_inputs).

Two pipelines make the same batches bit for bit (gan/dataset.py): tf.data on the TensorFlow backend
(input_pipeline/pose_tf_data.py, imported only there), and numpy code in worker processes on every backend
(input_pipeline/pose_batches.py). Both read the images pair by pair and compute everything that comes from
keypoints on whole batches: pose maps, the warp type's inputs (warp_types.WarpType.batch_inputs: part
transforms and masks in one vectorised numpy call per batch). This module imports no tensorflow.
Nothing is cached (``--cache_pose_rep`` is accepted): a map costs less to compute than the reference's
cached 128x64x18 float32 maps (590 KB per image, 18 GB for Market) cost to read back.
"""
import os

import keras
import numpy as np
from PIL import Image

import pose_transform
import pose_utils
from gan.dataset import PairDataset
from input_pipeline import pose_batches
from warps import warp_types

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
    """The inputs of the warp ``warp_skip`` for one pair, as a dict (warps/warp_types.py)."""
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
    """ValueError naming ``path`` unless it is a whole JPEG or PNG file (what both pipelines decode)
    of ``image_size``. Reads the header and the last bytes only: 30 us per image against 120 us for a
    full decode of a 128x64 JPEG (Market's 32,668 images: 1 s instead of 4 s)."""
    try:
        with Image.open(path) as image:   # reads the header only
            width, height = image.size
            image_format, mode = image.format, image.mode
    except OSError as error:
        raise ValueError('%s is not a readable image (%s): replace it or remove its pairs' % (path, error)) from None
    if image_format not in FILE_ENDS:
        raise ValueError('%s is a %s image; the pipeline reads JPEG and PNG only: convert it' % (path, image_format))
    if mode.startswith(('I', 'F')):   # TensorFlow scales 16 bits to 8, PIL's convert('RGB') clips them
        raise ValueError('%s has 16-bit or floating-point pixels (mode %s): save it as 8-bit RGB' % (path, mode))
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
    """Training and test pairs of a dataset in the reference layout, as dict batches.

    ``train_dataset(first_batch, number_of_batches)``: batches of the reproducible training stream as a
    tf.data.Dataset (TensorFlow backend); ``train_batches(...)``: the same batches as numpy dicts made in
    ``workers`` processes (gan/dataset.py); ``test_batches(batch_size)``: (list of (from, to), numpy dict
    batch) in pairs-file order. Missing, unreadable or cut-short images, images of the wrong size and
    pairs whose pose lacks a torso are refused when the dataset is built, naming the file (and line);
    with ``skip_invalid_pairs`` such pairs are left out instead, counted in ``skipped_pairs``."""

    def __init__(self, image_size, batch_size, images_dirs, annotations_files, pairs_files,
                 pose_rep_type='hm', warp_skip='mask', use_input_pose=True, use_bg=False, pose_map='stepped',
                 bg_images_dirs=None, seed=0, check_images=True, parallel_calls=None,
                 skip_invalid_pairs=False, workers=None):
        super().__init__(batch_size, seed, parallel_calls, workers)
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
                   check_images=check_images, skip_invalid_pairs=args.skip_invalid_pairs,
                   workers=getattr(args, 'data_workers', None))

    def number_of_pairs(self, split):
        return len(self.pairs[split])

    # ---- tf.data: the per-pair map (files) and the per-batch map (everything from keypoints) --------
    def _pair_fn(self, split):
        from input_pipeline import pose_tf_data
        return pose_tf_data.pair_fn(self, split)

    def _batch_fn(self, split):
        from input_pipeline import pose_tf_data
        return pose_tf_data.batch_fn(self, split)

    # ---- numpy: both maps in one picklable function ----------------------------------------------
    def batch_maker(self, split):
        return pose_batches.PairBatchMaker(
            self.pair_index[split], self.keypoints, self.image_paths, self.background_paths, self.image_size,
            self.pose_rep_type, self.pose_map, self.use_input_pose, self.use_bg, self.warp.batch_inputs)

    def test_batches(self, batch_size):
        """Yields (list of (from, to) names, dict of numpy arrays) over the test pairs in file order:
        through tf.data on the TensorFlow backend, the numpy pipeline on the others. An image the
        decoder refuses (damage that the checks at build time do not see) raises ValueError naming it."""
        if keras.backend.backend() == 'tensorflow':
            from input_pipeline import pose_tf_data
            yield from pose_tf_data.test_batches(self, batch_size)
            return
        start = 0
        with self.numpy_test_batches(batch_size) as batches:
            for batch in batches:
                count = len(batch['source_image'])
                yield self.pairs['test'][start:start + count], batch
                start += count


# Names of the tf.data side, kept importable from here; reading them imports tensorflow.
_TENSORFLOW_NAMES = {'heatmaps_tf': 'heatmaps_tf', '_read_image_tf': 'read_image_tf'}


def __getattr__(name):
    if name in _TENSORFLOW_NAMES:
        from input_pipeline import pose_tf_data
        return getattr(pose_tf_data, _TENSORFLOW_NAMES[name])
    raise AttributeError('module %r has no attribute %r' % (__name__, name))
