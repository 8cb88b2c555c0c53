"""Training-step speed (issue #7, item 1): pairs per second of one training step (one discriminator
update, then one generator update, as gan/trainer.py runs them) for market ``mask`` and ``none``, batch
4, full width, float32, data already in memory; the step's convolution FLOPs over its time, as a
fraction of the machine's matrix-multiply rate measured in the same run.

    python benchmarks/train_step.py [--quick] [--profile] [--variants]

--profile adds where the time goes (generator forward / backward, the warp layers alone, every
convolution and transposed convolution alone); --variants re-runs the mask step in fresh processes
under other threading / oneDNN settings.
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402

# A standing pose and a walking pose, (y, x) on 128x64 (scaled for other sizes): realistic part
# transforms and masks for the warp layers; the speed does not depend on the pixel values.
STANDING = [(20, 32), (30, 32), (30, 24), (48, 20), (64, 18), (30, 40), (48, 44), (64, 46), (66, 27),
            (88, 26), (112, 26), (66, 37), (88, 38), (112, 38), (18, 34), (18, 30), (20, 37), (20, 27)]
WALKING = [(22, 30), (32, 31), (32, 23), (46, 16), (58, 12), (32, 39), (50, 42), (66, 40), (68, 26),
           (90, 20), (114, 16), (68, 36), (90, 40), (113, 46), (20, 32), (20, 28), (22, 35), (-1, -1)]


def pose(points, image_size):
    kp = np.array(points, dtype=np.int64)
    scale = np.array(image_size) / np.array((128, 64))
    return np.where(kp < 0, -1, np.round(kp * scale)).astype(np.int64)


def training_args(warp_skip, batch_size=4, width_factor=1.0, dataset='market'):
    return cmd.add_dataset_paths(cmd.train_parser().parse_args(
        ['--dataset', dataset, '--warp_skip', warp_skip, '--batch_size', str(batch_size),
         '--width_factor', str(width_factor), '--distribute', 'none']))


def memory_batch(args, seed=0):
    """A dict batch of float32 arrays (the pose_dataset.make_pair_inputs of realistic pairs)."""
    import pose_dataset
    rng = np.random.default_rng(seed)
    size = tuple(args.image_size)
    pairs = []
    for i in range(args.batch_size):
        source, target = (STANDING, WALKING) if i % 2 == 0 else (WALKING, STANDING)
        image = rng.integers(0, 256, size + (3,), dtype=np.uint8)
        target_image = rng.integers(0, 256, size + (3,), dtype=np.uint8)
        pairs.append(pose_dataset.make_pair_inputs(
            image, pose(source, size), pose(target, size), size, args.pose_rep_type, args.warp_skip,
            args.use_input_pose, args.use_bg, target_image=target_image))
    return {name: np.stack([pair[name] for pair in pairs]) for name in pairs[0]}


# The step's layers before and after each change of issue #7, cumulatively (previous_layers.py holds
# the replaced ones): the warp as gathers with the masks folded in, the small decoder levels' transposed
# convolutions as one GEMM, the instance norm as one multiply-add, the warp compiled by XLA.
IMPLEMENTATIONS = {
    'before': (),
    'gather': ('warp',),
    'gemm': ('warp', 'gemm'),
    'norm': ('warp', 'gemm', 'norm'),
    'project': ('warp', 'gemm', 'norm', 'xla'),
}


def make_gan(args, implementation='project'):
    """gan.trainer.make_gan with the layers of ``implementation`` (see IMPLEMENTATIONS; same layers,
    weights and outputs): the replaced layers of benchmarks/previous_layers.py swapped in while the
    networks are built."""
    import keras
    import conv_layers
    import warp_layers
    from gan.trainer import make_gan as make
    from benchmarks import previous_layers
    if implementation not in IMPLEMENTATIONS:
        raise ValueError('unknown implementation %r (choose from %s)' % (implementation, ', '.join(IMPLEMENTATIONS)))
    changes = IMPLEMENTATIONS[implementation]
    originals = (conv_layers.Conv2DTranspose, conv_layers.InstanceNormalization,
                 warp_layers.AffineTransformLayer)
    if 'warp' not in changes:
        warp_layers.AffineTransformLayer = previous_layers.KernelAffineTransformLayer
    elif 'xla' not in changes:
        warp_layers.AffineTransformLayer = previous_layers.UncompiledAffineTransformLayer
    if 'gemm' not in changes:
        conv_layers.Conv2DTranspose = keras.layers.Conv2DTranspose
    if 'norm' not in changes:
        conv_layers.InstanceNormalization = previous_layers.TwoPassInstanceNormalization
    try:
        return make(args)
    finally:
        (conv_layers.Conv2DTranspose, conv_layers.InstanceNormalization,
         warp_layers.AffineTransformLayer) = originals


def make_step(args, implementation='project'):
    """(gan, step function) where step(batches) runs one D update and one G update and waits for them."""
    import tensorflow as tf
    gan = make_gan(args, implementation)
    d_step = tf.function(gan.discriminator_train_step)
    g_step = tf.function(gan.generator_train_step)

    def step(real, fake, batch):
        values = d_step(real, fake)
        values.update(g_step(batch))
        return {name: float(value) for name, value in values.items()}
    return gan, step


def measure_step(warp_skip, steps, warmup, batch_size=4, width_factor=1.0, implementation='project'):
    import tensorflow as tf
    args = training_args(warp_skip, batch_size, width_factor)
    gan, step = make_step(args, implementation)
    batches = [{k: tf.constant(v) for k, v in memory_batch(args, seed).items()} for seed in range(3)]
    times = common.time_calls(lambda: step(*batches), steps, warmup)
    flops = common.training_step_flops(gan.generator, gan.discriminator)
    median = statistics.median(times)
    return {'warp_skip': warp_skip, 'batch_size': batch_size, 'width_factor': width_factor,
            'implementation': implementation,
            'generator_parameters': gan.generator.count_params(),
            'discriminator_parameters': gan.discriminator.count_params(),
            'pairs_per_s': batch_size / median, 'step': common.summary(times),
            'gflop_per_pair': flops['step'] / 1e9, 'gflops_achieved': flops['step'] * batch_size / median / 1e9,
            'flops': {k: v for k, v in flops.items() if not k.endswith('_layers')},
            'layers': {'generator': flops['generator_layers'], 'discriminator': flops['discriminator_layers']},
            'gan': gan, 'batches': batches}


def measure_interleaved(implementations, steps, warmup, batch_size=4, width_factor=1.0):
    """The mask step of several implementations built in ONE process and timed round-robin (one step
    of each in turn), so that a change of machine load hits all of them alike."""
    import tensorflow as tf
    args = training_args('mask', batch_size, width_factor)
    batches = [{k: tf.constant(v) for k, v in memory_batch(args, seed).items()} for seed in range(3)]
    built = {name: make_step(args, name) for name in implementations}
    runs = {name: step for name, (_, step) in built.items()}
    gan = next(iter(built.values()))[0]
    gflop = common.training_step_flops(gan.generator, gan.discriminator)['step'] / 1e9
    for step in runs.values():
        for _ in range(warmup):
            step(*batches)
    times = {name: [] for name in implementations}
    for _ in range(steps):
        for name, step in runs.items():
            times[name].append(common.time_calls(lambda: step(*batches), 1, warmup=0)[0])
    return [{'layers': name, 'step_median_s': statistics.median(t), 'step_min_s': min(t),
             'pairs_per_s': batch_size / statistics.median(t), 'GFLOP/s': gflop * batch_size / statistics.median(t),
             'times_s': t} for name, t in times.items()]


# ---- where the time goes (--profile) -----------------------------------------------------------

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
    features of their real shapes: with the kernel warp the project replaced, with the gather warp run
    op by op (both benchmarks/previous_layers.py) and as the project runs it (XLA); the largest
    differences of their outputs and input gradients from the kernel's."""
    import tensorflow as tf
    import warp_layers
    from benchmarks import previous_layers
    rows = []
    for layer in gan.generator.layers:
        if not isinstance(layer, warp_layers.AffineTransformLayer):
            continue
        shape = layer.input[0].shape
        features = tf.random.normal((batch['source_image'].shape[0],) + tuple(shape[1:]))
        extra = [batch['transforms'], batch['masks']]
        row = {'layer': layer.name, 'features': 'x'.join(str(v) for v in shape[1:])}
        outputs = {}
        config = layer.get_config()
        for name, candidate in (('kernel', previous_layers.KernelAffineTransformLayer.from_config(config)),
                                ('gather', previous_layers.UncompiledAffineTransformLayer.from_config(config)),
                                ('xla', layer)):
            @tf.function
            def forward(candidate=candidate):
                return tf.reduce_sum(candidate([features] + extra))

            @tf.function
            def backward(candidate=candidate):
                with tf.GradientTape() as tape:
                    tape.watch(features)
                    output = candidate([features] + extra)
                    loss = tf.reduce_sum(tf.square(output))
                return output, tape.gradient(loss, features)

            outputs[name] = backward()
            row[name + '_forward_s'] = statistics.median(common.time_calls(lambda: forward().numpy(), repeats))
            row[name + '_forward_backward_s'] = statistics.median(
                common.time_calls(lambda: [v.numpy() for v in backward()], repeats))
        for name in ('gather', 'xla'):
            row[name + '_output_difference'] = float(tf.reduce_max(tf.abs(outputs['kernel'][0] - outputs[name][0])))
            row[name + '_gradient_difference'] = float(tf.reduce_max(tf.abs(outputs['kernel'][1] - outputs[name][1])))
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
    """Every decoder up-sampling (transposed conv + 1-px crop) three ways, forward + backward (weight
    and input gradients): TensorFlow's transposed convolution (Keras' Conv2DTranspose), the project's
    GEMM (conv_layers.transposed_conv_4x4_s2, used up to GEMM_MAX_INPUT_PIXELS), depth_to_space."""
    import keras
    import tensorflow as tf
    import conv_layers
    from benchmarks import previous_layers
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
                'gemm': lambda x, k: conv_layers.transposed_conv_4x4_s2(x, k)[:, 1:-1, 1:-1, :],
                'depth_to_space': previous_layers.transposed_conv_depth_to_space}
        row = {'layer': layer.name, 'input': 'x'.join(str(v) for v in layer.input.shape[1:]),
               'gflop_fwd': flops / 1e9}
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


# ---- settings in fresh processes (--variants) --------------------------------------------------

VARIANTS = [('default', {}),
            ('oneDNN off', {'TF_ENABLE_ONEDNN_OPTS': '0'}),
            ('intra 2, inter 1', {'BENCH_INTRA': '2', 'BENCH_INTER': '1'}),
            ('intra 1, inter 2', {'BENCH_INTRA': '1', 'BENCH_INTER': '2'}),
            ('intra 2, inter 2', {'BENCH_INTRA': '2', 'BENCH_INTER': '2'}),
            ('grappler remapper off', {'BENCH_NO_REMAPPING': '1'})]


def run_variants(steps, warmup):
    rows = []
    for name, env in VARIANTS:
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, 'variant.json')
            command = [sys.executable, os.path.abspath(__file__), '--warp_skips', 'mask', '--implementations', 'project',
                       '--steps', str(steps),
                       '--warmup', str(warmup), '--no_matmul', '--out', out]
            subprocess.run(command, env=dict(os.environ, **env), check=True, stdout=subprocess.DEVNULL)
            with open(out) as f:
                result = json.load(f)['steps'][0]
        rows.append({'setting': name, 'pairs_per_s': result['pairs_per_s'],
                     'step_median_s': result['step']['median_s'], 'gflops_achieved': result['gflops_achieved']})
    return rows


def main(argv=None):
    parser = common.parser('train_step', __doc__.split('\n\n')[0])
    parser.add_argument('--warp_skips', default='mask,none', help='Comma-separated --warp_skip values to time.')
    parser.add_argument('--implementations', default='before,project',
                        help='Comma-separated layer implementations to time the steps with: '
                             + ', '.join(IMPLEMENTATIONS) + ' (before: as the project first was; each next one '
                             'adds a change: the gather warp, the GEMM transposed convolution, the one-pass '
                             'instance norm, XLA for the warp; project: as it is). The none step has no warp: '
                             'gather is skipped there.')
    parser.add_argument('--batch_size', default=4, type=int, help='Pairs per step.')
    parser.add_argument('--width_factor', default=1.0, type=float, help='Network width (1 = the paper).')
    parser.add_argument('--steps', default=None, type=int, help='Timed steps (default 7, 3 with --quick).')
    parser.add_argument('--warmup', default=2, type=int, help='Untimed steps first (tracing, caches).')
    parser.add_argument('--profile', action='store_true', help='Also time the parts of the step.')
    parser.add_argument('--variants', action='store_true', help='Also time the mask step under other settings.')
    parser.add_argument('--no_matmul', action='store_true', help='Skip the matmul yardstick (variant runs).')
    parser.add_argument('--interleave', action='store_true',
                        help='Also time the mask step of every --implementations entry round-robin in one process.')
    args = parser.parse_args(argv)
    steps = args.steps or (3 if args.quick else 7)
    warmup = 1 if args.quick else args.warmup

    import tensorflow as tf
    if os.environ.get('BENCH_INTRA'):
        tf.config.threading.set_intra_op_parallelism_threads(int(os.environ['BENCH_INTRA']))
    if os.environ.get('BENCH_INTER'):
        tf.config.threading.set_inter_op_parallelism_threads(int(os.environ['BENCH_INTER']))
    if os.environ.get('BENCH_NO_REMAPPING'):
        tf.config.optimizer.set_experimental_options({'remapping': False})

    results = {'machine': common.machine(), 'load_before': common.load_average(), 'steps': []}
    if not args.no_matmul:
        results['matmul_before'] = common.matmul_rate(repeats=3 if args.quick else 7)
    rows = []
    for warp_skip, implementation in [(w, i) for w in args.warp_skips.split(',')
                                      for i in args.implementations.split(',') if w == 'mask' or i in ('before', 'project')]:
        measured = measure_step(warp_skip, steps, warmup, args.batch_size, args.width_factor, implementation)
        gan, batches = measured.pop('gan'), measured.pop('batches')
        if args.profile and warp_skip == 'mask' and implementation == 'project':
            repeats = 2 if args.quick else 5
            measured['profile'] = profile_generator(gan, batches[2], repeats)
            measured['warp_layers'] = profile_warp(gan, batches[2], repeats)
            measured['convolutions'] = profile_convolutions(gan, args.batch_size, repeats)
            measured['transposed_layers'] = profile_transposed(gan, args.batch_size, repeats)
        results['steps'].append(measured)
        del gan, batches
    if not args.no_matmul:
        results['matmul_after'] = common.matmul_rate(repeats=3 if args.quick else 7)
        rate = (results['matmul_before']['gflops_median'] + results['matmul_after']['gflops_median']) / 2
        results['matmul_gflops'] = rate
    results['load_after'] = common.load_average()

    for measured in results['steps']:
        rows.append({'warp_skip': measured['warp_skip'], 'layers': measured['implementation'],
                     'batch': measured['batch_size'],
                     'width': measured['width_factor'], 'step_median_s': measured['step']['median_s'],
                     'step_min_s': measured['step']['min_s'], 'pairs_per_s': measured['pairs_per_s'],
                     'GFLOP_per_pair': measured['gflop_per_pair'], 'GFLOP/s': measured['gflops_achieved'],
                     'of_matmul': measured['gflops_achieved'] / results['matmul_gflops']
                     if 'matmul_gflops' in results else ''})
    print(common.machine_line(results['machine']))
    if 'matmul_gflops' in results:
        print('matmul 2048x2048 float32: %.0f GFLOP/s before, %.0f after the steps'
              % (results['matmul_before']['gflops_median'], results['matmul_after']['gflops_median']))
    print('load average before %s, after %s' % (results['load_before'], results['load_after']))
    results['table'] = common.table(rows, ['warp_skip', 'layers', 'batch', 'width', 'step_median_s', 'step_min_s',
                                           'pairs_per_s', 'GFLOP_per_pair', 'GFLOP/s', 'of_matmul'],
                                    'Training step (D update + G update), data in memory')
    for measured in results['steps']:
        f = measured['flops']
        print('%s (%s layers): per pair G forward %.2f GFLOP (transposed %.2f), D forward %.3f GFLOP, D update %.1f, '
              'G update %.1f, step %.1f GFLOP' % (
                  measured['warp_skip'], measured['implementation'], f['generator_forward'] / 1e9, f['generator_forward_transposed'] / 1e9,
                  f['discriminator_forward'] / 1e9, f['discriminator_update'] / 1e9,
                  f['generator_update'] / 1e9, f['step'] / 1e9))
        if 'profile' in measured:
            p = measured['profile']
            print('generator alone: forward %.3f s, forward+backward %.3f s (batch %d)'
                  % (p['generator_forward_s'], p['generator_forward_backward_s'], measured['batch_size']))
            results['warp_table'] = common.table(measured['warp_layers'],
                                                 ['layer', 'features', 'kernel_forward_s', 'kernel_forward_backward_s',
                                                  'gather_forward_s', 'gather_forward_backward_s',
                                                  'xla_forward_s', 'xla_forward_backward_s', 'gather_output_difference',
                                                  'xla_output_difference', 'xla_gradient_difference'],
                                                 'Warp layers alone (batch %d)' % measured['batch_size'])
            results['conv_table'] = common.table(measured['convolutions'],
                                                 ['layer', 'kind', 'input', 'gflop_fwd', 'fwd_ms', 'fwd_gflops',
                                                  'fwd_bwd_ms', 'fwd_bwd_gflops'],
                                                 'Generator convolutions alone (batch %d)' % measured['batch_size'])
            conv_total = sum(r['fwd_bwd_ms'] for r in measured['convolutions']) / 1e3
            warp_total = sum(r['xla_forward_backward_s'] for r in measured['warp_layers'])
            print('sum of the convolutions alone (fwd+bwd): %.3f s; warp layers alone (fwd+bwd): %.3f s'
                  % (conv_total, warp_total))
            results['transposed_table'] = common.table(
                measured['transposed_layers'], ['layer', 'input', 'gflop_fwd', 'keras_ms', 'keras_gflops', 'gemm_ms',
                                         'gemm_gflops', 'depth_to_space_ms', 'depth_to_space_gflops'],
                'Decoder up-sampling (transposed conv + crop), forward + backward, three ways (batch %d)'
                % measured['batch_size'])
    if args.interleave:
        results['interleaved'] = measure_interleaved(args.implementations.split(','), steps, warmup, args.batch_size,
                                                     args.width_factor)
        for row in results['interleaved']:
            if 'matmul_gflops' in results:
                row['of_matmul'] = row['GFLOP/s'] / results['matmul_gflops']
        results['interleaved_table'] = common.table(
            results['interleaved'], ['layers', 'step_median_s', 'step_min_s', 'pairs_per_s', 'GFLOP/s', 'of_matmul'],
            'Market mask step, implementations timed round-robin in one process (batch %d)' % args.batch_size)
    if args.variants:
        results['variants'] = run_variants(steps, warmup)
        results['variants_table'] = common.table(results['variants'],
                                                 ['setting', 'step_median_s', 'pairs_per_s', 'gflops_achieved'],
                                                 'Market mask step under other settings (fresh processes)')
    common.write_json(args.out, results)
    return results


if __name__ == '__main__':
    main()
