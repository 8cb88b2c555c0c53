"""One training step timed in the tree it is run from: the measurement that ``train_step.py`` makes
in-process, and in fresh processes to compare the working tree with a git revision
(``--revision``) or instruction sets (``--isa``).

    cd TREE && python /path/to/benchmarks/step_probe.py --warp_skip mask --out step.json
    python benchmarks/step_probe.py --onednn_check     # the oneDNN ISA of one convolution
    python benchmarks/step_probe.py --layers stock     # Keras' own layers and Adam instead of the project's
    python benchmarks/step_probe.py --layers stock --train_py FLAGS...   # train.py itself, stock layers

Run from a tree's root, it imports THAT tree's code (the current directory goes first on sys.path),
through APIs that every revision since the first training code has in one of two places:
``cmd.train_parser``, ``cmd.add_dataset_paths``, ``make_gan(args)`` (pose_training.py; gan/trainer.py
in revisions before pose_training.py), one D update and one G update (the TensorFlow engine's
``discriminator_update`` / ``generator_update``; the PoseGAN's ``discriminator_train_step`` /
``generator_train_step`` in revisions before gan/engines/) and ``pose_dataset.make_pair_inputs``. The timing, FLOP counting and matmul
yardstick come from the ``common.py`` beside this file, so both trees are measured by the same code.
"""
import os
import sys
if __name__ == '__main__':   # the tree to measure is the current directory
    sys.path.insert(0, os.getcwd())
else:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402

import numpy as np  # noqa: E402


def _load_common():
    """benchmarks/common.py beside this file, whatever tree is first on sys.path."""
    spec = importlib.util.spec_from_file_location(
        'benchmarks_common', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'common.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = _load_common()

# A standing pose and a walking pose, (y, x) on 128x64 (scaled for other sizes): realistic part
# transforms and masks for the warp layers; the speed does not depend on the pixel values.
STANDING = [(20, 32), (30, 32), (30, 24), (48, 20), (64, 18), (30, 40), (48, 44), (64, 46), (66, 27),
            (88, 26), (112, 26), (66, 37), (88, 38), (112, 38), (18, 34), (18, 30), (20, 37), (20, 27)]
WALKING = [(22, 30), (32, 31), (32, 23), (46, 16), (58, 12), (32, 39), (50, 42), (66, 40), (68, 26),
           (90, 20), (114, 16), (68, 36), (90, 40), (113, 46), (20, 32), (20, 28), (22, 35), (-1, -1)]
NO_FLAG = '(no flag)'


def pose(points, image_size):
    kp = np.array(points, dtype=np.int64)
    scale = np.array(image_size) / np.array((128, 64))
    return np.where(kp < 0, -1, np.round(kp * scale)).astype(np.int64)


def training_args(warp_skip, batch_size=4, width_factor=1.0, dataset='market', warp_interpolation=None):
    """train.py's flags for one configuration; ``warp_interpolation`` None keeps the tree's default."""
    parser = cmd.train_parser()
    flags = ['--dataset', dataset, '--warp_skip', warp_skip, '--batch_size', str(batch_size),
             '--width_factor', str(width_factor), '--distribute', 'none']
    if warp_interpolation is not None:
        if '--warp_interpolation' not in parser._option_string_actions:
            raise SystemExit('%s has no --warp_interpolation flag: leave the flag out to time each tree '
                             'with its own default' % os.getcwd())
        flags += ['--warp_interpolation', warp_interpolation]
    return cmd.add_dataset_paths(parser.parse_args(flags))


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


LAYER_SETS = ('project', 'stock')


def use_stock_layers():
    """Builds every later network and optimiser with what Keras ships instead of the project's faster
    equivalents: keras.layers.Conv2DTranspose (the backend's transposed convolution at every decoder
    level), keras.layers.Conv2D (the blocks' convolution, which the project computes its own way on JAX only),
    keras.layers.Cropping2D (a strided slice) and keras.optimizers.Adam (element-wise ops).
    Same variables, same weights, same results up to float32 rounding. The warp layers stay the
    project's: Keras has none."""
    import keras
    import conv_layers
    conv_layers.Conv2DTranspose = keras.layers.Conv2DTranspose
    if hasattr(conv_layers, 'Conv2D'):   # revisions before the blocks' own convolution layer have none
        conv_layers.Conv2D = keras.layers.Conv2D
    conv_layers.Cropping2D = keras.layers.Cropping2D
    try:
        from gan.engines import tensorflow_engine as optimiser_home
    except ImportError:   # revisions where the trainer made the optimisers
        from gan import trainer as optimiser_home
    optimiser_home.FusedAdam = keras.optimizers.Adam


def make_step(args):
    """(gan, step) where step(real, fake, batch) runs one D update and one G update as the TensorFlow
    engine does (tf.function of each, losses read back as floats) and so waits for them."""
    try:
        from pose_training import make_gan
    except ImportError:   # revisions where the pose wiring lived in gan/trainer.py
        from gan.trainer import make_gan
    gan = make_gan(args)
    d_step, g_step = update_steps(gan)

    def step(real, fake, batch):
        values = d_step(real, fake)
        values.update(g_step(batch))
        return {name: float(value) for name, value in values.items()}
    return gan, step


def update_steps(gan):
    """tf.functions of one D update (real, fake) and one G update (batch) of ``gan``, as the TensorFlow
    engine compiles them."""
    import tensorflow as tf
    try:
        from gan.engines.tensorflow_engine import discriminator_update, generator_update
    except ImportError:   # revisions whose GAN held its own update steps
        return tf.function(gan.discriminator_train_step), tf.function(gan.generator_train_step)
    return (tf.function(lambda real, fake: discriminator_update(gan, real, fake)),
            tf.function(lambda batch: generator_update(gan, batch)))


def measure_step(warp_skip, steps, warmup, batch_size=4, width_factor=1.0, dataset='market',
                 warp_interpolation=None):
    """The step's times on three batches in memory, its FLOPs and rate; 'gan' and 'batches' are
    returned too (for profiling) and must be popped before writing JSON."""
    import tensorflow as tf
    args = training_args(warp_skip, batch_size, width_factor, dataset, warp_interpolation)
    gan, step = make_step(args)
    batches = [{k: tf.constant(v) for k, v in memory_batch(args, seed).items()} for seed in range(3)]
    times = common.time_calls(lambda: step(*batches), steps, warmup)
    flops = common.training_step_flops(gan.generator, gan.discriminator)
    median = statistics.median(times)
    return {'warp_skip': warp_skip, 'batch_size': batch_size, 'width_factor': width_factor, 'dataset': dataset,
            'warp_interpolation': getattr(args, 'warp_interpolation', NO_FLAG),
            'generator_parameters': gan.generator.count_params(),
            'discriminator_parameters': gan.discriminator.count_params(),
            'pairs_per_s': batch_size / median, 'step': common.summary(times),
            'gflop_per_pair': flops['step'] / 1e9, 'gflops_achieved': flops['step'] * batch_size / median / 1e9,
            'flops': {k: v for k, v in flops.items() if not k.endswith('_layers')},
            'layers': {'generator': flops['generator_layers'], 'discriminator': flops['discriminator_layers']},
            'gan': gan, 'batches': batches}


# ---- which instruction set oneDNN runs --------------------------------------------------------

ONEDNN_LINE = re.compile(r'^onednn_verbose,.*?,exec,cpu,convolution,([^,]+),')
ONEDNN_ISA = re.compile(r'^onednn_verbose,.*?,info,cpu,isa:(.*)$')


def onednn_check():
    """One convolution of the generator's size; with ONEDNN_VERBOSE=1 in the environment oneDNN
    prints its ISA and the convolution's implementation (e.g. brg_conv_fwd:avx512_core), and one
    XLA-compiled function checks that XLA_FLAGS is accepted."""
    import tensorflow as tf
    x = tf.random.normal((4, 32, 16, 64))
    kernel = tf.random.normal((3, 3, 64, 64))
    print(float(tf.reduce_sum(tf.nn.conv2d(x, kernel, 1, 'SAME'))), flush=True)
    print(float(tf.function(lambda a: tf.reduce_sum(2.0 * a), jit_compile=True)(x)), flush=True)


def parse_onednn(output):
    """{'onednn_isa': the ISA line, 'onednn_convolution': the implementation} from verbose output."""
    found = {'onednn_isa': '', 'onednn_convolution': ''}
    for line in output.splitlines():
        isa, convolution = ONEDNN_ISA.match(line), ONEDNN_LINE.match(line)
        if isa and not found['onednn_isa']:
            found['onednn_isa'] = isa.group(1).strip()
        if convolution and not found['onednn_convolution']:
            found['onednn_convolution'] = convolution.group(1)
    found['xla_isa_refused'] = 'Unknown CPU ISA' in output
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--warp_skip', default='mask')
    parser.add_argument('--batch_size', default=4, type=int)
    parser.add_argument('--width_factor', default=1.0, type=float)
    parser.add_argument('--dataset', default='market')
    parser.add_argument('--warp_interpolation', default=None, help="Default: the tree's own default.")
    parser.add_argument('--steps', default=5, type=int)
    parser.add_argument('--warmup', default=2, type=int)
    parser.add_argument('--matmul_repeats', default=5, type=int, help='0: no matmul yardstick.')
    parser.add_argument('--onednn_check', action='store_true', help='Only run onednn_check().')
    parser.add_argument('--layers', default='project', choices=LAYER_SETS,
                        help="stock: Keras' own layers and Adam where the project has faster ones.")
    parser.add_argument('--train_py', nargs=argparse.REMAINDER, default=None,
                        help='Run train.py with these flags (and --layers) instead of the in-memory step.')
    parser.add_argument('--out', default=None, help='JSON result (stdout when absent).')
    args = parser.parse_args(argv)
    if args.onednn_check:
        onednn_check()
        return
    if args.layers == 'stock':
        use_stock_layers()
    if args.train_py is not None:
        import train
        sys.exit(train.main(args.train_py))
    result = {'tree': os.getcwd(), 'layers': args.layers, 'load_before': common.load_average()}
    if args.matmul_repeats:
        result['matmul_before'] = common.matmul_rate(repeats=args.matmul_repeats)['gflops_median']
    measured = measure_step(args.warp_skip, args.steps, args.warmup, args.batch_size, args.width_factor,
                            args.dataset, args.warp_interpolation)
    del measured['gan'], measured['batches'], measured['layers']
    result.update(measured)
    if args.matmul_repeats:
        result['matmul_after'] = common.matmul_rate(repeats=args.matmul_repeats)['gflops_median']
        result['matmul_gflops'] = (result['matmul_before'] + result['matmul_after']) / 2
    result['load_after'] = common.load_average()
    if args.out:
        common.write_json(args.out, result)
    else:
        import json
        print(json.dumps(result, default=str))


if __name__ == '__main__':
    main()
