"""Where the time of the training step goes (benchmarks/train_step.py --profile): the generator
forward and backward alone, the warp layers alone with each interpolation, every convolution and
transposed convolution alone, and the whole step by op type under TensorFlow's profiler."""
import os
import statistics
import tempfile

from benchmarks import common, step_probe


def profile_generator(gan, batch, repeats):
    """Generator forward alone, forward + backward (gradients of a mean loss wrt its weights)."""
    import tensorflow as tf
    generator = gan.generator
    inputs = {name: batch[name] for name in generator.input}
    variables = generator.trainable_variables

    @tf.function
    def forward():
        return tf.reduce_mean(generator(inputs, training=True))

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(generator(inputs, training=True))
        return tape.gradient(loss, variables)[0]

    return {'generator_forward_s': statistics.median(common.time_calls(lambda: forward().numpy(), repeats)),
            'generator_forward_backward_s': statistics.median(
                common.time_calls(lambda: forward_backward().numpy(), repeats))}


def profile_warp(gan, batch, repeats):
    """The AffineTransformLayer calls of the generator alone, forward and forward + backward, on
    features of their real shapes, with each interpolation of --warp_interpolation."""
    import tensorflow as tf
    from warps import warp_sampling
    from warps import warp_types
    rows = []
    for layer in gan.generator.layers:
        if not isinstance(layer, warp_types.AffineTransformLayer):
            continue
        shape = layer.input[0].shape
        features = tf.random.normal((batch['source_image'].shape[0],) + tuple(shape[1:]))
        extra = [batch['transforms'], batch['masks']]
        row = {'layer': layer.name, 'features': 'x'.join(str(v) for v in shape[1:])}
        for interpolation in warp_sampling.WARP_INTERPOLATIONS:
            candidate = layer.from_config(dict(layer.get_config(), interpolation=interpolation))

            @tf.function
            def forward(candidate=candidate):
                return tf.reduce_sum(candidate([features] + extra))

            @tf.function
            def backward(candidate=candidate):
                with tf.GradientTape() as tape:
                    tape.watch(features)
                    loss = tf.reduce_sum(tf.square(candidate([features] + extra)))
                return tape.gradient(loss, features)

            row[interpolation + '_forward_s'] = statistics.median(
                common.time_calls(lambda: forward().numpy(), repeats))
            row[interpolation + '_forward_backward_s'] = statistics.median(
                common.time_calls(lambda: backward().numpy(), repeats))
        rows.append(row)
    return rows


def profile_convolutions(gan, batch_size, repeats):
    """Every convolution of the generator rebuilt alone (same configuration, random input of its
    real shape), forward and forward + backward (weight and input gradients), with its GFLOP/s."""
    import keras
    import tensorflow as tf
    rows = []
    for layer in gan.generator.layers:
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            continue
        clone = layer.__class__.from_config(layer.get_config())
        x = tf.random.normal((batch_size,) + tuple(layer.input.shape[1:]))
        clone(x)
        flops = [l for l in common.convolution_flops(gan.generator) if l['name'] == layer.name][0]['flops']

        @tf.function
        def forward(clone=clone, x=x):
            return tf.reduce_sum(clone(x))

        @tf.function
        def backward(clone=clone, x=x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(clone(x))
            gradients = tape.gradient(loss, [x, clone.kernel])
            return gradients[0][0, 0, 0, 0] + gradients[1][0, 0, 0, 0]

        t_forward = statistics.median(common.time_calls(lambda: forward().numpy(), repeats))
        t_both = statistics.median(common.time_calls(lambda: backward().numpy(), repeats))
        rows.append({'layer': layer.name, 'kind': 'transposed' if 'transpose' in layer.name else 'conv',
                     'input': 'x'.join(str(v) for v in layer.input.shape[1:]),
                     'gflop_fwd': flops * batch_size / 1e9, 'fwd_ms': 1e3 * t_forward,
                     'fwd_gflops': flops * batch_size / t_forward / 1e9,
                     'fwd_bwd_ms': 1e3 * t_both, 'fwd_bwd_gflops': 3 * flops * batch_size / t_both / 1e9})
    return rows


def profile_transposed(gan, batch_size, repeats):
    """Every decoder up-sampling (transposed conv + 1-px crop) two ways, forward + backward (weight
    and input gradients): TensorFlow's transposed convolution (Keras' Conv2DTranspose) and the
    project's layers (conv_layers.Conv2DTranspose and Cropping2D: on a CPU the GEMM
    conv_layers.transposed_conv_4x4_s2 and a slice)."""
    import keras
    import tensorflow as tf
    import conv_layers
    rows = []
    for layer in gan.generator.layers:
        if not isinstance(layer, keras.layers.Conv2DTranspose):
            continue
        x = tf.random.normal((batch_size,) + tuple(layer.input.shape[1:]))
        kernel = tf.Variable(tf.random.normal(layer.kernel.shape, stddev=0.02))
        flops = 2.0 * batch_size * x.shape[1] * x.shape[2] * 16 * kernel.shape[2] * kernel.shape[3]
        ways = {'keras': lambda x, k: tf.nn.conv2d_transpose(
                    x, k, (x.shape[0], 2 * x.shape[1] + 2, 2 * x.shape[2] + 2, k.shape[2]), 2,
                    padding='VALID')[:, 1:-1, 1:-1, :],
                'gemm': lambda x, k: conv_layers.Cropping2D(1)(conv_layers.transposed_conv_4x4_s2(x, k))}
        row = {'layer': layer.name, 'input': 'x'.join(str(v) for v in layer.input.shape[1:]),
               'gflop_fwd': flops / 1e9,
               'project_uses': 'keras' if conv_layers.on_gpu() else 'gemm'}
        for name, way in ways.items():
            @tf.function
            def both(way=way):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    loss = tf.reduce_sum(tf.square(way(x, kernel)))
                gradients = tape.gradient(loss, [x, kernel])
                return gradients[0][0, 0, 0, 0] + gradients[1][0, 0, 0, 0]
            seconds = statistics.median(common.time_calls(lambda: both().numpy(), repeats))
            row[name + '_ms'] = 1e3 * seconds
            row[name + '_gflops'] = 3 * flops / seconds / 1e9
        rows.append(row)
    return rows


def profile_ops(gan, batches, steps):
    """The whole step under TensorFlow's profiler: milliseconds per step by op type, summed over the
    executor's threads (two ops often run at once, each on the intra-op pool, so the sum exceeds the
    step's wall time; the shares compare op types with each other)."""
    import collections
    import glob
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    d_step, g_step = step_probe.update_steps(gan)

    def step():
        values = dict(d_step(batches[0], batches[1]), **g_step(batches[2]))
        return {name: float(value) for name, value in values.items()}
    for _ in range(2):
        step()
    with tempfile.TemporaryDirectory() as folder:
        tf.profiler.experimental.start(folder)
        for _ in range(steps):
            step()
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        with open(glob.glob(os.path.join(folder, '**', '*.xplane.pb'), recursive=True)[0], 'rb') as f:
            space.ParseFromString(f.read())
    milliseconds, calls = collections.Counter(), collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith('tf_Compute'):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ':' in name and not name.endswith(':Process'):   # "op name:op type"; Process encloses ops
                    kind = name.rsplit(':', 1)[1]
                    milliseconds[kind] += event.duration_ps / 1e9 / steps
                    calls[kind] += 1 / steps
    total = sum(milliseconds.values())
    return [{'op_type': kind, 'ms_per_step': ms, 'share': ms / total, 'calls_per_step': calls[kind]}
            for kind, ms in milliseconds.most_common(16)]


def print_profile(results, measured):
    p = measured['profile']
    print('generator alone: forward %.3f s, forward+backward %.3f s (batch %d)'
          % (p['generator_forward_s'], p['generator_forward_backward_s'], measured['batch_size']))
    results['warp_table'] = common.table(
        measured['warp_layers'], ['layer', 'features', 'nearest_forward_s', 'nearest_forward_backward_s',
                                  'bilinear_forward_s', 'bilinear_forward_backward_s'],
        'Warp layers alone, each interpolation (batch %d)' % measured['batch_size'])
    results['conv_table'] = common.table(
        measured['convolutions'], ['layer', 'kind', 'input', 'gflop_fwd', 'fwd_ms', 'fwd_gflops', 'fwd_bwd_ms',
                                   'fwd_bwd_gflops'],
        'Generator convolutions alone (batch %d)' % measured['batch_size'])
    conv_total = sum(r['fwd_bwd_ms'] for r in measured['convolutions']) / 1e3
    used = measured['warp_interpolation'] if measured['warp_interpolation'] != step_probe.NO_FLAG else 'nearest'
    warp_total = sum(r[used + '_forward_backward_s'] for r in measured['warp_layers'])
    print('sum of the convolutions alone (fwd+bwd): %.3f s; warp layers alone (fwd+bwd, %s): %.3f s'
          % (conv_total, used, warp_total))
    results['transposed_table'] = common.table(
        measured['transposed_layers'], ['layer', 'input', 'gflop_fwd', 'project_uses', 'keras_ms', 'keras_gflops',
                                        'gemm_ms', 'gemm_gflops'],
        'Decoder up-sampling (transposed conv + crop), forward + backward, two ways (batch %d)'
        % measured['batch_size'])
    results['op_table'] = common.table(
        measured['op_types'], ['op_type', 'ms_per_step', 'share', 'calls_per_step'],
        'The whole step by op type (TensorFlow profiler; ms summed over the executor threads)')
