"""The layer implementations that issue #7 replaced, kept so that the benchmarks can time the project
before and after the change side by side (``train_step.py --implementations``), and one alternative
that was measured and dropped.

* ``KernelAffineTransformLayer``: the deformable skip's warp as the project first had it (and as the
  reference computed it): the features repeated once per part, then TensorFlow's
  ImageProjectiveTransformV3 kernel (``keras.ops.image.affine_transform``) with its registered gradient.
  The project now samples with gathers, the masks folded into the bilinear weights
  (``pose_transform.warp_parts``), equal up to float32 rounding forward and backward.
* ``UncompiledAffineTransformLayer``: the gather warp without XLA (pose_transform.projective_sample as
  written, run op by op).
* ``keras.layers.Conv2DTranspose`` everywhere: the project now computes the small decoder levels as one
  GEMM (``conv_layers.Conv2DTranspose``).
* ``TwoPassInstanceNormalization``: the instance norm as first written ((x - mean) / (std + eps) * gamma
  + beta, four full-size passes); the project now uses one scale and shift per sample.
* ``transposed_conv_depth_to_space``: a third formulation of the decoder's up-sampling, slower than both.
"""
from keras import ops
import tensorflow as tf

import conv_layers
import pose_transform


class KernelAffineTransformLayer(pose_transform.AffineTransformLayer):
    """pose_transform.AffineTransformLayer with the warp on TensorFlow's projective-transform kernel."""

    def warp(self, features, transforms, masks):
        parts = self.number_of_transforms
        repeated = ops.repeat(features, parts, axis=0)                   # (B*T, h, w, C)
        warped = ops.image.affine_transform(repeated, transforms, interpolation='bilinear',
                                            fill_mode='constant', fill_value=0)
        warped = ops.reshape(warped, (-1, parts) + tuple(features.shape[1:]))
        return warped if masks is None else warped * ops.expand_dims(masks, -1)


class TwoPassInstanceNormalization(conv_layers.InstanceNormalization):
    """conv_layers.InstanceNormalization as first written (same weights, same result up to rounding)."""

    def call(self, x):
        axes = tuple(range(1, len(x.shape)))
        mean = ops.mean(x, axis=axes, keepdims=True)
        std = ops.sqrt(ops.mean(ops.square(x - mean), axis=axes, keepdims=True))
        return (x - mean) / (std + self.epsilon) * self.gamma + self.beta


class UncompiledAffineTransformLayer(pose_transform.AffineTransformLayer):
    """pose_transform.AffineTransformLayer with its gather warp run op by op rather than XLA-compiled."""

    def warp(self, features, transforms, masks):
        if masks is not None:
            masks = ops.reshape(masks, (-1,) + tuple(features.shape[1:3]))
        return pose_transform.warp_parts(features, transforms, self.number_of_transforms, masks,
                                         sample=pose_transform.projective_sample)


def transposed_conv_depth_to_space(x, kernel):
    """The cropped output of Conv2DTranspose(O, 4, strides=2, 'valid', no bias) + Cropping2D(1), as one
    2x2 'valid' convolution over the 1-padded input with 4*O filters, then depth_to_space(2), then the
    crop (oneDNN forward convolutions; (h+1)(w+1)/(hw) more FLOPs)."""
    filters, channels = kernel.shape[2], kernel.shape[3]
    # kernel2[a, b, c, (r, t, o)] = K[2(1-a) + r, 2(1-b) + t, o, c]
    k = tf.reshape(kernel, (2, 2, 2, 2, filters, channels))                 # (q, r, s, t, O, C)
    k = tf.reverse(k, axis=[0, 2])                                          # q -> a = 1 - q
    k = tf.transpose(k, (0, 2, 5, 1, 3, 4))                                 # (a, b, C, r, t, O)
    k = tf.reshape(k, (2, 2, channels, 4 * filters))
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    phases = tf.nn.conv2d(padded, k, strides=1, padding='VALID')           # (B, h+1, w+1, 4O)
    return tf.nn.depth_to_space(phases, 2)[:, 1:-1, 1:-1, :]
