"""Prototype (issue #7, item 1): the decoder's up-sampling convolution (SPEC section 5: transposed
Conv 4x4 stride 2 'valid', no bias, then a 1-px crop) computed as ONE matrix multiply plus a 4-way
overlap-add, instead of TensorFlow's Conv2DBackpropInput.

Same kernel variable as keras.layers.Conv2DTranspose ((4, 4, filters, channels)), so weight files are
unchanged; same arithmetic up to the order of the additions. ``benchmarks/train_step.py --profile``
times it against Conv2DTranspose + Cropping2D for every decoder shape.

Derivation: the transposed convolution writes in[i, j] * K[k, l] to out[2i + k, 2j + l]. With
k = 2q + r and l = 2s + t (q, r, s, t in {0, 1}), out[2m + r, 2n + t] = sum over q, s of
P[m - q, n - s, q, r, s, t] where P = in @ K (all 16 taps at once, one GEMM). The sum over (q, s) is
four shifted copies of P added; the (r, t) phases interleave like depth_to_space.
"""
import keras
import tensorflow as tf


def transposed_conv_4x4_s2_crop1(x, kernel):
    """(B, h, w, C) and a Conv2DTranspose kernel (4, 4, O, C) -> (B, 2h, 2w, O): the cropped output of
    Conv2DTranspose(O, 4, strides=2, padding='valid', use_bias=False) followed by Cropping2D(1)."""
    return transposed_conv_4x4_s2(x, kernel)[:, 1:-1, 1:-1, :]


def transposed_conv_4x4_s2(x, kernel):
    """The uncropped (B, 2h + 2, 2w + 2, O) output of Conv2DTranspose(O, 4, strides=2, 'valid')."""
    batch, height, width, channels = tf.unstack(tf.shape(x))
    filters = kernel.shape[2]
    # (C, q, r, s, t, O): taps k = 2q + r, l = 2s + t.
    weights = tf.reshape(tf.transpose(kernel, (3, 0, 1, 2)), (kernel.shape[3], 16 * filters))
    taps = tf.reshape(tf.matmul(tf.reshape(x, (-1, kernel.shape[3])), weights),
                      (batch, height, width, 2, 2, 2, 2, filters))          # (B, h, w, q, r, s, t, O)
    total = 0
    for q in (0, 1):
        for s in (0, 1):
            part = taps[:, :, :, q, :, s, :, :]                              # (B, h, w, r, t, O)
            total += tf.pad(part, [[0, 0], [q, 1 - q], [s, 1 - s], [0, 0], [0, 0], [0, 0]])
    # total[m, n, r, t] = out_full[2m + r, 2n + t], m in [0, h], n in [0, w].
    return tf.reshape(tf.transpose(total, (0, 1, 3, 2, 4, 5)),
                      (batch, 2 * height + 2, 2 * width + 2, filters))


def transposed_conv_depth_to_space(x, kernel):
    """The same as one 2x2 'valid' convolution over the 1-padded input with 4*O filters, then
    depth_to_space(2), then the crop (oneDNN forward convolutions; (h+1)(w+1)/(hw) more FLOPs)."""
    filters, channels = kernel.shape[2], kernel.shape[3]
    # kernel2[a, b, c, (r, t, o)] = K[2(1-a) + r, 2(1-b) + t, o, c]
    k = tf.reshape(kernel, (2, 2, 2, 2, filters, channels))                 # (q, r, s, t, O, C)
    k = tf.reverse(k, axis=[0, 2])                                          # q -> a = 1 - q
    k = tf.transpose(k, (0, 2, 5, 1, 3, 4))                                 # (a, b, C, r, t, O)
    k = tf.reshape(k, (2, 2, channels, 4 * filters))
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    phases = tf.nn.conv2d(padded, k, strides=1, padding='VALID')           # (B, h+1, w+1, 4O)
    return tf.nn.depth_to_space(phases, 2)[:, 1:-1, 1:-1, :]


GEMM_MAX_INPUT_PIXELS = 128   # measured: faster up to 16x8 inputs, slower from 32x16 (README)


class GemmConv2DTranspose(keras.layers.Conv2DTranspose):
    """keras.layers.Conv2DTranspose (same config and kernel variable) computing the 4x4 stride-2
    'valid' bias-free case on small inputs (at most GEMM_MAX_INPUT_PIXELS pixels, the deep decoder
    levels) with ``transposed_conv_4x4_s2``; anything else is the Keras layer's own computation."""

    def call(self, inputs):
        if (tuple(self.kernel_size) == (4, 4) and tuple(self.strides) == (2, 2) and self.padding == 'valid'
                and not self.use_bias and self.data_format == 'channels_last'
                and inputs.shape[1] * inputs.shape[2] <= GEMM_MAX_INPUT_PIXELS):
            return transposed_conv_4x4_s2(inputs, self.kernel)
        return super().call(inputs)


# ---- the deformable skip's warp as gathers (prototype) --------------------------------------------

def _sample_bilinear(images, transforms, parts, out_size):
    """(B, H, W, C) images and (B * parts, 8) transforms -> (B * parts, h, w, C): image n // parts warped
    by transform n with ImageProjectiveTransformV3's bilinear / constant-0 arithmetic (same float32
    operations in the same order), as 4 gathers of C-channel rows, without repeating the images."""
    batch, height, width, channels = tf.unstack(tf.shape(images))
    out_h, out_w = out_size
    y, x = tf.meshgrid(tf.range(out_h, dtype=tf.float32), tf.range(out_w, dtype=tf.float32), indexing='ij')
    t = [transforms[:, i, None, None] for i in range(8)]                   # each (N, 1, 1)
    projection = t[6] * x + t[7] * y + 1.0
    safe = tf.where(projection == 0, 1.0, projection)
    in_x = (t[0] * x + t[1] * y + t[2]) / safe                             # (N, h, w)
    in_y = (t[3] * x + t[4] * y + t[5]) / safe
    x_floor, y_floor = tf.floor(in_x), tf.floor(in_y)
    x_ceil, y_ceil = x_floor + 1.0, y_floor + 1.0
    image_index = tf.range(tf.shape(transforms)[0]) // parts                # (N,)
    flat = tf.reshape(images, (-1, channels))
    w_f, h_f = tf.cast(width, tf.float32), tf.cast(height, tf.float32)

    def read(yy, xx):
        inside = (yy >= 0) & (yy < h_f) & (xx >= 0) & (xx < w_f) & (projection != 0)
        yi = tf.cast(tf.where(inside, yy, 0.0), tf.int32)
        xi = tf.cast(tf.where(inside, xx, 0.0), tf.int32)
        index = (image_index[:, None, None] * height + yi) * width + xi
        return tf.gather(flat, index) * tf.cast(inside, images.dtype)[..., None]   # (N, h, w, C)

    wx0, wx1 = (x_ceil - in_x)[..., None], (in_x - x_floor)[..., None]
    wy0, wy1 = (y_ceil - in_y)[..., None], (in_y - y_floor)[..., None]
    value_yfloor = wx0 * read(y_floor, x_floor) + wx1 * read(y_floor, x_ceil)
    value_yceil = wx0 * read(y_ceil, x_floor) + wx1 * read(y_ceil, x_ceil)
    return wy0 * value_yfloor + wy1 * value_yceil


def _inverse_flat(transforms):
    matrices = tf.reshape(tf.concat([transforms, tf.ones_like(transforms[:, :1])], axis=1), (-1, 3, 3))
    inverse = tf.linalg.inv(matrices)
    inverse = inverse / inverse[:, 2:3, 2:3]
    return tf.reshape(inverse, (-1, 9))[:, :8]


def warp_parts(features, transforms, parts):
    """(B, H, W, C), (B * parts, 8) -> (B, parts, H, W, C): what AffineTransformLayer gets from
    ``repeat`` + ``ops.image.affine_transform``, with TensorFlow's registered gradient for it (the output
    gradient warped back by the inverse transforms, summed over the parts) so training is unchanged."""
    size = (features.shape[1], features.shape[2])

    @tf.custom_gradient
    def warp(features):
        warped = _sample_bilinear(features, transforms, parts, size)

        def gradient(upstream):
            back = _sample_bilinear(upstream, _inverse_flat(transforms), 1, size)   # (B*parts, H, W, C)
            return tf.reduce_sum(tf.reshape(back, (-1, parts) + tuple(back.shape[1:])), axis=1)
        return warped, gradient

    warped = warp(features)
    return tf.reshape(warped, (-1, parts) + tuple(features.shape[1:]))


def gather_affine_transform_layer():
    """pose_transform.AffineTransformLayer with its warp done by ``warp_parts`` (same config, same
    outputs); built lazily so that importing this module does not need pose_transform."""
    import pose_transform
    from keras import ops

    class GatherAffineTransformLayer(pose_transform.AffineTransformLayer):
        def call(self, inputs):
            features, transforms = inputs[0], inputs[1]
            masks = inputs[2] if len(inputs) == 3 else None
            parts = self.number_of_transforms
            transforms = ops.reshape(ops.cast(transforms, 'float32') / self.transform_divisor, (-1, 8))
            warped = warp_parts(features, transforms, parts)                  # (B, T, h, w, C)
            if masks is not None:
                masks = ops.take(ops.take(ops.cast(masks, warped.dtype), self.mask_rows, axis=2),
                                 self.mask_cols, axis=3)
                masks = ops.expand_dims(masks, -1)
                warped = warped * masks
            if self.aggregation_fn == 'max':
                return ops.max(warped, axis=1)
            if self.aggregation_fn == 'avg':
                if masks is None:
                    return ops.mean(warped, axis=1)
                counts = ops.sum(masks, axis=1)
                return ops.where(counts > 0, ops.sum(warped, axis=1) / ops.maximum(counts, 1.0), 0.0)
            _, height, width, channels = features.shape
            warped = ops.transpose(warped, (0, 2, 3, 1, 4))
            return ops.reshape(warped, (-1, height, width, parts * channels))

    return GatherAffineTransformLayer
