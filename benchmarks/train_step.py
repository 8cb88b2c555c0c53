"""Training-step speed: pairs per second of one training step (one discriminator update, then one
generator update, as gan/trainer.py runs them) for market ``mask`` and ``none``, batch 4, full width,
float32, data already in memory; the step's convolution FLOPs over its time, as a fraction of the
machine's matrix-multiply rate measured in the same run.

    python benchmarks/train_step.py [--quick] [--profile] [--variants]
    python benchmarks/train_step.py --revision HEAD~5        # this tree against a git revision
    python benchmarks/train_step.py --isa native,avx2        # AVX-512 (native) against AVX2
    python benchmarks/train_step.py --end_to_end             # train.py itself against its step
    python benchmarks/train_step.py --isa native,avx2 --layers project,stock   # against Keras' own layers

--profile adds where the time goes (generator forward / backward, the warp layers alone with each
interpolation, every convolution and transposed convolution alone, the whole step by op type under
TensorFlow's profiler; for AVX2 run it with ONEDNN_MAX_CPU_ISA=AVX2 XLA_FLAGS=--xla_cpu_max_isa=AVX2
in the environment); --variants re-runs the mask step
in fresh processes under other threading / oneDNN settings.

--revision REV and --isa run every measurement in a fresh process (benchmarks/step_probe.py, run from
the root of the tree it measures), alternating between the trees (and ISAs) round after round, and
report medians: REV is checked out with ``git worktree add --detach`` in a temporary folder, removed at
the end. --isa avx2 sets ONEDNN_MAX_CPU_ISA=AVX2 and XLA_FLAGS=--xla_cpu_max_isa=AVX2 before
TensorFlow starts, and a oneDNN convolution run with ONEDNN_VERBOSE=1 under the same settings names
the ISA that oneDNN uses. --end_to_end times ``python train.py`` on the synthetic dataset (128x64)
from its training log: the second epoch's seconds per step, beside the in-memory step. --layers
project,stock (with --revision, --isa or --end_to_end) also times every measurement with Keras' own
layers and Adam where the project has faster ones (step_probe.use_stock_layers).
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

import contextlib  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from benchmarks import common, step_probe, step_profile  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE = os.path.join(ROOT, 'benchmarks', 'step_probe.py')
WORKING_TREE = 'working tree'
# Set in the measuring process's environment, before TensorFlow is imported.
ISAS = {'native': {}, 'avx2': {'ONEDNN_MAX_CPU_ISA': 'AVX2', 'XLA_FLAGS': '--xla_cpu_max_isa=AVX2'}}


# ---- settings in fresh processes (--variants) --------------------------------------------------

VARIANTS = [('default', {}),
            ('oneDNN off', {'TF_ENABLE_ONEDNN_OPTS': '0'}),
            ('intra 2, inter 1', {'BENCH_INTRA': '2', 'BENCH_INTER': '1'}),
            ('intra 1, inter 2', {'BENCH_INTRA': '1', 'BENCH_INTER': '2'}),
            ('intra 2, inter 2', {'BENCH_INTRA': '2', 'BENCH_INTER': '2'}),
            ('grappler remapper off', {'BENCH_NO_REMAPPING': '1'})]


def run_variants(steps, warmup, warp_interpolation):
    rows = []
    for name, env in VARIANTS:
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, 'variant.json')
            command = [sys.executable, os.path.abspath(__file__), '--warp_skips', 'mask', '--steps', str(steps),
                       '--warmup', str(warmup), '--no_matmul', '--out', out] + interpolation_flag(warp_interpolation)
            subprocess.run(command, env=dict(os.environ, **env), check=True, stdout=subprocess.DEVNULL)
            with open(out) as f:
                result = json.load(f)['steps'][0]
        rows.append({'setting': name, 'pairs_per_s': result['pairs_per_s'],
                     'step_median_s': result['step']['median_s'], 'gflops_achieved': result['gflops_achieved']})
    return rows


# ---- measurements in fresh processes (--revision, --isa, --end_to_end) ---------------------------

def interpolation_flag(warp_interpolation):
    return ['--warp_interpolation', warp_interpolation] if warp_interpolation else []


def isa_environment(isa):
    """os.environ with the settings of ``isa`` (see ISAS); XLA_FLAGS keeps the flags already set."""
    env = dict(os.environ)
    for name, value in ISAS[isa].items():
        env[name] = (env.get(name, '') + ' ' + value).strip() if name == 'XLA_FLAGS' else value
    return env


def onednn_isa(isa):
    """What oneDNN reports under the settings of ``isa``: its ISA line and one convolution's
    implementation (ONEDNN_VERBOSE=1, in a fresh process with the same environment as the step's)."""
    env = dict(isa_environment(isa), ONEDNN_VERBOSE='1')
    completed = subprocess.run([sys.executable, PROBE, '--onednn_check'], cwd=ROOT, env=env,
                               capture_output=True, text=True)
    if completed.returncode:
        raise RuntimeError('the oneDNN check failed under --isa %s:\n%s' % (isa, completed.stderr[-3000:]))
    return step_probe.parse_onednn(completed.stdout + completed.stderr)


def run_probe(tree, isa, warp_skip, options, dataset='market', layers='project'):
    """benchmarks/step_probe.py in a fresh process run from ``tree``'s root (so it imports that
    tree's code) under the settings of ``isa``, with the project's or Keras' stock ``layers``; its
    JSON result."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, 'probe.json')
        command = [sys.executable, PROBE, '--warp_skip', warp_skip, '--dataset', dataset,
                   '--batch_size', str(options.batch_size), '--width_factor', str(options.width_factor),
                   '--steps', str(options.steps), '--warmup', str(options.warmup),
                   '--matmul_repeats', str(options.matmul_repeats), '--out', out]
        command += interpolation_flag(options.warp_interpolation)
        command += ['--layers', layers] if layers != 'project' else []
        completed = subprocess.run(command, cwd=tree, env=isa_environment(isa), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        if completed.returncode:
            raise RuntimeError('the step measurement failed in %s:\n%s' % (tree, completed.stderr[-3000:]))
        with open(out) as f:
            return json.load(f)


def git(*arguments):
    return subprocess.run(['git'] + list(arguments), cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


@contextlib.contextmanager
def revision_tree(revision):
    """(label, path) of ``revision`` checked out in a temporary detached worktree, removed on exit
    (an exception, Ctrl-C or SIGTERM included)."""
    commit = git('rev-parse', '--verify', revision + '^{commit}')
    folder = tempfile.mkdtemp(prefix='train-step-revision-')
    path = os.path.join(folder, 'tree')
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        git('worktree', 'add', '--detach', path, commit)
        yield '%s (%s)' % (revision, commit[:9]), path
    finally:
        subprocess.run(['git', 'worktree', 'remove', '--force', path], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(folder, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def step_row(label, isa, layers, warp_skip, runs):
    """One table row from the probe results of one (tree, isa, layers, warp_skip): medians over the runs."""
    step_s = statistics.median(run['step']['median_s'] for run in runs)
    row = {'revision': label, 'isa': isa, 'layers': layers, 'warp_skip': warp_skip,
           'interpolation': runs[0]['warp_interpolation'], 'runs': len(runs),
           'step_s': step_s, 'step_min_s': min(run['step']['min_s'] for run in runs),
           'pairs_per_s': runs[0]['batch_size'] / step_s,
           'GFLOP/s': runs[0]['gflop_per_pair'] * runs[0]['batch_size'] / step_s,
           'step_times_s': [run['step']['median_s'] for run in runs]}
    matmul = [run['matmul_gflops'] for run in runs if 'matmul_gflops' in run]
    if matmul:
        row['matmul_GFLOP/s'] = statistics.median(matmul)
        row['of_matmul'] = row['GFLOP/s'] / row['matmul_GFLOP/s']
    return row


def compare(options):
    """--revision / --isa: every (tree, isa) measured in fresh processes, alternately, per warp_skip."""
    isas = options.isa.split(',')
    layer_sets = options.layers.split(',')
    results = {'machine': common.machine(), 'load_before': common.load_average(),
               'onednn': {isa: onednn_isa(isa) for isa in isas}}
    with contextlib.ExitStack() as stack:
        trees = [(WORKING_TREE, ROOT)]
        if options.revision:
            trees.insert(0, stack.enter_context(revision_tree(options.revision)))
        runs = {}
        for warp_skip in options.warp_skips.split(','):
            for round_index in range(options.rounds):
                order = trees if round_index % 2 == 0 else trees[::-1]   # ABBA: drift hits both alike
                for label, tree in order:
                    for isa in isas:
                        for layers in layer_sets:
                            result = run_probe(tree, isa, warp_skip, options, layers=layers)
                            runs.setdefault((label, isa, layers, warp_skip), []).append(result)
                            print('round %d, %s, %s, %s layers, %s: %.3f s per step (load %s)'
                                  % (round_index + 1, label, isa, layers, warp_skip, result['step']['median_s'],
                                     result['load_after']), flush=True)
    results['load_after'] = common.load_average()
    rows = [step_row(label, isa, layers, warp_skip, runs[label, isa, layers, warp_skip])
            for warp_skip in options.warp_skips.split(',') for label, _ in trees for isa in isas
            for layers in layer_sets]
    same = {(row['revision'], row['isa'], row['layers'], row['warp_skip']): row['step_s'] for row in rows}
    for row in rows:
        row['onednn_convolution'] = results['onednn'][row['isa']]['onednn_convolution']
        row['vs_working_tree'] = row['step_s'] / same[WORKING_TREE, row['isa'], row['layers'], row['warp_skip']]
        row['vs_native'] = row['step_s'] / same[row['revision'], isas[0], row['layers'], row['warp_skip']]
        row['vs_project'] = row['step_s'] / same[row['revision'], row['isa'], layer_sets[0], row['warp_skip']]
    results['rows'] = rows
    print_machine(results)
    for isa, found in results['onednn'].items():
        print('--isa %s: oneDNN ISA "%s", convolution %s%s' % (
            isa, found['onednn_isa'], found['onednn_convolution'],
            ', XLA refused the ISA' if found['xla_isa_refused'] else ''))
    columns = ['revision', 'isa', 'onednn_convolution', 'layers', 'warp_skip', 'interpolation', 'step_s',
               'pairs_per_s', 'GFLOP/s', 'matmul_GFLOP/s', 'of_matmul', 'vs_working_tree']
    columns += ['vs_native'] if len(isas) > 1 else []
    columns += ['vs_project'] if len(layer_sets) > 1 else []
    results['table'] = common.table(
        rows, columns, 'Training step (D update + G update), batch %d, width %s, data in memory; medians of %d '
        'fresh processes each (%d steps after %d warm-up); vs_*: ratio of seconds per step'
        % (options.batch_size, options.width_factor, options.rounds, options.steps, options.warmup))
    return results


def read_epoch_seconds(log_dir):
    """{epoch: seconds} of train.py's training_log.csv (gan/run_log.py)."""
    with open(os.path.join(log_dir, 'training_log.csv'), newline='') as f:
        return {int(row['epoch']): float(row['seconds']) for row in csv.DictReader(f)}


def run_train(options, isa, layers='project'):
    """python train.py on the synthetic dataset, two epochs of --batches_per_epoch steps, in a
    fresh temporary folder (with Keras' stock layers: through step_probe.py --train_py); (seconds per
    step of the second epoch, of the first, wall seconds of the process)."""
    with tempfile.TemporaryDirectory(prefix='train-step-end-to-end-') as folder:
        log_dir = os.path.join(folder, 'logs')
        start = ['train.py'] if layers == 'project' else [PROBE, '--layers', layers, '--train_py']
        command = [sys.executable] + start + ['--dataset', 'synthetic', '--data_root', options.data_root,
                   '--warp_skip', 'mask', '--batch_size', str(options.batch_size),
                   '--width_factor', str(options.width_factor), '--number_of_epochs', '2',
                   '--batches_per_epoch', str(options.batches_per_epoch), '--checkpoint_ratio', '1000',
                   '--display_ratio', '1000', '--use_validation', '0', '--distribute', 'none',
                   '--output_dir', os.path.join(folder, 'output'), '--checkpoints_dir',
                   os.path.join(folder, 'checkpoints'), '--log_dir', log_dir]
        command += interpolation_flag(options.warp_interpolation)
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=ROOT, env=isa_environment(isa), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - started
        if completed.returncode:
            raise RuntimeError('train.py failed:\n%s' % completed.stderr[-3000:])
        seconds = read_epoch_seconds(log_dir)
    return seconds[1] / options.batches_per_epoch, seconds[0] / options.batches_per_epoch, wall


def end_to_end(options):
    """--end_to_end: train.py's steady-state seconds per step (its second epoch, from its log) and
    the in-memory step of the same configuration, alternately, per --isa."""
    subprocess.run([sys.executable, 'data/make_synthetic_dataset.py', '--data_root', options.data_root],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    isas = options.isa.split(',')
    layer_sets = options.layers.split(',')
    results = {'machine': common.machine(), 'load_before': common.load_average(), 'runs': []}
    for round_index in range(options.rounds):
        for isa in isas:
            for layers in layer_sets:
                train_step_s, first_epoch_step_s, wall = run_train(options, isa, layers)
                probe = run_probe(ROOT, isa, 'mask', options, dataset='synthetic', layers=layers)
                results['runs'].append({'isa': isa, 'layers': layers, 'train_py_step_s': train_step_s,
                                        'train_py_first_epoch_step_s': first_epoch_step_s, 'train_py_wall_s': wall,
                                        'in_memory_step_s': probe['step']['median_s'], 'probe': probe})
                print('round %d, %s, %s layers: train.py %.3f s per step, in memory %.3f s (load %s)'
                      % (round_index + 1, isa, layers, train_step_s, probe['step']['median_s'],
                         common.load_average()), flush=True)
    results['load_after'] = common.load_average()
    rows = []
    for isa, layers in [(isa, layers) for isa in isas for layers in layer_sets]:
        runs = [run for run in results['runs'] if run['isa'] == isa and run['layers'] == layers]
        train_s = statistics.median(run['train_py_step_s'] for run in runs)
        memory_s = statistics.median(run['in_memory_step_s'] for run in runs)
        flops = runs[0]['probe']['gflop_per_pair'] * options.batch_size
        matmul = statistics.median(run['probe']['matmul_gflops'] for run in runs)
        rows.append({'isa': isa, 'layers': layers, 'matmul_GFLOP/s': matmul,
                     'in_memory_of_matmul': flops / memory_s / matmul, 'train_py_of_matmul': flops / train_s / matmul,
                     'interpolation': runs[0]['probe']['warp_interpolation'], 'runs': len(runs),
                     'train_py_s_per_step': train_s, 'in_memory_s_per_step': memory_s,
                     'ratio': train_s / memory_s, 'train_py_pairs_per_s': options.batch_size / train_s,
                     'train_py_wall_s': statistics.median(run['train_py_wall_s'] for run in runs)})
    results['rows'] = rows
    print_machine(results)
    results['table'] = common.table(
        rows, ['isa', 'layers', 'interpolation', 'train_py_s_per_step', 'in_memory_s_per_step', 'ratio',
               'matmul_GFLOP/s', 'in_memory_of_matmul', 'train_py_of_matmul', 'train_py_pairs_per_s',
               'train_py_wall_s'],
        'train.py on synthetic (128x64), mask, batch %d, width %s: second epoch of %d steps (from '
        'training_log.csv) vs the in-memory step; medians of %d runs'
        % (options.batch_size, options.width_factor, options.batches_per_epoch, options.rounds))
    return results


def print_machine(results):
    print(common.machine_line(results['machine']))
    print('load average before %s, after %s' % (results['load_before'], results['load_after']))


# ---- the step in this process (default) --------------------------------------------------------

def in_process(options):
    import tensorflow as tf
    if os.environ.get('BENCH_INTRA'):
        tf.config.threading.set_intra_op_parallelism_threads(int(os.environ['BENCH_INTRA']))
    if os.environ.get('BENCH_INTER'):
        tf.config.threading.set_inter_op_parallelism_threads(int(os.environ['BENCH_INTER']))
    if os.environ.get('BENCH_NO_REMAPPING'):
        tf.config.optimizer.set_experimental_options({'remapping': False})

    results = {'machine': common.machine(), 'load_before': common.load_average(), 'steps': []}
    if not options.no_matmul:
        results['matmul_before'] = common.matmul_rate(repeats=options.matmul_repeats)
    for warp_skip in options.warp_skips.split(','):
        measured = step_probe.measure_step(warp_skip, options.steps, options.warmup, options.batch_size,
                                           options.width_factor, warp_interpolation=options.warp_interpolation)
        gan, batches = measured.pop('gan'), measured.pop('batches')
        if options.profile and warp_skip == 'mask':
            repeats = 2 if options.quick else 5
            measured['profile'] = step_profile.profile_generator(gan, batches[2], repeats)
            measured['warp_layers'] = step_profile.profile_warp(gan, batches[2], repeats)
            measured['convolutions'] = step_profile.profile_convolutions(gan, options.batch_size, repeats)
            measured['transposed_layers'] = step_profile.profile_transposed(gan, options.batch_size, repeats)
            measured['op_types'] = step_profile.profile_ops(gan, batches, repeats)
        results['steps'].append(measured)
        del gan, batches
    if not options.no_matmul:
        results['matmul_after'] = common.matmul_rate(repeats=options.matmul_repeats)
        results['matmul_gflops'] = (results['matmul_before']['gflops_median']
                                    + results['matmul_after']['gflops_median']) / 2
    results['load_after'] = common.load_average()

    rows = [{'warp_skip': m['warp_skip'], 'interpolation': m['warp_interpolation'], 'batch': m['batch_size'],
             'width': m['width_factor'], 'step_median_s': m['step']['median_s'], 'step_min_s': m['step']['min_s'],
             'pairs_per_s': m['pairs_per_s'], 'GFLOP_per_pair': m['gflop_per_pair'], 'GFLOP/s': m['gflops_achieved'],
             'of_matmul': m['gflops_achieved'] / results['matmul_gflops'] if 'matmul_gflops' in results else ''}
            for m in results['steps']]
    print_machine(results)
    if 'matmul_gflops' in results:
        print('matmul 2048x2048 float32: %.0f GFLOP/s before, %.0f after the steps'
              % (results['matmul_before']['gflops_median'], results['matmul_after']['gflops_median']))
    results['table'] = common.table(rows, ['warp_skip', 'interpolation', 'batch', 'width', 'step_median_s',
                                           'step_min_s', 'pairs_per_s', 'GFLOP_per_pair', 'GFLOP/s', 'of_matmul'],
                                    'Training step (D update + G update), data in memory')
    for measured in results['steps']:
        f = measured['flops']
        print('%s: per pair G forward %.2f GFLOP (transposed %.2f), D forward %.3f GFLOP, D update %.1f, '
              'G update %.1f, step %.1f GFLOP' % (
                  measured['warp_skip'], f['generator_forward'] / 1e9, f['generator_forward_transposed'] / 1e9,
                  f['discriminator_forward'] / 1e9, f['discriminator_update'] / 1e9,
                  f['generator_update'] / 1e9, f['step'] / 1e9))
        if 'profile' in measured:
            step_profile.print_profile(results, measured)
    if options.variants:
        results['variants'] = run_variants(options.steps, options.warmup, options.warp_interpolation)
        results['variants_table'] = common.table(results['variants'],
                                                 ['setting', 'step_median_s', 'pairs_per_s', 'gflops_achieved'],
                                                 'Market mask step under other settings (fresh processes)')
    return results


def main(argv=None):
    parser = common.parser('train_step', __doc__.split('\n\n')[0])
    common.add_data_root(parser)
    parser.add_argument('--warp_skips', default='mask,none', help='Comma-separated --warp_skip values to time.')
    parser.add_argument('--warp_interpolation', default=None, choices=['nearest', 'bilinear'],
                        help="train.py's --warp_interpolation for every measurement (default: the tree's "
                             "default; a revision without the flag is refused).")
    parser.add_argument('--batch_size', default=4, type=int, help='Pairs per step.')
    parser.add_argument('--width_factor', default=1.0, type=float, help='Network width (1 = the paper).')
    parser.add_argument('--steps', default=None, type=int, help='Timed steps per measurement (default 7, 2 with '
                                                                '--quick; 5 per process with --revision/--isa).')
    parser.add_argument('--warmup', default=None, type=int, help='Untimed steps first (tracing, caches; default 2, '
                                                                 '1 with --quick).')
    parser.add_argument('--profile', action='store_true', help='Also time the parts of the step.')
    parser.add_argument('--variants', action='store_true', help='Also time the mask step under other settings.')
    parser.add_argument('--no_matmul', action='store_true', help='Skip the matmul yardstick (variant runs).')
    parser.add_argument('--revision', default=None,
                        help='Also time the step of this git revision (a temporary worktree), alternately with '
                             'this tree, in fresh processes.')
    parser.add_argument('--isa', default='native',
                        help='Comma-separated instruction sets to time the step under, in fresh processes: '
                             + ', '.join(ISAS) + ' (native: what oneDNN and XLA pick on this CPU).')
    parser.add_argument('--layers', default='project',
                        help='--revision / --isa / --end_to_end: comma-separated layer sets to time: project, '
                             "stock (Keras' own transposed convolution, convolution, crop and Adam).")
    parser.add_argument('--end_to_end', action='store_true',
                        help='Time python train.py on the synthetic dataset (128x64, mask) against its in-memory '
                             'step instead.')
    parser.add_argument('--batches_per_epoch', default=None, type=int,
                        help='--end_to_end: steps per train.py epoch (default 20, 3 with --quick).')
    parser.add_argument('--rounds', default=None, type=int,
                        help='--revision / --isa / --end_to_end: fresh processes per measurement, alternated '
                             '(default 3, 1 with --quick).')
    options = parser.parse_args(argv)
    for isa in options.isa.split(','):
        if isa not in ISAS:
            parser.error('--isa %s: choose from %s' % (isa, ', '.join(ISAS)))
    for layers in options.layers.split(','):
        if layers not in step_probe.LAYER_SETS:
            parser.error('--layers %s: choose from %s' % (layers, ', '.join(step_probe.LAYER_SETS)))
    fresh_processes = options.revision or options.isa != 'native' or options.end_to_end or options.layers != 'project'
    options.steps = options.steps or (2 if options.quick else 5 if fresh_processes else 7)
    options.warmup = options.warmup if options.warmup is not None else (1 if options.quick else 2)
    options.rounds = options.rounds or (1 if options.quick else 3)
    options.batches_per_epoch = options.batches_per_epoch or (3 if options.quick else 20)
    options.matmul_repeats = 3 if options.quick else 7
    if options.no_matmul:
        options.matmul_repeats = 0
    if options.out == parser.get_default('out') and fresh_processes:   # one result file per kind of run
        options.out = options.out.replace('.json', '_end_to_end.json' if options.end_to_end else '_compare.json')
    if options.end_to_end:
        results = end_to_end(options)
    elif fresh_processes:
        results = compare(options)
    else:
        results = in_process(options)
    common.write_json(options.out, results)
    return results


if __name__ == '__main__':
    main()
