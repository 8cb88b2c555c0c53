"""What each ``--warp_skip`` value means, in one place (docs/reference.md, "Part transforms and masks",
"The warp" and "Networks"): the inputs it adds to the networks, their shapes, how the data pipeline
makes them (numpy for one pair, TensorFlow for a batch inside tf.data) and how a network warps a
feature map with them. The data pipeline (pose_dataset.py) and the builders (conv_layers.py) both
read ``WARP_TYPES``, so a new warp type is one class here plus its name in cmd.py's choices (a test
checks that the two agree).

Input names and shapes per pair (no batch axis), keypoints (18, 2) (y, x), -1 missing:

    none   nothing: the U-Net, no warp
    full   transforms (1, 8)
    mask   transforms (10, 8), masks (10, H, W)
    stn    source_keypoints, target_keypoints (18, 2)
"""
import numpy as np
import tensorflow as tf

import pose_transform
import warp_layers

PARTS = pose_transform.NUMBER_OF_PARTS
KEYPOINTS = (len(pose_transform.LABELS), 2)


def _batch_of(per_pair):
    """A function of (source keypoints, target keypoints) batches from one of single pairs."""
    def on_batch(sources, targets):
        return np.stack([per_pair(source, target) for source, target in zip(sources, targets)])
    return on_batch


class WarpType:
    """The U-Net (``none``): no warp and no input. Subclasses add their inputs and their warp."""
    name = 'none'
    warps = False   # whether the generator has an appearance encoder whose skips are warped

    def input_shapes(self, image_size):
        """{input name: shape without the batch axis} this warp adds to a network."""
        return {}

    def pair_inputs(self, source_kp, target_kp, image_size):
        """{input name: numpy array} of one pair (test.py, demo.py, the Re-ID script)."""
        return {}

    def batch_inputs(self, source_kp, target_kp, image_size):
        """{input name: float32 tensor} of a batch of keypoints (B, 18, 2), inside tf.data."""
        return {}

    def parameters(self, inputs, names):
        """What every warped level shares, computed once per network from its keras inputs."""
        return []

    def warp(self, features, parameters, warp_agg, image_size, names, interpolation):
        """The features (B, h, w, C) warped by ``parameters``; same shape out."""
        return features


class AffineWarp(WarpType):
    """Affine transforms fitted between the two poses, applied by warp_layers.AffineTransformLayer."""
    warps = True
    parts = 1

    def parameters(self, inputs, names):
        return [inputs[name] for name in self.input_names]

    def warp(self, features, parameters, warp_agg, image_size, names, interpolation):
        return warp_layers.AffineTransformLayer(self.parts, warp_agg, image_size, interpolation,
                                                name=names('affine_transform_layer'))([features] + parameters)


class FullWarp(AffineWarp):
    """``full``: one transform from the torso points plus the knees present in both poses."""
    name = 'full'
    input_names = ('transforms',)

    def input_shapes(self, image_size):
        return {'transforms': (1, 8)}

    def pair_inputs(self, source_kp, target_kp, image_size):
        return {'transforms': pose_transform.estimate_uniform_transform(source_kp, target_kp)}

    def batch_inputs(self, source_kp, target_kp, image_size):
        transforms = tf.numpy_function(_batch_of(pose_transform.estimate_uniform_transform),
                                       [source_kp, target_kp], tf.float32)
        return {'transforms': tf.ensure_shape(transforms, (None, 1, 8))}


class MaskWarp(AffineWarp):
    """``mask``, the paper's deformable skip: ten part transforms, each part masked, then aggregated."""
    name = 'mask'
    input_names = ('transforms', 'masks')
    parts = PARTS

    def input_shapes(self, image_size):
        return {'transforms': (PARTS, 8), 'masks': (PARTS,) + tuple(image_size)}

    def pair_inputs(self, source_kp, target_kp, image_size):
        return {'transforms': pose_transform.affine_transforms(source_kp, target_kp),
                'masks': pose_transform.pose_masks(target_kp, image_size)}

    def batch_inputs(self, source_kp, target_kp, image_size):
        image_size = tuple(image_size)

        def transforms_and_masks(sources, targets):
            # One vectorised call per batch; the masks travel as bool (a quarter of the bytes).
            return (pose_transform.affine_transforms_batch(sources, targets),
                    pose_transform.pose_masks_batch(targets, image_size, dtype=bool))
        transforms, masks = tf.numpy_function(transforms_and_masks, [source_kp, target_kp], [tf.float32, tf.bool])
        return {'transforms': tf.ensure_shape(transforms, (None, PARTS, 8)),
                'masks': tf.cast(tf.ensure_shape(masks, (None, PARTS) + image_size), tf.float32)}


class SpatialTransformerWarp(WarpType):
    """``stn``: an affine transform learned from the two keypoint arrays by one small network shared by
    every level (the reference's one locnet), applied by a bilinear spatial transformer."""
    name = 'stn'
    warps = True

    def input_shapes(self, image_size):
        return {'source_keypoints': KEYPOINTS, 'target_keypoints': KEYPOINTS}

    def pair_inputs(self, source_kp, target_kp, image_size):
        return {'source_keypoints': np.asarray(source_kp, dtype=np.float32),
                'target_keypoints': np.asarray(target_kp, dtype=np.float32)}

    def batch_inputs(self, source_kp, target_kp, image_size):
        return {'source_keypoints': tf.cast(source_kp, tf.float32),
                'target_keypoints': tf.cast(target_kp, tf.float32)}

    def parameters(self, inputs, names):
        return [warp_layers.stn_parameters(inputs['source_keypoints'], inputs['target_keypoints'], names)]

    def warp(self, features, parameters, warp_agg, image_size, names, interpolation):
        return warp_layers.SpatialTransformer(name=names('spatial_transformer'))([features] + parameters)


# In the order of cmd.py's --warp_skip choices.
WARP_TYPES = {warp_type.name: warp_type for warp_type in
              (WarpType(), FullWarp(), MaskWarp(), SpatialTransformerWarp())}


def warp_type(name):
    """The WarpType of a --warp_skip value; ValueError naming the flag for anything else."""
    if name not in WARP_TYPES:
        raise ValueError('--warp_skip must be one of %s, got %r' % (tuple(WARP_TYPES), name))
    return WARP_TYPES[name]
