"""Keras layers that warp feature maps: the deformable skip's part warp (``AffineTransformLayer``, on
the transforms and masks of pose_transform.py) and the learned spatial transformer of ``--warp_skip stn``
(docs/reference.md, "The warp" and "Networks").

The warp is written with gathers (keras.ops) rather than TensorFlow's ImageProjectiveTransformV3, which
has no XLA kernel: the gathers are compiled by XLA (``compile_on_tensorflow``), while the sampling
coordinates stay in plain ops with the kernel's float32 arithmetic.
"""
import keras
import numpy as np
from keras import ops

AGGREGATIONS = ('max', 'avg', 'none')


def nearest_indices(source_length, target_length):
    """Rows (or columns) that TensorFlow 1's legacy nearest-neighbour resize picks: floor(i * in / out).

    The reference resized the masks with ``tf.image.resize_images(..., NEAREST_NEIGHBOR)`` (no half-pixel
    centres), which for a factor-2 reduction keeps the even rows; ``keras.ops.image.resize`` would keep
    the odd ones.
    """
    return np.floor(np.arange(target_length) * (source_length / target_length)).astype('int32')


WARP_INTERPOLATIONS = ('nearest', 'bilinear')


def round_half_away_from_zero(x):
    """C's ``std::round``, which TensorFlow's NEAREST projective transform uses (``ops.round`` rounds
    halves to even). Exact in float32: the fraction |x| - floor(|x|) is representable."""
    magnitude = ops.abs(x)
    whole = ops.floor(magnitude)
    rounded = whole + ops.cast(magnitude - whole >= 0.5, x.dtype)
    return ops.where(x < 0, -rounded, rounded)


def projective_coordinates(transforms, height, width):
    """Input coordinates (x, y), each (N, h, w), that output pixel (x, y) of transform n reads, and
    where they are defined (k != 0): ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1,
    in the kernel's order of float32 operations."""
    rows, cols = ops.meshgrid(ops.arange(height, dtype='float32'), ops.arange(width, dtype='float32'),
                              indexing='ij')
    t = [transforms[:, i, None, None] for i in range(8)]                   # each (N, 1, 1)
    projection = t[6] * cols + t[7] * rows + 1.0
    defined = ops.not_equal(projection, 0.0)
    safe = ops.where(defined, projection, 1.0)
    return (t[0] * cols + t[1] * rows + t[2]) / safe, (t[3] * cols + t[4] * rows + t[5]) / safe, defined


def sampling_rows(images_shape, transforms, parts, output_weights=None, input_weights=None,
                  interpolation='nearest'):
    """The rows of the flattened images (B * h * w, C) that each output pixel of a projective warp
    reads, and their weights: a list of (index, weight) pairs, each (N, h, w), one pair for
    ``nearest``, four for ``bilinear``.

    Output pixel (x, y) of transform n reads image n // parts at ``projective_coordinates``:
    ``nearest`` the pixel at the coordinates rounded half away from zero, ``bilinear`` its four
    neighbours. Pixels outside the map, or where k = 0, get weight 0. ``output_weights``
    (B * parts, h, w) multiply every output pixel, ``input_weights`` (B, h, w) every input pixel.
    Computed once per pixel and part, not per channel, in plain TensorFlow ops: XLA's division rounds
    differently from the kernel's, which moves a nearest sample by a whole pixel.
    """
    if interpolation not in WARP_INTERPOLATIONS:
        raise ValueError(f'interpolation must be one of {WARP_INTERPOLATIONS}, got {interpolation!r}')
    height, width = images_shape[1:3]
    in_x, in_y, defined = projective_coordinates(transforms, height, width)
    if interpolation == 'nearest':
        corners = [(round_half_away_from_zero(in_y), round_half_away_from_zero(in_x), None)]
    else:
        x_floor, y_floor = ops.floor(in_x), ops.floor(in_y)
        x_ceil, y_ceil = x_floor + 1.0, y_floor + 1.0
        corners = [(y, x, wy * wx) for y, wy in ((y_floor, y_ceil - in_y), (y_ceil, in_y - y_floor))
                   for x, wx in ((x_floor, x_ceil - in_x), (x_ceil, in_x - x_floor))]
    image_index = (ops.arange(ops.shape(transforms)[0]) // parts)[:, None, None]
    rows = []
    for y, x, corner_weight in corners:
        inside = defined & (y >= 0) & (y < height) & (x >= 0) & (x < width)
        index = ((image_index * height + ops.cast(ops.where(inside, y, 0.0), 'int32')) * width
                 + ops.cast(ops.where(inside, x, 0.0), 'int32'))            # (N, h, w)
        weight = ops.cast(inside, 'float32') if corner_weight is None else ops.where(inside, corner_weight, 0.0)
        if output_weights is not None:
            weight = weight * ops.cast(output_weights, 'float32')
        if input_weights is not None:
            weight = weight * ops.take(ops.reshape(ops.cast(input_weights, 'float32'), (-1,)), index)
        rows.append((index, weight))
    return rows


def gather_rows(images, rows):
    """sum over ``rows`` of weight * images' C-channel rows at index: (B, h, w, C) -> (N, h, w, C)."""
    flat = ops.reshape(images, (-1, images.shape[-1]))
    warped = 0
    for index, weight in rows:
        warped = warped + ops.expand_dims(ops.cast(weight, images.dtype), -1) * ops.take(flat, index, axis=0)
    return warped


def compile_on_tensorflow(function):
    """``function`` compiled by XLA when Keras runs on TensorFlow. XLA fuses the gathers and their
    weighting into one pass over the C channels instead of several passes over the full
    (B * parts, h, w, C) tensor (benchmarks/README.md). Other backends compile whole steps anyway."""
    if keras.backend.backend() != 'tensorflow':
        return function
    import tensorflow as tf
    return tf.function(function, jit_compile=True)


fused_gather_rows = compile_on_tensorflow(gather_rows)


def projective_sample(images, transforms, parts, output_weights=None, input_weights=None,
                      interpolation='nearest', gather=fused_gather_rows):
    """Projective warp with TensorFlow's ImageProjectiveTransformV3 arithmetic (fill 0): images
    (B, h, w, C), transforms (B * parts, 8) -> (B * parts, h, w, C), image n // parts warped by
    transform n (``sampling_rows``, then ``gather``). Nearest equals the kernel exactly; bilinear up
    to float32 rounding (the kernel computes wy * (wx * v), this (wy * wx) * v)."""
    return gather(images, sampling_rows(images.shape, transforms, parts, output_weights, input_weights,
                                        interpolation))


def inverse_transforms(transforms):
    """(N, 8) projective transforms -> their inverses, normalised so that the last entry is 1."""
    matrices = ops.reshape(ops.concatenate([transforms, ops.ones_like(transforms[:, :1])], axis=1), (-1, 3, 3))
    inverse = ops.inv(matrices)
    inverse = inverse / inverse[:, 2:3, 2:3]
    return ops.reshape(inverse, (-1, 9))[:, :8]


def warp_parts(features, transforms, parts, masks=None, interpolation='nearest', sample=projective_sample):
    """features (B, h, w, C), transforms (B * parts, 8), optional masks (B * parts, h, w) ->
    (B, parts, h, w, C): every part's warp, times its mask, sampled by ``sample`` with
    ``interpolation`` (the reference's is nearest: docs/reference.md, "The warp").

    The gradient is the one TensorFlow registers for ImageProjectiveTransformV3, which the reference
    trained with: the (masked) output gradient warped back by the inverse transforms with the same
    interpolation and summed over the parts, not the exact adjoint of the sampling; no gradient
    reaches the transforms.
    """
    def warp(features, transforms, masks):
        def gradient(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            back = sample(upstream, inverse_transforms(transforms), 1, input_weights=masks,
                          interpolation=interpolation)
            back = ops.sum(ops.reshape(back, (-1, parts) + tuple(features.shape[1:])), axis=1)
            return (back, ops.zeros_like(transforms)) + (() if masks is None else (ops.zeros_like(masks),))
        return sample(features, transforms, parts, output_weights=masks, interpolation=interpolation), gradient

    if masks is None:
        warped = ops.custom_gradient(lambda f, t: warp(f, t, None))(features, transforms)
    else:
        warped = ops.custom_gradient(warp)(features, transforms, masks)
    return ops.reshape(warped, (-1, parts) + tuple(features.shape[1:]))


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
        if interpolation not in WARP_INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {WARP_INTERPOLATIONS}, got {interpolation!r}')
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
        self.mask_rows = nearest_indices(self.init_image_size[0], height)
        self.mask_cols = nearest_indices(self.init_image_size[1], width)

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
        return warp_parts(features, transforms, self.number_of_transforms, masks, self.interpolation)

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

    Sampling as in the reference (``stn.py``): the four neighbours are clipped to the map and the
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
