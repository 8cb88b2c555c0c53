"""The training step on each Keras backend, side by side on this machine: the market-size (128x64)
step of the paper (one D update on two batches, then one G update), each backend in a process of its
own (KERAS_BACKEND is read once), on random batches of the networks' input shapes held in memory.

    python benchmarks/backends.py                           # tensorflow and jax, --warp_skip mask, batch 4
    python benchmarks/backends.py --width_factor 0.25 --steps 5 --backends tensorflow,jax
    python benchmarks/backends.py --convolutions            # where the backends' steps differ
    python benchmarks/backends.py --start_up --rounds 2     # JAX: building the networks, Keras' draws or flat ones

Prints the machine line, then per backend: the first step (compilation included), the median step
after it and pairs per second. With --convolutions, per backend instead: each 4x4 stride-2 convolution
of the two networks alone (one per shape), forward and both gradients (kernel and input), as the
backend's convolution and, for the blocks' layers, as conv_layers' matrix multiply. With --start_up,
on JAX only, with no compilation cache: the seconds to build the GAN of the flags (make_gan: generator,
discriminator, their optimisers) and then Keras' InceptionV3, with Keras' own random draws
('keras') and with gan/jax_random.py's flat ones ('flat'), alternately in fresh processes.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cmd  # noqa: E402  (first: see cmd.py)

import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from benchmarks import common  # noqa: E402

RESULT = 'backends result: '


def random_batch(gan, batch_size, rng):
    """A batch of every network input and the target image, of the right shapes and ranges."""
    import numpy as np
    shapes = {}
    for model in (gan.generator, gan.discriminator):
        for name, tensor in model.input.items():
            shapes[name] = tuple(tensor.shape[1:])
    shapes['target_image'] = shapes['source_image']
    batch = {}
    for name, shape in shapes.items():
        if name == 'transforms':   # near the identity, as fitted part transforms are
            value = np.tile(np.array([1, 0, 0, 0, 1, 0, 0, 0], 'float32'), shape[:-1] + (1,))
            value = value + rng.normal(0, 0.05, shape)
        elif name == 'masks':
            value = rng.random(shape) < 0.3
        elif name.endswith('keypoints'):
            value = rng.integers(0, 64, shape)
        else:
            value = rng.uniform(-1, 1, shape)
        batch[name] = np.broadcast_to(value, (batch_size,) + shape).astype('float32').copy()
    return batch


def convolution_gradient(layer, inputs):
    """A function of no arguments: ``layer`` on ``inputs``, forward and the gradients of a sum of
    squares with respect to its kernel and its input, compiled by the backend, results on the host."""
    import keras
    import numpy as np
    backend = keras.backend.backend()
    if backend == 'jax':
        import jax
        import jax.numpy as jnp

        def loss(trainable, x):
            y, _ = layer.stateless_call(trainable, [], x)
            return jnp.sum(y * y)
        gradient = jax.jit(jax.grad(loss, argnums=(0, 1)))
        trainable, x = [v.value for v in layer.trainable_variables], jnp.asarray(inputs)
        return lambda: jax.block_until_ready(gradient(trainable, x))
    if backend == 'tensorflow':
        import tensorflow as tf
        x = tf.constant(inputs)

        @tf.function
        def gradient():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
                total = tf.reduce_sum(y * y)
            return tape.gradient(total, layer.trainable_variables + [x])
        return lambda: [np.asarray(g) for g in gradient()]
    raise SystemExit('--convolutions: tensorflow or jax, not %s' % backend)


def convolution_rows(gan, batch_size, repeats):
    """One row per distinct (input shape, kernel shape) of the networks' 4x4 stride-2 convolutions and
    per way of computing it: the backend's convolution ('conv'), and for the blocks' bias-free layers
    (conv_layers.Conv2D) also its matrix multiply ('gemm'), whichever the layer would choose here."""
    import keras
    import numpy as np

    import conv_layers
    rows, seen, chosen = [], set(), conv_layers.gemm_down_sampling
    for model in (gan.generator, gan.discriminator):
        for layer in model.layers:
            if not (isinstance(layer, keras.layers.Conv2D) and tuple(layer.strides) == (2, 2)):
                continue
            shape = (batch_size,) + tuple(layer.input.shape[1:])
            key = (shape, tuple(layer.kernel.shape))
            if key in seen:
                continue
            seen.add(key)
            inputs = np.random.default_rng(0).uniform(-1, 1, shape).astype('float32')
            gemm = isinstance(layer, conv_layers.Conv2D) and not layer.use_bias
            for way in ('conv', 'gemm') if gemm else ('conv',):
                # the way is fixed while the function is compiled, in its first (warm-up) call
                conv_layers.gemm_down_sampling = lambda: way == 'gemm'
                try:
                    times = common.time_calls(convolution_gradient(layer, inputs), repeats, warmup=2)
                finally:
                    conv_layers.gemm_down_sampling = chosen
                rows.append({'backend': keras.backend.backend(), 'way': way, 'network': model.name,
                             'layer': layer.name, 'input': 'x'.join(map(str, shape[1:])),
                             'kernel': 'x'.join(map(str, layer.kernel.shape)),
                             'ms': 1e3 * common.summary(times)['median_s']})
    return rows


def start_up_child(flags, draws):
    """Building the networks on JAX with ``draws`` ('keras' or 'flat'); prints the seconds as one JSON line."""
    import keras

    from gan import engines, jax_random
    from pose_training import make_gan
    if draws == 'keras':
        jax_random.install = lambda: None
    args = cmd.add_dataset_paths(cmd.train_parser().parse_args(flags))
    started = time.perf_counter()
    make_gan(args, engines.make_engine(args.distribute, args.batch_size))
    networks = time.perf_counter() - started
    started = time.perf_counter()
    keras.applications.InceptionV3(weights=None)
    inception = time.perf_counter() - started
    print(RESULT + json.dumps({'draws': draws, 'make_gan_s': networks, 'inception_v3_s': inception}), flush=True)


def start_up(args, flags, description):
    """--start_up: the rounds of both kinds of draws, alternately, each in a fresh JAX process."""
    env = dict(os.environ, KERAS_BACKEND='jax', TF_CPP_MIN_LOG_LEVEL='3')
    env.pop('JAX_COMPILATION_CACHE_DIR', None)
    results = {'keras': [], 'flat': []}
    for round_index in range(args.rounds):
        for draws in ('keras', 'flat') if round_index % 2 == 0 else ('flat', 'keras'):
            command = [sys.executable, os.path.abspath(__file__), '--child', '--start_up', '--draws', draws] + flags[2:]
            result = subprocess.run(command, capture_output=True, text=True, env=env)
            lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT)]
            if result.returncode or not lines:
                raise SystemExit('%s draws failed:\n%s' % (draws, result.stderr[-3000:]))
            results[draws].append(json.loads(lines[-1][len(RESULT):]))
    description['load_average_after'] = common.load_average()
    rows = [{'draws': draws, 'make_gan_s': common.summary([r['make_gan_s'] for r in runs])['median_s'],
             'inception_v3_s': common.summary([r['inception_v3_s'] for r in runs])['median_s'],
             'rounds': len(runs)} for draws, runs in results.items()]
    common.table(rows, ['draws', 'make_gan_s', 'inception_v3_s', 'rounds'],
                 'JAX start-up, market %s, width %g, medians (%s)' % (args.warp_skip, args.width_factor,
                                                                     common.machine_line(description)))
    common.write_json(args.out, {'machine': description, 'flags': vars(args), 'runs': results, 'rows': rows})


def child(flags, steps, convolutions=False, xla_convolutions=False):
    """One backend: the step timed in this process; prints the result as one JSON line."""
    import keras
    import numpy as np

    import conv_layers
    if xla_convolutions:
        conv_layers.gemm_down_sampling = lambda: False

    from gan import engines
    from pose_training import make_gan
    args = cmd.add_dataset_paths(cmd.train_parser().parse_args(flags))
    engine = engines.make_engine(args.distribute, args.batch_size)
    gan = make_gan(args, engine)
    engine.compile(gan)
    if convolutions:
        for row in convolution_rows(gan, args.batch_size, steps):
            print(RESULT + json.dumps(row), flush=True)
        return
    rng = np.random.default_rng(0)
    batches = [random_batch(gan, args.batch_size, rng) for _ in range(3)]

    def step():
        engine.discriminator_step(batches[0], batches[1])
        engine.generator_step(batches[2])

    started = time.perf_counter()
    step()
    first = time.perf_counter() - started
    times = common.time_calls(step, steps, warmup=1)
    median = common.summary(times)['median_s']
    print(RESULT + json.dumps({'backend': keras.backend.backend(), 'first_step_s': first, 'step_s': median,
                               'pairs_per_s': args.batch_size / median, 'times_s': times}), flush=True)


def main():
    parser = common.parser('backends', __doc__.split('\n\n')[0])
    parser.add_argument('--backends', default='tensorflow,jax')
    parser.add_argument('--warp_skip', default='mask')
    parser.add_argument('--batch_size', default=4, type=int)
    parser.add_argument('--width_factor', default=1.0, type=cmd.finite_float)
    parser.add_argument('--steps', default=5, type=int, help='Timed steps after the first two.')
    parser.add_argument('--convolutions', action='store_true',
                        help='Time each 4x4 stride-2 convolution alone (forward and both gradients), '
                             'not the step.')
    parser.add_argument('--xla_convolutions', action='store_true',
                        help="JAX on a CPU: the blocks' strided convolutions as XLA's convolution (Keras' Conv2D), "
                             'not as the matrix multiply of conv_layers.Conv2D.')
    parser.add_argument('--start_up', action='store_true',
                        help='JAX: time building the networks with Keras\' random draws and with flat ones '
                             '(gan/jax_random.py), alternately in fresh processes, with no compilation cache.')
    parser.add_argument('--rounds', default=2, type=int, help='--start_up: processes per kind of draws.')
    parser.add_argument('--draws', default='flat', choices=('keras', 'flat'), help=argparse_suppress())
    parser.add_argument('--child', action='store_true', help=argparse_suppress())
    args = parser.parse_args()
    flags = ['--dataset', 'market', '--warp_skip', args.warp_skip, '--batch_size', str(args.batch_size),
             '--width_factor', str(args.width_factor)]
    if args.child:
        if args.start_up:
            return start_up_child(flags, args.draws)
        return child(flags, args.steps, args.convolutions, args.xla_convolutions)
    description = common.machine()
    print(common.machine_line(description), flush=True)
    if args.start_up:
        return start_up(args, flags, description)
    rows = []
    for backend in args.backends.split(','):
        command = [sys.executable, os.path.abspath(__file__), '--child', '--warp_skip', args.warp_skip,
                   '--batch_size', str(args.batch_size), '--width_factor', str(args.width_factor),
                   '--steps', str(args.steps)] + (['--convolutions'] if args.convolutions else []) + (
            ['--xla_convolutions'] if args.xla_convolutions else [])
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL='3')
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT)]
        if result.returncode or not lines:
            print('%s failed:\n%s' % (backend, result.stderr[-3000:]))
            continue
        rows += [json.loads(line[len(RESULT):]) for line in (lines if args.convolutions else lines[-1:])]
    description['load_average_after'] = common.load_average()
    if args.convolutions:
        rows = convolution_table(rows, args)
        if not rows:
            raise SystemExit('no backend gave a result (the errors above)')
        common.table(rows, list(dict.fromkeys(column for row in rows for column in row)),
                     '4x4 stride-2 convolutions, forward + gradients, batch %d, width %g, ms (%s)'
                     % (args.batch_size, args.width_factor, common.machine_line(description)))
        return common.write_json(args.out, {'machine': description, 'flags': vars(args), 'rows': rows})
    common.table(rows, ['backend', 'first_step_s', 'step_s', 'pairs_per_s'],
                 'market %s step, batch %d, width %g (%s)' % (args.warp_skip, args.batch_size, args.width_factor,
                                                               common.machine_line(description)))
    common.write_json(args.out, {'machine': description, 'flags': vars(args), 'rows': rows})


def convolution_table(rows, args):
    """The per-backend convolution rows side by side: one row per convolution, a column per backend."""
    table = {}
    for row in rows:
        entry = table.setdefault((row['network'], row['layer']), {
            'network': row['network'], 'layer': row['layer'], 'input': row['input'], 'kernel': row['kernel']})
        entry['%s_%s_ms' % (row['backend'], row['way'])] = row['ms']
    return list(table.values())


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS


if __name__ == '__main__':
    main()
