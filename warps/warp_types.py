"""What each ``--warp_skip`` value means, in one place (docs/reference.md, "Part transforms and masks",
"The warp" and "Networks"): the inputs it adds to the networks, their shapes, how the data pipeline
makes them (numpy, for one pair and for a batch), and the Keras layer by which a
network warps a feature map with them (``AffineTransformLayer``, ``SpatialTransformer``; their sampling
arithmetic is in warps/warp_sampling.py). The flag's choices (cmd.py), the data pipeline (pose_dataset.py)
and the builders (conv_layers.py) all read ``WARP_TYPES``, so a new warp type is one class here, plus
its batch function in input_pipeline/pose_batches.py (numpy, imported by the data workers, which
import no keras).

Input names and shapes per pair (no batch axis), keypoints (18, 2) (y, x), -1 missing:

    none   nothing: the U-Net, no warp
    full   transforms (1, 8)
    mask   transforms (10, 8), masks (10, H, W)
    stn    source_keypoints, target_keypoints (18, 2)
"""
import keras
import numpy as np
from keras import ops

import pose_transform
from input_pipeline import pose_batches
from warps import warp_sampling

AGGREGATIONS = ('max', 'avg', 'none')

PARTS = pose_transform.NUMBER_OF_PARTS
KEYPOINTS = (len(pose_transform.LABELS), 2)


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

    # {input name: float32 numpy array} of a batch of keypoints (B, 18, 2): one vectorised numpy call
    # per batch, the same function in both pipelines (tf.data wraps it in tf.numpy_function).
    batch_inputs = staticmethod(pose_batches.no_warp_inputs)

    def parameters(self, inputs, names):
        """What every warped level shares, computed once per network from its keras inputs."""
        return []

    def warp(self, features, parameters, warp_agg, image_size, names, interpolation):
        """The features (B, h, w, C) warped by ``parameters``; same shape out."""
        return features


class AffineWarp(WarpType):
    """Affine transforms fitted between the two poses, applied by AffineTransformLayer."""
    warps = True
    parts = 1

    def parameters(self, inputs, names):
        return [inputs[name] for name in self.input_names]

    def warp(self, features, parameters, warp_agg, image_size, names, interpolation):
        return AffineTransformLayer(self.parts, warp_agg, image_size, interpolation,
                                                name=names('affine_transform_layer'))([features] + parameters)


class FullWarp(AffineWarp):
    """``full``: one transform from the torso points plus the knees present in both poses."""
    name = 'full'
    input_names = ('transforms',)

    def input_shapes(self, image_size):
        return {'transforms': (1, 8)}

    def pair_inputs(self, source_kp, target_kp, image_size):
        return {'transforms': pose_transform.estimate_uniform_transform(source_kp, target_kp)}

    batch_inputs = staticmethod(pose_batches.full_warp_inputs)


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

    batch_inputs = staticmethod(pose_batches.mask_warp_inputs)


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

    batch_inputs = staticmethod(pose_batches.stn_warp_inputs)

    def parameters(self, inputs, names):
        return [stn_parameters(inputs['source_keypoints'], inputs['target_keypoints'], names)]

    def warp(self, features, parameters, warp_agg, image_size, names, interpolation):
        return SpatialTransformer(name=names('spatial_transformer'))([features] + parameters)


@keras.saving.register_keras_serializable(package='pose_gan')
class AffineTransformLayer(keras.layers.Layer):
    """Warp a feature map by part transforms, mask the parts and aggregate them (docs/reference.md, "The warp").

    Called on ``[features, transforms]`` or ``[features, transforms, masks]``:
    features (B, h, w, C); transforms (B, T, 8), TensorFlow projective convention (output pixel (x, y)
    samples the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1), fitted at
    ``init_image_size``; masks (B, T, H, W) at ``init_image_size``.
    On a map smaller than the image the translations a2, b2 are divided by the integer ratios of the
    image's height and width to the map's (Python 2's ``/`` on ints, docs/reference.md "The warp");
    masks are resized by nearest neighbour; each warped part, sampled with ``interpolation``, is
    multiplied by its mask; parts are aggregated by ``max``, by ``avg`` (mean over the masks covering
    a pixel, 0 where none does; plain mean without masks) or kept side by side (``none``:
    (B, h, w, T*C), part-major).
    """

    def __init__(self, number_of_transforms, aggregation_fn, init_image_size, interpolation='nearest',
                 **kwargs):
        super().__init__(**kwargs)
        if aggregation_fn not in AGGREGATIONS:
            raise ValueError(f'aggregation_fn must be one of {AGGREGATIONS}, got {aggregation_fn!r}')
        if interpolation not in warp_sampling.WARP_INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {warp_sampling.WARP_INTERPOLATIONS}, got {interpolation!r}')
        self.number_of_transforms = int(number_of_transforms)
        self.aggregation_fn = aggregation_fn
        self.init_image_size = tuple(int(v) for v in init_image_size)
        self.interpolation = interpolation

    def build(self, input_shape):
        height, width = input_shape[0][1:3]
        # Integer ratios, as the reference's Python 2 division: exact at the generator's levels, 2 and 2
        # on the warp discriminator's 63x31 map of a 128x64 image. Entry 2 (x translation) is divided
        # by the ROW ratio and entry 5 by the column ratio, as the reference did.
        scale_y = self.init_image_size[0] // height
        scale_x = self.init_image_size[1] // width
        self.transform_divisor = np.array([1, 1, scale_y, 1, 1, scale_x, 1, 1], dtype='float32')
        self.mask_rows = warp_sampling.nearest_indices(self.init_image_size[0], height)
        self.mask_cols = warp_sampling.nearest_indices(self.init_image_size[1], width)

    def call(self, inputs):
        features, transforms = inputs[0], inputs[1]
        masks = inputs[2] if len(inputs) == 3 else None
        parts = self.number_of_transforms
        _, height, width, channels = features.shape
        transforms = ops.reshape(ops.cast(transforms, 'float32') / self.transform_divisor, (-1, 8))
        if masks is not None:
            masks = ops.take(ops.take(ops.cast(masks, features.dtype), self.mask_rows, axis=2),
                             self.mask_cols, axis=3)                      # (B, T, h, w)
        warped = self.warp(features, transforms, masks)                   # (B, T, h, w, C), masked
        if masks is not None:
            masks = ops.expand_dims(masks, -1)
        if self.aggregation_fn == 'max':
            return ops.max(warped, axis=1)
        if self.aggregation_fn == 'avg':
            if masks is None:
                return ops.mean(warped, axis=1)
            counts = ops.sum(masks, axis=1)                               # (B, h, w, 1)
            return ops.where(counts > 0, ops.sum(warped, axis=1) / ops.maximum(counts, 1.0), 0.0)
        warped = ops.transpose(warped, (0, 2, 3, 1, 4))
        return ops.reshape(warped, (-1, height, width, parts * channels))

    def warp(self, features, transforms, masks):
        """(B, h, w, C), (B * T, 8) rescaled transforms, (B, T, h, w) masks or None -> (B, T, h, w, C)
        warped parts times their masks."""
        if masks is not None:
            masks = ops.reshape(masks, (-1,) + tuple(features.shape[1:3]))
        return warp_sampling.warp_parts(features, transforms, self.number_of_transforms, masks, self.interpolation)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape[0]
        if self.aggregation_fn == 'none':
            return (batch, height, width, channels * self.number_of_transforms)
        return (batch, height, width, channels)

    def get_config(self):
        config = super().get_config()
        config.update(number_of_transforms=self.number_of_transforms,
                      aggregation_fn=self.aggregation_fn, init_image_size=self.init_image_size,
                      interpolation=self.interpolation)
        return config


def keras_default_name(kind):
    """No explicit name: Keras picks one (used when a builder gets no ``names`` callable)."""
    return None


def localization_layers(names=None):
    """The spatial transformer's localisation net (docs/reference.md, "Networks": ``stn``): Dense 72->64,
    LeakyReLU 0.2, Dense 32, LeakyReLU 0.2, Dense 6 with zero weights and the identity bias
    [1, 0, 0, 0, 1, 0], so that training starts from the identity transform."""
    name = names or keras_default_name
    identity = keras.initializers.Constant([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    return [keras.layers.Dense(64, name=name('dense')),
            keras.layers.LeakyReLU(0.2, name=name('leaky_re_lu')),
            keras.layers.Dense(32, name=name('dense')),
            keras.layers.LeakyReLU(0.2, name=name('leaky_re_lu')),
            keras.layers.Dense(6, kernel_initializer='zeros', bias_initializer=identity, name=name('dense'))]


def stn_parameters(source_keypoints, target_keypoints, names=None):
    """The learned affine parameters (B, 6) from the two keypoint arrays (B, 18, 2), flattened to
    (B, 72) as the reference's data loader did: 36 source values (y, x per point), then 36 target."""
    name = names or keras_default_name
    out = keras.layers.Concatenate(axis=-1, name=name('concatenate'))(
        [keras.layers.Flatten(name=name('flatten'))(source_keypoints),
         keras.layers.Flatten(name=name('flatten'))(target_keypoints)])   # (B, 72)
    for layer in localization_layers(names):
        out = layer(out)
    return out                                                             # (B, 6)


def spatial_transformer_coordinates(theta, height, width):
    """Input pixel coordinates (x, y), each (B, h*w), that the reference's spatial transformer samples
    for every output pixel of an (h, w) map.

    Output pixels form a grid linspace(-1, 1) along each axis, [xs, ys] = theta (2x3) @ [xt, yt, 1],
    then x = (xs + 1) * w / 2 and y = (ys + 1) * h / 2 (the reference scales by w, not w - 1, so even
    the identity stretches the map slightly: output column w-1 samples x = w, i.e. zero).
    """
    grid_x, grid_y = np.meshgrid(np.linspace(-1.0, 1.0, width), np.linspace(-1.0, 1.0, height))
    grid = np.stack([grid_x.ravel(), grid_y.ravel(), np.ones(height * width)]).astype('float32')
    source = ops.matmul(ops.reshape(theta, (-1, 2, 3)), grid)             # (B, 2, h*w)
    x = (source[:, 0] + 1.0) * (width / 2.0)
    y = (source[:, 1] + 1.0) * (height / 2.0)
    return x, y


@keras.saving.register_keras_serializable(package='pose_gan')
class SpatialTransformer(keras.layers.Layer):
    """Bilinear spatial-transformer sampling of a feature map by per-sample affine parameters
    (docs/reference.md, "Networks": ``stn``); called on ``[features (B, h, w, C), theta (B, 6)]``.

    Sampling as in the reference's spatial transformer: the four neighbours are clipped to the map and the
    bilinear weights computed from the clipped corners, so points outside [0, w-1) x [0, h-1) give 0.
    Differentiable in theta (gathers, not the projective-transform kernel, which has no theta gradient).
    """

    def call(self, inputs):
        features, theta = inputs
        _, height, width, channels = features.shape
        x, y = spatial_transformer_coordinates(ops.cast(theta, 'float32'), height, width)
        x0 = ops.clip(ops.floor(x), 0, width - 1)
        x1 = ops.clip(ops.floor(x) + 1, 0, width - 1)
        y0 = ops.clip(ops.floor(y), 0, height - 1)
        y1 = ops.clip(ops.floor(y) + 1, 0, height - 1)
        flat = ops.reshape(features, (-1, height * width, channels))      # (B, h*w, C)

        def weighted_corner(rows, cols, weight):
            index = ops.cast(rows * width + cols, 'int32')                 # (B, h*w)
            index = ops.broadcast_to(ops.expand_dims(index, -1), ops.shape(flat))
            return ops.expand_dims(weight, -1) * ops.take_along_axis(flat, index, axis=1)  # (B, h*w, C)

        out = (weighted_corner(y0, x0, (x1 - x) * (y1 - y)) + weighted_corner(y1, x0, (x1 - x) * (y - y0))
               + weighted_corner(y0, x1, (x - x0) * (y1 - y)) + weighted_corner(y1, x1, (x - x0) * (y - y0)))
        return ops.reshape(out, (-1, height, width, channels))

    def compute_output_shape(self, input_shape):
        return input_shape[0]


# The --warp_skip choices, in the order that cmd.py's help lists them.
WARP_TYPES = {warp_type.name: warp_type for warp_type in
              (WarpType(), FullWarp(), MaskWarp(), SpatialTransformerWarp())}


def warp_type(name):
    """The WarpType of a --warp_skip value; ValueError naming the flag for anything else."""
    if name not in WARP_TYPES:
        raise ValueError('--warp_skip must be one of %s, got %r' % (tuple(WARP_TYPES), name))
    return WARP_TYPES[name]
