"""Every network input of a batch of (source, target) pairs, in numpy alone (docs/reference.md,
"Keypoints and files", "Pose maps", "Part transforms and masks").

The numpy pipeline's worker processes import this module and nothing heavier (numpy, Pillow,
pose_utils, pose_transform: neither keras nor tensorflow, so a worker starts in well under a second
and holds no framework). The tf.data pipeline (input_pipeline/pose_tf_data.py) calls the same functions
through ``tf.numpy_function`` for everything but the images and the stepped pose maps, whose TensorFlow
versions give the same float32 values, so both pipelines make the same batches bit for bit.
"""
import functools

import numpy as np

import pose_transform
import pose_utils


# ---- Images ----------------------------------------------------------------------------------------

def read_image(path, image_size):
    """(H, W, 3) float32 in [-1, 1] of a JPEG or PNG file: the pixels of PIL's ``convert('RGB')``
    (grey levels repeated, alpha dropped). ValueError naming ``path`` for a file that cannot be
    decoded or has another size."""
    try:
        pixels = pose_utils.load_image(path)
    except ValueError as error:
        raise ValueError('%s: replace it or remove its pairs' % error) from None
    if pixels.shape[:2] != tuple(image_size):
        raise ValueError('image %s is %dx%d (HxW), expected %dx%d for this dataset'
                         % (path, pixels.shape[0], pixels.shape[1], image_size[0], image_size[1]))
    return pose_utils.preprocess_image(pixels)


# ---- Pose maps --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _step_table(sigma):
    """The stepped map's value for every squared distance d2 from 0 to 2 * last: STEP_VALUES[min(ceil(d2 /
    (2 sigma^2)), len - 1)], where ``last`` is the first d2 whose value is the final 0. With the row and
    column terms each clipped to ``last``, a map is one addition and one look-up per pixel."""
    last = (len(pose_utils.STEP_VALUES) - 1) * 2 * sigma ** 2
    table = pose_utils.STEP_VALUES[pose_utils.hm_exponent_steps(np.arange(last + 1), sigma)]
    return np.concatenate([table, np.zeros(last, np.float32)]), last


def heatmaps(kp, image_size, pose_map='stepped', sigma=pose_utils.HM_SIGMA):
    """(B, H, W, 18) float32 ``hm`` maps of (B, 18, 2) keypoints, for the whole batch at once:
    ``pose_utils.cords_to_map`` of each pose, the same float32 values (``smooth``: except the values
    below 1.2e-38, float32's subnormal numbers, which are 0 here)."""
    if pose_map not in pose_utils.POSE_MAPS:
        raise ValueError('pose_map must be one of %s, got %r' % (pose_utils.POSE_MAPS, pose_map))
    height, width = image_size
    kp = np.asarray(kp)
    present = (kp != pose_utils.MISSING_VALUE).all(axis=-1)[:, None, None, :]             # (B, 1, 1, 18)
    if pose_map == 'stepped':
        table, last = _step_table(sigma)
        kp = kp.astype(np.int64)
        rows = np.minimum((np.arange(height)[None, :, None] - kp[:, None, :, 0]) ** 2, last)   # (B, H, 18)
        cols = np.minimum((np.arange(width)[None, :, None] - kp[:, None, :, 1]) ** 2, last)    # (B, W, 18)
        rows = np.where(present[:, 0], rows, last)              # a missing point: 0 everywhere
        return table[rows[:, :, None, :] + cols[:, None, :, :]]                                # (B, H, W, 18)
    kp = kp.astype(np.float64)
    # The operations of cords_to_map, with every value below float32's smallest normal number set to 0:
    # TensorFlow's threads flush such values (the tf.data pipeline runs this code in them), so that
    # both pipelines give the same bits whatever thread computes them.
    rows = np.exp(-(np.arange(height)[None, :, None] - kp[:, None, :, 0]) ** 2 / (2.0 * sigma ** 2))
    cols = np.exp(-(np.arange(width)[None, :, None] - kp[:, None, :, 1]) ** 2 / (2.0 * sigma ** 2))
    rows, cols = _flushed(rows * present[:, 0]), _flushed(cols)
    # float32 products of float32 factors are exact in float64, which tells which ones underflow.
    exact = rows.astype(np.float64)[:, :, None, :] * cols[:, None, :, :]
    return np.where(exact < FLOAT32_TINY, np.float32(0), rows[:, :, None, :] * cols[:, None, :, :])


FLOAT32_TINY = np.finfo(np.float32).tiny   # 1.2e-38, the smallest normal float32


def _flushed(values):
    """float64 ``values`` (>= 0) as float32, 0 where they are below FLOAT32_TINY."""
    return np.where(values < FLOAT32_TINY, np.float32(0), values.astype(np.float32))


def stickmen(kp, image_size):
    """(B, H, W, 3) float32 ``stickman`` maps of (B, 18, 2) keypoints."""
    image_size = tuple(image_size)
    return np.stack([pose_transform.make_stickman(k, image_size) for k in kp]).astype(np.float32).reshape(
        (len(kp),) + image_size + (3,))


def pose_maps(kp, image_size, pose_rep_type, pose_map='stepped'):
    """The pose representation ``pose_rep_type`` (hm or stickman) of a batch of keypoints."""
    if pose_rep_type == 'hm':
        return heatmaps(kp, image_size, pose_map)
    if pose_rep_type == 'stickman':
        return stickmen(kp, image_size)
    raise ValueError('pose_rep_type must be hm or stickman, got %r' % (pose_rep_type,))


# ---- The inputs of each warp type (warps/warp_types.py), for a batch of keypoints (B, 18, 2) ------------------

def no_warp_inputs(source_kp, target_kp, image_size):
    """``none``: no input."""
    return {}


def full_warp_inputs(source_kp, target_kp, image_size):
    """``full``: transforms (B, 1, 8)."""
    transforms = [pose_transform.estimate_uniform_transform(s, t) for s, t in zip(source_kp, target_kp)]
    return {'transforms': np.stack(transforms).reshape(len(source_kp), 1, 8).astype(np.float32)}


def mask_warp_inputs(source_kp, target_kp, image_size):
    """``mask``: transforms (B, 10, 8) and masks (B, 10, H, W), one vectorised call each."""
    return {'transforms': pose_transform.affine_transforms_batch(source_kp, target_kp),
            'masks': pose_transform.pose_masks_batch(target_kp, tuple(image_size), dtype=np.float32)}


def stn_warp_inputs(source_kp, target_kp, image_size):
    """``stn``: both keypoint arrays (B, 18, 2) as float32."""
    return {'source_keypoints': np.asarray(source_kp, dtype=np.float32),
            'target_keypoints': np.asarray(target_kp, dtype=np.float32)}


# ---- A whole batch ----------------------------------------------------------------------------------

class PairBatchMaker:
    """``maker(pair_ids)``: the batch dict of pairs ``pair_ids`` of one split, the same keys and values
    as the tf.data pipeline's batch. Holds plain arrays, strings and a module-level function only,
    so that it pickles into a worker process cheaply and the worker imports this module alone.

    ``pairs``: (N, 2) image indices (source, target) of the split; ``keypoints``: (images, 18, 2);
    ``image_paths``, ``background_paths``: per image (background paths only with ``use_bg``);
    ``warp_inputs``: the warp type's batch function (one of the ``*_warp_inputs`` above)."""

    def __init__(self, pairs, keypoints, image_paths, background_paths, image_size, pose_rep_type, pose_map,
                 use_input_pose, use_bg, warp_inputs):
        self.pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        self.keypoints = np.asarray(keypoints, dtype=np.int32)
        self.image_paths = list(image_paths)
        self.background_paths = list(background_paths) if use_bg else None
        self.image_size = tuple(image_size)
        self.pose_rep_type = pose_rep_type
        self.pose_map = pose_map
        self.use_input_pose = bool(use_input_pose)
        self.use_bg = bool(use_bg)
        self.warp_inputs = warp_inputs

    def _images(self, paths, indices):
        return np.stack([read_image(paths[i], self.image_size) for i in indices]).reshape(
            (len(indices),) + self.image_size + (3,))

    def __call__(self, pair_ids):
        pairs = self.pairs[np.asarray(pair_ids, dtype=np.int64)]
        sources, targets = pairs[:, 0], pairs[:, 1]
        batch = {'source_image': self._images(self.image_paths, sources),
                 'target_image': self._images(self.image_paths, targets)}
        if self.use_bg:
            batch['background'] = self._images(self.background_paths, targets)
        source_kp, target_kp = self.keypoints[sources], self.keypoints[targets]
        batch['target_pose'] = pose_maps(target_kp, self.image_size, self.pose_rep_type, self.pose_map)
        if self.use_input_pose:
            batch['source_pose'] = pose_maps(source_kp, self.image_size, self.pose_rep_type, self.pose_map)
        batch.update(self.warp_inputs(source_kp, target_kp, self.image_size))
        return batch
