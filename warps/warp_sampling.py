"""The sampling arithmetic of the part warp (docs/reference.md, "The warp"): which input pixels each
output pixel of a projective transform reads, with TensorFlow's ImageProjectiveTransformV3 arithmetic,
and the warp of every part with the gradient TensorFlow registers for that kernel. The Keras layers
that use it are in warps/warp_types.py.

The warp is written with gathers (keras.ops) rather than TensorFlow's ImageProjectiveTransformV3, which
has no XLA kernel: the gathers are compiled by XLA (``compile_on_tensorflow``), while the sampling
coordinates stay in plain ops with the kernel's float32 arithmetic.
"""
import keras
import numpy as np
from keras import ops

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
    (B * parts, h, w, C) tensor (benchmarks/README.md). Other backends compile whole steps anyway.

    On TensorFlow this also turns off Grappler's constant folding for every ``tf.function`` of the
    process: it reassociates the sampling coordinates' arithmetic with constants (the pixel grids, the
    transforms divided by a level's scale), which moves nearest samples lying at a half pixel to the
    next pixel, so that a compiled generator would differ by whole feature values from the eager one,
    from JAX's program and from the projective-transform kernel (docs/reference.md, "The warp")."""
    if keras.backend.backend() != 'tensorflow':
        return function
    import tensorflow as tf
    tf.config.optimizer.set_experimental_options({'constant_folding': False})
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
