"""Generator and discriminator of the Deformable GAN (docs/reference.md, "Networks"), built layer by layer in the
reference's creation order so that its Keras 2 weight files map onto them (see weight_files.py).

Every layer is named the way Keras 2 named it inside one model (``conv2d_1``, ``conv2d_transpose_1``,
``instance_normalization_1``, ``dense_1``, ...), counting per model.

Market (128x64, ``mask``) generator, width_factor 1, shapes per sample::

    appearance encoder  concat(source_image, source_pose)  (128, 64, 21)
    pose encoder        concat(target_pose[, background])  (128, 64, 18)
      level 0  Conv 3x3 same          (128, 64,  64)  <- skip, warped
      level 1  down-block, norm       ( 64, 32, 128)  <- skip, warped
      level 2  down-block, norm       ( 32, 16, 256)  <- skip, warped
      level 3  down-block, norm       ( 16,  8, 512)  <- skip, warped
      level 4  down-block, norm       (  8,  4, 512)  <- skip
      level 5  down-block, no norm    (  4,  2, 512)  <- skip
    skips: concat(warped appearance, pose) at levels 0-3, concat(appearance, pose) deeper
    decoder  up-block 512 + dropout      ( 8,  4, 512)
             concat, up 512 + dropout    (16,  8, 512)
             concat, up 512 + dropout    (32, 16, 512)
             concat, up 256              (64, 32, 256)
             concat, up 128              (128, 64, 128)
             concat, ReLU, Conv 3x3 -> 3, tanh  (128, 64, 3)

256x256 images get one more level (512 filters) in the encoder and the decoder.
"""
import collections

import keras
from keras import ops

from gan import devices
from warps import warp_types

ENCODER_FILTERS = {6: (64, 128, 256, 512, 512, 512), 7: (64, 128, 256, 512, 512, 512, 512)}
DECODER_FILTERS = {6: (512, 512, 512, 256, 128, 3), 7: (512, 512, 512, 512, 256, 128, 3)}
WARPED_LEVELS = 4
POSE_CHANNELS = {'hm': 18, 'stickman': 3}


class KerasTwoNames:
    """Layer names as Keras 2 gave them inside one model: ``<class>_<n>``, n counting from 1 per class."""

    def __init__(self):
        self.counts = collections.Counter()

    def __call__(self, kind):
        self.counts[kind] += 1
        return f'{kind}_{self.counts[kind]}'


@keras.saving.register_keras_serializable(package='pose_gan')
class InstanceNormalization(keras.layers.Layer):
    """keras-contrib ``InstanceNormalization()`` with its default axis=None (docs/reference.md, "Networks"): per sample,
    mean and (biased) standard deviation over height, width and channels together;
    out = (x - mean) / (std + epsilon) * gamma + beta, gamma and beta single scalars."""

    def __init__(self, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(1,), initializer='ones', name='gamma')
        self.beta = self.add_weight(shape=(1,), initializer='zeros', name='beta')

    def call(self, x):
        mean, variance = ops.moments(x, axes=tuple(range(1, len(x.shape))), keepdims=True)
        # One scale and one shift per sample, so that the full-size map is touched by one multiply-add.
        scale = self.gamma / (ops.sqrt(variance) + self.epsilon)
        return x * scale + (self.beta - mean * scale)

    def get_config(self):
        return {**super().get_config(), 'epsilon': self.epsilon}


def transposed_conv_4x4_s2(x, kernel):
    """The (B, 2h + 2, 2w + 2, O) output of a bias-free 4x4 stride-2 'valid' transposed convolution of
    x (B, h, w, C) with a Conv2DTranspose kernel (4, 4, O, C), as one matrix multiply and an overlap-add.

    Input pixel (i, j) adds x[i, j] K[k, l] to output (2i + k, 2j + l). With k = 2q + r and l = 2s + t,
    out[2m + r, 2n + t] = sum over q, s of P[m - q, n - s, q, r, s, t], P = x @ K (all 16 taps in one
    GEMM): four shifted copies of P added, the (r, t) phases interleaved like depth_to_space.
    """
    _, height, width, channels = x.shape
    filters = kernel.shape[2]
    # (kh, kw, O, C) read as (16 O, C) is already in (q, r, s, t, O) order; the 2-D transpose folds
    # into the matrix multiply (no copy of the kernel is made and kept for the backward pass).
    weights = ops.transpose(ops.reshape(kernel, (16 * filters, channels)))
    taps = ops.reshape(ops.matmul(ops.reshape(x, (-1, channels)), weights),
                       (-1, height, width, 2, 2, 2, 2, filters))           # (B, h, w, q, r, s, t, O)
    # The four (q, s) parts are taken by unstacking, whose gradient is one stack: strided slices of
    # the middle axes would each send back a zero-filled copy of all 16 taps (benchmarks/README.md).
    total = 0
    for q, by_q in enumerate(ops.unstack(taps, axis=3)):                  # (B, h, w, r, s, t, O)
        for s, part in enumerate(ops.unstack(by_q, axis=4)):              # (B, h, w, r, t, O)
            total += ops.pad(part, [[0, 0], [q, 1 - q], [s, 1 - s], [0, 0], [0, 0], [0, 0]])
    return ops.reshape(ops.transpose(total, (0, 1, 3, 2, 4, 5)), (-1, 2 * height + 2, 2 * width + 2, filters))


def conv_4x4_s2(x, kernel):
    """The (B, (h - 4) // 2 + 1, (w - 4) // 2 + 1, O) output of a bias-free 4x4 stride-2 'valid'
    convolution of x (B, h, w, C) with a Conv2D kernel (4, 4, C, O), as one matrix multiply.

    Output (m, n) reads x[2m + k, 2n + l], k, l < 4 (an odd last row or column is never read, so it is
    cropped). With k = 2q + r, l = 2s + t and the pixels grouped by parity, S[i, r, j, t] = x[2i + r,
    2j + t] (a reshape): out[m, n] = sum over q, r, s, t of S[m + q, r, n + s, t] K[2q + r, 2s + t], the
    four (q, s) shifts of S side by side as (q, r, s, t, C) rows, times K read as (16 C, O).
    """
    _, height, width, channels = x.shape
    filters = kernel.shape[3]
    rows, columns = (height - 4) // 2 + 1, (width - 4) // 2 + 1
    parity = ops.reshape(x[:, :2 * rows + 2, :2 * columns + 2],
                         (-1, rows + 1, 2, columns + 1, 2, channels))            # (B, i, r, j, t, C)
    shifts = ops.stack([parity[:, q:q + rows, :, s:s + columns] for q in (0, 1) for s in (0, 1)],
                       axis=1)                                                   # (B, q s, m, r, n, t, C)
    shifts = ops.reshape(shifts, (-1, 2, 2, rows, 2, columns, 2, channels))      # (B, q, s, m, r, n, t, C)
    patches = ops.reshape(ops.transpose(shifts, (0, 3, 5, 1, 4, 2, 6, 7)), (-1, 16 * channels))
    return ops.reshape(ops.matmul(patches, ops.reshape(kernel, (16 * channels, filters))),
                       (-1, rows, columns, filters))


def on_gpu():
    """Whether Keras' backend sees a GPU: the layers below keep Keras' computation there."""
    return bool(devices.gpus())


@keras.saving.register_keras_serializable(package='pose_gan')
class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """keras.layers.Conv2DTranspose (same arguments, same kernel variable) that computes the decoder's
    bias-free 4x4 stride-2 'valid' case on a CPU with ``transposed_conv_4x4_s2``: forward and backward,
    faster than the backend's transposed-convolution kernel at every decoder level, with AVX-512 and
    with AVX2 (benchmarks/README.md, "Training step"); anything else as Keras does. It keeps Keras'
    class name because Keras 3 weight files key layers by class name: files written with the plain
    layer load unchanged (tested)."""

    def call(self, inputs):
        if (tuple(self.kernel_size) == (4, 4) and tuple(self.strides) == (2, 2) and self.padding == 'valid'
                and not self.use_bias and self.data_format == 'channels_last' and not on_gpu()):
            return transposed_conv_4x4_s2(inputs, self.kernel)
        return super().call(inputs)


def gemm_down_sampling():
    """Whether Conv2D below computes with ``conv_4x4_s2``: on a CPU under JAX."""
    return keras.backend.backend() == 'jax' and not on_gpu()


@keras.saving.register_keras_serializable(package='pose_gan')
class Conv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D (same arguments, same kernel variable, same class name, as Conv2DTranspose)
    that computes the blocks' bias-free 4x4 stride-2 'valid' convolutions with ``conv_4x4_s2`` on a CPU
    under JAX: there, forward and both gradients take less time than with XLA's own convolution at
    every encoder level, from four fifths of it to a thirtieth or less (the last level, 10x6 -> 4x2,
    where XLA's CPU convolution falls to a slow path), with AVX-512 and with XLA's code limited to
    AVX2 (benchmarks/README.md, section 7). On TensorFlow the oneDNN convolution is the faster one, and GPUs
    have cuDNN: they compute as Keras does, as does anything else."""

    def call(self, inputs):
        if (tuple(self.kernel_size) == (4, 4) and tuple(self.strides) == (2, 2) and self.padding == 'valid'
                and tuple(self.dilation_rate) == (1, 1) and self.groups == 1 and not self.use_bias
                and self.activation is keras.activations.linear and self.data_format == 'channels_last'
                and gemm_down_sampling()):
            return conv_4x4_s2(inputs, self.kernel)
        return super().call(inputs)


@keras.saving.register_keras_serializable(package='pose_gan')
class Cropping2D(keras.layers.Cropping2D):
    """keras.layers.Cropping2D (same arguments and class name) cropping with one slice: the gradient
    of a slice is one pad, where Keras' strided slice sends back through TensorFlow's slower
    StridedSliceGrad kernel (benchmarks/README.md, "Training step")."""

    def call(self, inputs):
        if self.data_format != 'channels_last':
            return super().call(inputs)
        (top, bottom), (left, right) = self.cropping
        _, height, width, _ = inputs.shape
        return ops.slice(inputs, (0, top, left, 0), (ops.shape(inputs)[0], height - top - bottom,
                                                      width - left - right, inputs.shape[3]))


def scaled(filters, width_factor):
    """A filter count times the width factor, at least 1."""
    return max(1, int(round(filters * width_factor)))


def block(x, n, down=True, norm=True, dropout=False, leaky=True, names=None):
    """(Leaky)ReLU, then a 4x4 stride-2 convolution (down: zero-pad 1; up: transposed 'valid', crop 1),
    then instance norm, then Dropout(0.5). (B, h, w, c) -> (B, h/2, w/2, n) down, (B, 2h, 2w, n) up."""
    name = names or warp_types.keras_default_name
    if leaky:
        x = keras.layers.LeakyReLU(0.2, name=name('leaky_re_lu'))(x)
    else:
        x = keras.layers.Activation('relu', name=name('activation'))(x)
    if down:
        x = keras.layers.ZeroPadding2D(1, name=name('zero_padding2d'))(x)         # (h+2, w+2, c)
        x = Conv2D(n, 4, strides=2, use_bias=False, name=name('conv2d'))(x)
    else:
        x = Conv2DTranspose(n, 4, strides=2, use_bias=False,
                                name=name('conv2d_transpose'))(x)                  # (2h+2, 2w+2, n)
        x = Cropping2D(1, name=name('cropping2d'))(x)                 # (2h, 2w, n)
    if norm:
        x = InstanceNormalization(name=name('instance_normalization'))(x)
    if dropout:
        x = keras.layers.Dropout(0.5, name=name('dropout'))(x)
    return x


def concatenate(tensors, names):
    if len(tensors) == 1:
        return tensors[0]
    return keras.layers.Concatenate(axis=-1, name=names('concatenate'))(tensors)


def encoder(inputs, filters, names):
    """Encoder over concat(inputs): level 0 Conv 3x3 'same' with bias, then down-blocks with norm, the
    last without. Returns every level's output (shallowest first); level i is (H/2^i, W/2^i, filters[i])."""
    x = concatenate(inputs, names)
    skips = []
    for level, n in enumerate(filters):
        if level == 0:
            x = keras.layers.Conv2D(n, 3, padding='same', name=names('conv2d'))(x)
        else:
            x = block(x, n, norm=level != len(filters) - 1, names=names)
        skips.append(x)
    return skips


def decoder(skips, filters, names):
    """Decoder over the skips, deepest first: up-block with dropout on the deepest; concat + up-block
    with dropout (steps 1, 2); concat + up-block (later steps); last: concat, ReLU, Conv 3x3 -> tanh.
    Every up-block has instance norm and plain ReLU. Returns (B, H, W, filters[-1])."""
    x = None
    for step, (skip, n) in enumerate(zip(skips, filters)):
        if step == 0:
            x = block(skip, n, down=False, leaky=False, dropout=True, names=names)
        elif step == len(filters) - 1:
            x = concatenate([x, skip], names)
            x = keras.layers.Activation('relu', name=names('activation'))(x)
            x = keras.layers.Conv2D(n, 3, padding='same', name=names('conv2d'))(x)
        else:
            x = concatenate([x, skip], names)
            x = block(x, n, down=False, leaky=False, dropout=step < 3, names=names)
    return keras.layers.Activation('tanh', name=names('activation'))(x)


def number_of_levels(image_size):
    """6 encoder levels when max(H, W) is 128, else 7; each side must halve down to the last level."""
    levels = 6 if max(image_size) == 128 else 7
    factor = 2 ** (levels - 1)
    if image_size[0] % factor or image_size[1] % factor:
        raise ValueError(f'image_size {tuple(image_size)}: with {levels} encoder levels both sides must be '
                         f'multiples of {factor}')
    return levels


def check_flags(warp_skip, disc_type, warp_agg, pose_rep_type):
    for flag, value, allowed in [('warp_skip', warp_skip, tuple(warp_types.WARP_TYPES)),
                                 ('disc_type', disc_type, tuple(DISCRIMINATORS)),
                                 ('warp_agg', warp_agg, ('max', 'avg')),
                                 ('pose_rep_type', pose_rep_type, tuple(POSE_CHANNELS))]:
        if value not in allowed:
            raise ValueError(f'--{flag} must be one of {allowed}, got {value!r}')


def make_inputs(image_size, use_input_pose, warp, use_bg, pose_rep_type, with_image=False):
    """The model's keras.Input tensors keyed by the input names the data pipeline uses for its batch dicts
    (pose_dataset.py), P = 18 (hm) or 3:

        source_image (H, W, 3)                 always
        source_pose (H, W, P)                  use_input_pose
        image (H, W, 3)                        discriminator only (real or generated target)
        target_pose (H, W, P)                  always
        background (H, W, 3)                   use_bg
        the inputs of ``warp`` (a warp_types.WarpType; the discriminator's only with disc_type warp)
    """
    height, width = image_size
    pose_channels = POSE_CHANNELS[pose_rep_type]
    shapes = {'source_image': (height, width, 3)}
    if use_input_pose:
        shapes['source_pose'] = (height, width, pose_channels)
    if with_image:
        shapes['image'] = (height, width, 3)
    shapes['target_pose'] = (height, width, pose_channels)
    if use_bg:
        shapes['background'] = (height, width, 3)
    shapes.update(warp.input_shapes(image_size))
    return {key: keras.Input(shape, name=key) for key, shape in shapes.items()}


def network_options(args):
    """The builders' keyword arguments from the flags of cmd.train_parser: one place, so that
    train.py, test.py, demo.py and the Re-ID script build the same networks from the same flags."""
    return dict(image_size=tuple(args.image_size), use_input_pose=args.use_input_pose, warp_skip=args.warp_skip,
                disc_type=args.disc_type, warp_agg=args.warp_agg, use_bg=args.use_bg,
                pose_rep_type=args.pose_rep_type, width_factor=args.width_factor,
                warp_interpolation=args.warp_interpolation)


def make_generator(image_size, use_input_pose, warp_skip, disc_type, warp_agg, use_bg, pose_rep_type,
                   width_factor=1.0, warp_interpolation='nearest'):
    """The generator (docs/reference.md, "Networks"; module docstring for the shapes): dict inputs (``make_inputs``),
    output (B, H, W, 3) in [-1, 1]. ``disc_type`` does not change the generator (kept so that both
    builders take the same arguments). ``width_factor`` scales every filter count but the 3 outputs."""
    check_flags(warp_skip, disc_type, warp_agg, pose_rep_type)
    image_size = tuple(image_size)
    levels = number_of_levels(image_size)
    encoder_filters = [scaled(n, width_factor) for n in ENCODER_FILTERS[levels]]
    decoder_filters = [scaled(n, width_factor) for n in DECODER_FILTERS[levels][:-1]] + [3]
    names = KerasTwoNames()
    warp = warp_types.warp_type(warp_skip)
    inputs = make_inputs(image_size, use_input_pose, warp, use_bg, pose_rep_type)
    source_pose = [inputs['source_pose']] if use_input_pose else []
    background = [inputs['background']] if use_bg else []

    if not warp.warps:
        # The background is an input but, as in the reference, the U-Net's encoder does not read it.
        skips = encoder([inputs['source_image']] + source_pose + [inputs['target_pose']], encoder_filters, names)
    else:
        appearance = encoder([inputs['source_image']] + source_pose, encoder_filters, names)
        pose = encoder([inputs['target_pose']] + background, encoder_filters, names)
        parameters = warp.parameters(inputs, names)
        skips = []
        for level, (app, pos) in enumerate(zip(appearance, pose)):
            if level < WARPED_LEVELS:   # the paper's deformable skip connections
                app = warp.warp(app, parameters, warp_agg, image_size, names, warp_interpolation)
            skips.append(concatenate([app, pos], names))
    output = decoder(skips[::-1], decoder_filters, names)
    return keras.Model(inputs=inputs, outputs=output, name='generator')


def patch_head(x, width_factor, names):
    """Down-blocks 128, 256, 512 with norm, then a 1-filter down-block without norm, sigmoid, flatten:
    (B, h, w, c) -> (B, h/16 * w/16) probabilities (the ``call`` and ``warp`` discriminators' body)."""
    for n in (128, 256, 512):
        x = block(x, scaled(n, width_factor), names=names)
    x = block(x, 1, norm=False, names=names)
    x = keras.layers.Activation('sigmoid', name=names('activation'))(x)
    return keras.layers.Flatten(name=names('flatten'))(x)


def first_conv(x, width_factor, names):
    """Conv 4x4 stride 2 'valid' with bias, 64 filters: (B, H, W, c) -> (B, (H-2)/2, (W-2)/2, 64)."""
    return keras.layers.Conv2D(scaled(64, width_factor), 4, strides=2, name=names('conv2d'))(x)


# ---- Discriminators: one builder per --disc_type --------------------------------------------------

DISCRIMINATORS = {}


def discriminator(name, warps=False):
    """Registers a builder under its --disc_type name. A builder takes (inputs, source_pose, background,
    width_factor, names, warp) and returns the probabilities; ``warps``: it warps the source features
    with ``warp(features)``, so it needs the warp type's inputs."""
    def register(build):
        build.warps = warps
        DISCRIMINATORS[name] = build
        return build
    return register


@discriminator('call')
def call_discriminator(inputs, source_pose, background, width_factor, names, warp):
    """concat(source_image[, source_pose], image, target_pose[, background]) (H, W, 42 for hm)
    -> Conv 4x4/2 valid 64 (63, 31) -> down 128 (31, 15) -> 256 (15, 7) -> 512 (7, 3) -> down 1 (3, 1)
    -> sigmoid -> flatten (B, 3) for 128x64."""
    x = concatenate([inputs['source_image']] + source_pose + [inputs['image'], inputs['target_pose']]
                    + background, names)
    return patch_head(first_conv(x, width_factor, names), width_factor, names)


@discriminator('sim')
def sim_discriminator(inputs, source_pose, background, width_factor, names, warp):
    """A shared trunk (Conv 64, down 128, 256, 512) over concat(image, target_pose[, background]) and
    over concat(source_image, source_pose[, background]) (a zero pose without the input pose, where
    the reference fails), concat, LeakyReLU, flatten, Dense 1, sigmoid -> (B, 1)."""
    trunk = [keras.layers.Conv2D(scaled(64, width_factor), 4, strides=2, name=names('conv2d'))]
    for n in (128, 256, 512):
        trunk += [keras.layers.LeakyReLU(0.2, name=names('leaky_re_lu')),
                  keras.layers.ZeroPadding2D(1, name=names('zero_padding2d')),
                  Conv2D(scaled(n, width_factor), 4, strides=2, use_bias=False, name=names('conv2d')),
                  InstanceNormalization(name=names('instance_normalization'))]

    def features(x):
        for layer in trunk:
            x = layer(x)
        return x                                                               # (7, 3, 512)

    if not source_pose:
        source_pose = [keras.layers.Lambda(ops.zeros_like, name=names('zero_pose'))(inputs['target_pose'])]
    candidate = features(concatenate([inputs['image'], inputs['target_pose']] + background, names))
    source = features(concatenate([inputs['source_image']] + source_pose + background, names))
    x = concatenate([candidate, source], names)                                # (7, 3, 1024)
    x = keras.layers.LeakyReLU(0.2, name=names('leaky_re_lu'))(x)
    x = keras.layers.Flatten(name=names('flatten'))(x)
    x = keras.layers.Dense(1, name=names('dense'))(x)
    return keras.layers.Activation('sigmoid', name=names('activation'))(x)    # (B, 1)


@discriminator('warp', warps=True)
def warp_discriminator(inputs, source_pose, background, width_factor, names, warp):
    """The source branch's first conv output (63, 31, 64) warped like the generator's skips,
    concatenated with the candidate branch's first conv output, then the ``call`` body."""
    source = warp(first_conv(concatenate([inputs['source_image']] + source_pose, names), width_factor, names))
    candidate = first_conv(concatenate([inputs['image'], inputs['target_pose']] + background, names),
                           width_factor, names)
    return patch_head(concatenate([candidate, source], names), width_factor, names)


def make_discriminator(image_size, use_input_pose, warp_skip, disc_type, warp_agg, use_bg, pose_rep_type,
                       width_factor=1.0, warp_interpolation='nearest'):
    """The discriminator of ``disc_type`` (docs/reference.md, "Networks"; the builders above): dict inputs
    (``make_inputs`` with 'image'), output (B, N) probabilities. The reference allowed ``use_bg`` only
    with ``call``; here the background joins the candidate branch."""
    check_flags(warp_skip, disc_type, warp_agg, pose_rep_type)
    build = DISCRIMINATORS[disc_type]
    warp = warp_types.warp_type(warp_skip) if build.warps else warp_types.WARP_TYPES['none']
    if build.warps and not warp.warps:
        usable = [name for name, other in warp_types.WARP_TYPES.items() if other.warps]
        raise ValueError('--disc_type %s needs --warp_skip %s or %s (there is nothing to warp by with '
                         '--warp_skip %s)' % (disc_type, ', '.join(usable[:-1]), usable[-1], warp_skip))
    image_size = tuple(image_size)
    names = KerasTwoNames()
    inputs = make_inputs(image_size, use_input_pose, warp, use_bg, pose_rep_type, with_image=True)
    source_pose = [inputs['source_pose']] if use_input_pose else []
    background = [inputs['background']] if use_bg else []

    def warp_features(features):
        return warp.warp(features, warp.parameters(inputs, names), warp_agg, image_size, names, warp_interpolation)

    output = build(inputs, source_pose, background, width_factor, names, warp_features)
    return keras.Model(inputs=inputs, outputs=output, name='discriminator')
