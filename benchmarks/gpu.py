"""The training step on a GPU with the JAX backend: step time, pairs/s and the share of the GPU's peak
at the paper's batch (4) and at the largest batch that fits, in float32, TF32 and mixed precision, and
``python train.py`` itself end to end.

    KERAS_BACKEND=jax python benchmarks/gpu.py --out DIR            # the whole run, about 8 minutes
    python benchmarks/gpu.py --width_factor 0.0625 --max_batch 8 --steps 3 --train_batches_per_epoch 3
                                                                    # a smoke run on a CPU

Needs keras, jax, numpy, h5py and the project's own modules (and what they import: scipy,
scikit-image, Pillow, tqdm); no TensorFlow. Every configuration runs in a fresh process
(``--probe``), so that one out of GPU memory, or one stuck compiling, costs only itself:

1. ``--precisions`` (float32, train.py's default: full float32 arithmetic; tf32 = ``--tf32 1``, float32
   convolutions on the tensor cores in TensorFloat-32; mixed_float16 = ``--mixed_precision 1``, float16
   compute with loss scaling; mixed_bfloat16 = Keras' global policy ``mixed_bfloat16``, no loss
   scaling) at batch 4;
2. ``python train.py`` on the built-in synthetic dataset (built on first use under --data_root), batch
   4, float32: its steady-state pairs/s from its training_log.csv (the epochs after the first);
3. the largest batch that fits, per precision (tf32, mixed_bfloat16, mixed_float16, float32): --max_batch
   first, halved while out of memory;
4. the batches between (doubling from 8) while the time lasts.

A configuration is started only while ``--budget`` seconds are left (its time limit is what is left),
so the run ends within the budget; skipped ones are listed. The results go to OUT/gpu.json (every
figure and raw time) and OUT/gpu.md (the tables) after every configuration, so an interrupted run
keeps what it measured.

A step is what gan/trainer.py runs: one discriminator update then one generator update of the JAX
engine (a jit-compiled program each), each update's loss terms read back as floats (which waits for
the device) once the next update has started, as the trainer reads them (``step_s``), and, for
comparison, before it starts (``synced_step_s``: the device idles while the host reads the losses
and starts the next update). The batches are synthetic
(the realistic pose inputs of ``step_probe.memory_batch`` repeated to the batch size), already on the
device: the timed step excludes loading and the host-to-device copy (train.py's row includes both).
The two programs are compiled ahead of time (``jit(...).lower(...).compile()``), which gives the
compile seconds and XLA's own count of the floating-point operations (``cost_analysis``).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cmd  # noqa: E402  (first, see cmd.py)

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRECISIONS = ('float32', 'tf32', 'mixed_float16', 'mixed_bfloat16')
PROBE_MARK = 'GPU_PROBE_RESULT '
# This process only reads the devices: it does not take 75 % of the GPU's memory (JAX's default).
PREALLOCATE_GIVEN = os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE')
ROUNDS = 3   # of --steps steps each, timed as a whole
OUT_OF_MEMORY = ('RESOURCE_EXHAUSTED', 'Out of memory', 'out of memory', 'OOM when allocating')

# Dense (no sparsity) peak rates in TFLOP/s, from NVIDIA's data sheets (H100: "NVIDIA H100 Tensor Core
# GPU" data sheet, SXM5 and PCIe columns, the sparse figures halved; H200: "NVIDIA H200 Tensor Core
# GPU" data sheet, the same compute as the H100 SXM; A100: its data sheet). 'float32': the CUDA
# cores (the project's float32 arithmetic); 'tf32': the tensor cores on float32 data (--tf32 1);
# 'float16' and 'bfloat16': the tensor cores. The device's name
# is matched by substring, the first match wins; an "H100" of no other name is taken as the SXM part
# (the one named "NVIDIA H100 80GB HBM3"). The data-sheet clocks are boost clocks: a card held at a
# lower clock reaches less.
PEAKS_TFLOPS = (
    ('H100 PCIe', {'float32': 51.2, 'tf32': 378.0, 'float16': 756.0, 'bfloat16': 756.0}),
    ('H100 NVL', {'float32': 60.0, 'tf32': 417.5, 'float16': 835.5, 'bfloat16': 835.5}),
    ('H100', {'float32': 66.9, 'tf32': 494.7, 'float16': 989.4, 'bfloat16': 989.4}),
    ('H200', {'float32': 66.9, 'tf32': 494.7, 'float16': 989.4, 'bfloat16': 989.4}),
    ('A100', {'float32': 19.5, 'tf32': 156.0, 'float16': 312.0, 'bfloat16': 312.0}),
)
# The peak each precision's convolutions run at: float32 on the CUDA cores, the others on the tensor cores.
PEAK_KIND = {'float32': 'float32', 'tf32': 'tf32', 'mixed_float16': 'float16', 'mixed_bfloat16': 'bfloat16'}
LARGEST_BATCH_ORDER = ('tf32', 'mixed_bfloat16', 'mixed_float16', 'float32')


def device_peaks(device_kind):
    """(matched name, {kind: TFLOP/s}) of a jax device_kind; (None, {}) for an unknown device."""
    for name, peaks in PEAKS_TFLOPS:
        if name.lower() in device_kind.lower():
            return name, peaks
    return None, {}


def training_flags(options, precision, batch_size):
    """train.py's flags of one configuration: market size (128x64), the paper's `mask` model."""
    return ['--dataset', 'synthetic', '--data_root', options.data_root, '--warp_skip', 'mask',
            '--batch_size', str(batch_size), '--width_factor', str(options.width_factor),
            '--mixed_precision', '1' if precision == 'mixed_float16' else '0', '--tf32', '1' if precision == 'tf32' else '0',
            '--distribute', 'none']


# ---- one configuration, in this process (--probe) --------------------------------------------

def cost_flops(compiled):
    """XLA's count of floating-point operations of a compiled program (None when it gives none)."""
    try:
        analysis = compiled.cost_analysis()
    except Exception:   # not every backend implements it
        return None
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0] if analysis else None
    if not analysis or 'flops' not in analysis:
        return None
    return float(analysis['flops'])


def device_batches(args, batch_size, jax):
    """Three different batches (real, fake, generator) of ``batch_size`` on the device."""
    from benchmarks import step_probe
    pairs = step_probe.memory_batch(dict_args(args, 4))
    batches = []
    for shift in range(3):
        order = (np.arange(batch_size) + shift) % 4
        batches.append({name: jax.device_put(value[order]) for name, value in pairs.items()})
    return batches


def dict_args(args, batch_size):
    copy = argparse.Namespace(**vars(args))
    copy.batch_size = batch_size
    return copy


def probe(options):
    """Builds, compiles and times one configuration; prints its result as one JSON line."""
    import jax
    import keras
    from gan import engines
    from pose_training import make_gan

    if keras.backend.backend() != 'jax':
        raise SystemExit('benchmarks/gpu.py: KERAS_BACKEND=%s: this benchmark runs on jax' % keras.backend.backend())
    precision, batch_size = options.precision, options.batch_size
    args = cmd.parse_args(training_flags(options, precision, batch_size), needed=())
    if precision == 'mixed_bfloat16':
        keras.config.set_dtype_policy('mixed_bfloat16')
    result = {'precision': precision, 'batch_size': batch_size, 'width_factor': options.width_factor}
    started = time.perf_counter()
    engine = engines.make_engine('none', batch_size)
    gan = make_gan(args, engine)
    engine.compile(gan)
    result['build_s'] = time.perf_counter() - started
    result['compute_dtype'] = gan.generator.dtype_policy.compute_dtype
    result['matmul_precision'] = str(jax.config.jax_default_matmul_precision)   # what --tf32 set
    flops = common.training_step_flops(gan.generator, gan.discriminator)
    result['counted_gflop_per_pair'] = flops['step'] / 1e9
    real, fake, batch = device_batches(args, batch_size, jax)

    started = time.perf_counter()
    d_compiled = engine._d_step.lower(engine.state, engine.frozen, real, fake).compile()
    g_compiled = engine._g_step.lower(engine.state, engine.frozen, batch).compile()
    result['compile_s'] = time.perf_counter() - started
    xla = [cost_flops(d_compiled), cost_flops(g_compiled)]
    result['xla_gflop_per_pair'] = None if None in xla else sum(xla) / batch_size / 1e9
    engine._d_step, engine._g_step = d_compiled, g_compiled

    def synced_step():
        """One step, each update's losses read before the next update starts."""
        values = engine.discriminator_step(real, fake)
        values.update(engine.generator_step(batch))
        return values

    def trainer_steps(count):
        """``count`` steps as gan/trainer.py runs them: each update's losses read once the next update
        has started; the losses of the last step."""
        unread, last = [], {}
        for _ in range(count):
            for update in (lambda: engine.start_discriminator_step(real, fake),
                           lambda: engine.start_generator_step(batch)):
                unread.append(update())
                if len(unread) > 1:
                    last.update(engine.read_losses(unread.pop(0)))
        last.update(engine.read_losses(unread.pop(0)))
        jax.block_until_ready(engine.state)
        return last

    synced = []
    for index in range(options.warmup + options.steps):
        started = time.perf_counter()
        synced_step()
        if index >= options.warmup:
            synced.append(time.perf_counter() - started)
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        values = trainer_steps(options.steps)
        rounds.append((time.perf_counter() - started) / options.steps)
    result['losses'] = values
    result['finite'] = bool(all(np.isfinite(value) for value in values.values()))
    result['step'] = common.summary(rounds)
    result['step_s'] = statistics.median(rounds)
    result['synced_step'] = common.summary(synced)
    result['synced_step_s'] = statistics.median(synced)
    result['pairs_per_s'] = batch_size / result['step_s']
    stats = jax.devices()[0].memory_stats() or {}
    if 'peak_bytes_in_use' in stats:
        result['peak_memory_gib'] = stats['peak_bytes_in_use'] / 2 ** 30
    print(PROBE_MARK + json.dumps(result, default=float), flush=True)


# ---- the whole run ---------------------------------------------------------------------------

def environment():
    """The devices and versions, read in this process (without taking the GPU's memory)."""
    os.environ['XLA_PYTHON_CLIENT_PREALLOCATE'] = 'false'
    import jax
    import keras
    devices = jax.devices()
    kind = devices[0].device_kind
    name, peaks = device_peaks(kind)
    return {'devices': [str(d) for d in devices], 'platform': devices[0].platform, 'device_kind': kind,
            'peak_table_entry': name, 'peak_tflops': peaks, 'jax': jax.__version__, 'keras': keras.__version__,
            'keras_backend': keras.backend.backend(), 'numpy': np.__version__, 'python': platform.python_version(),
            'jax_default_matmul_precision': str(jax.config.jax_default_matmul_precision),
            'cpu': common.cpu_model(), 'cores_usable': len(os.sched_getaffinity(0)),
            'time': time.strftime('%Y-%m-%d %H:%M:%S')}


class Run:
    """The budget, the results so far and their files."""

    def __init__(self, options):
        self.options = options
        self.deadline = time.perf_counter() + options.budget
        self.results = {'options': vars(options), 'probes': [], 'skipped': [], 'train_py': None}
        os.makedirs(options.out, exist_ok=True)
        # Every fresh process's compiled programs in one new cache: train.py finds the batch-4 float32
        # step's there; no probe finds its own (each compiles a different program).
        self.cache = tempfile.mkdtemp(prefix='gpu-jax-cache-')

    def environment(self):
        """The environment of the fresh processes: the JAX backend, the run's compilation cache, and
        the memory settings of this process's caller (not this process's own)."""
        env = dict(os.environ, KERAS_BACKEND='jax', JAX_COMPILATION_CACHE_DIR=self.cache)
        if PREALLOCATE_GIVEN is None:
            env.pop('XLA_PYTHON_CLIENT_PREALLOCATE', None)
        else:
            env['XLA_PYTHON_CLIENT_PREALLOCATE'] = PREALLOCATE_GIVEN
        return env

    def left(self):
        return self.deadline - time.perf_counter()

    def probe(self, precision, batch_size):
        """One configuration in a fresh process: its result dict, with 'status' ok, out_of_memory,
        timeout, error or skipped (no time left)."""
        limit = min(self.options.probe_timeout, self.left())
        if limit < self.options.min_probe_s:
            self.results['skipped'].append({'precision': precision, 'batch_size': batch_size})
            return {'status': 'skipped'}
        command = [sys.executable, os.path.abspath(__file__), '--probe', '--precision', precision,
                   '--batch_size', str(batch_size), '--width_factor', str(self.options.width_factor),
                   '--steps', str(self.options.steps), '--warmup', str(self.options.warmup),
                   '--data_root', self.options.data_root]
        env = self.environment()
        env.setdefault('XLA_PYTHON_CLIENT_MEM_FRACTION', '0.9')
        started = time.perf_counter()
        try:
            completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            result = {'status': 'timeout', 'limit_s': round(limit)}
        else:
            lines = [line for line in completed.stdout.splitlines() if line.startswith(PROBE_MARK)]
            if completed.returncode == 0 and lines:
                result = dict(json.loads(lines[-1][len(PROBE_MARK):]), status='ok')
            elif any(mark in completed.stderr for mark in OUT_OF_MEMORY):
                result = {'status': 'out_of_memory'}
            else:
                result = {'status': 'error', 'stderr_tail': completed.stderr[-2000:]}
                print(completed.stderr[-2000:], file=sys.stderr, flush=True)
        result.update(precision=precision, batch_size=batch_size, wall_s=time.perf_counter() - started)
        self.add_peak_fractions(result)
        self.results['probes'].append(result)
        print('%s batch %d: %s' % (precision, batch_size, ', '.join(
            '%s %s' % (key, common.format_value(result[key])) for key in
            ('status', 'step_s', 'pairs_per_s', 'of_peak', 'compile_s', 'wall_s') if key in result)), flush=True)
        self.write()
        return result

    def add_peak_fractions(self, result):
        peak = self.results['environment']['peak_tflops'].get(PEAK_KIND[result['precision']])
        if result.get('status') != 'ok':
            return
        result['peak_tflops'] = peak
        result['counted_tflops'] = result['counted_gflop_per_pair'] * result['pairs_per_s'] / 1e3
        if result.get('xla_gflop_per_pair'):
            result['xla_tflops'] = result['xla_gflop_per_pair'] * result['pairs_per_s'] / 1e3
        if peak:
            result['of_peak'] = result['counted_tflops'] / peak
            if 'xla_tflops' in result:
                result['xla_of_peak'] = result['xla_tflops'] / peak

    def train_py(self):
        """train.py end to end on the synthetic dataset, batch 4, float32."""
        options = self.options
        limit = min(options.train_timeout, self.left())
        if limit < options.min_probe_s:
            self.results['train_py'] = {'status': 'skipped'}
            return
        folder = tempfile.mkdtemp(prefix='gpu-train-py-')
        log_dir = os.path.join(folder, 'logs')
        command = [sys.executable, 'train.py'] + training_flags(options, 'float32', 4) + [
            '--number_of_epochs', str(options.train_epochs), '--batches_per_epoch', str(options.train_batches_per_epoch),
            '--checkpoint_ratio', '1000', '--display_ratio', '1000', '--use_validation', '0',
            '--output_dir', os.path.join(folder, 'output'), '--checkpoints_dir', os.path.join(folder, 'checkpoints'),
            '--log_dir', log_dir]
        env = self.environment()
        started = time.perf_counter()
        try:
            completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit)
            status = 'ok' if completed.returncode == 0 else 'error'
            tail = completed.stderr[-2000:]
        except subprocess.TimeoutExpired as error:
            status, tail = 'timeout', (error.stderr or b'')[-2000:]
            tail = tail.decode(errors='replace') if isinstance(tail, bytes) else tail
        result = {'status': status, 'wall_s': time.perf_counter() - started, 'command': ' '.join(command),
                  'batch_size': 4, 'batches_per_epoch': options.train_batches_per_epoch}
        path = os.path.join(log_dir, 'training_log.csv')
        if os.path.exists(path):   # whatever epochs finished, also after a timeout
            with open(path, newline='') as f:
                seconds = {int(row['epoch']): float(row['seconds']) for row in csv.DictReader(f)}
            result['epoch_seconds'] = seconds
            steady = [seconds[epoch] for epoch in sorted(seconds) if epoch > 0]
            if steady:
                result['step_s'] = statistics.median(steady) / options.train_batches_per_epoch
                result['pairs_per_s'] = 4 / result['step_s']
            if 0 in seconds:
                result['first_epoch_step_s'] = seconds[0] / options.train_batches_per_epoch
        if status != 'ok':
            result['stderr_tail'] = tail
            print(tail, file=sys.stderr, flush=True)
        self.results['train_py'] = result
        print('train.py: %s' % ', '.join('%s %s' % (key, common.format_value(result[key])) for key in
                                         ('status', 'step_s', 'pairs_per_s', 'first_epoch_step_s', 'wall_s')
                                         if key in result), flush=True)
        self.write()

    def write(self):
        self.results['left_s'] = self.left()
        common.write_json(os.path.join(self.options.out, 'gpu.json'), self.results)
        with open(os.path.join(self.options.out, 'gpu.md'), 'w') as f:
            f.write(markdown(self.results) + '\n')


def environment_line(env):
    peaks = env['peak_tflops']
    return ('%s (%s; peak table entry %s: dense TFLOP/s %s), JAX %s, Keras %s, Python %s, %s, %d CPU cores'
            % (', '.join(env['devices']), env['device_kind'], env['peak_table_entry'],
               ', '.join('%s %s' % kv for kv in peaks.items()) or 'unknown', env['jax'], env['keras'],
               env['python'], env['cpu'], env['cores_usable']))


def markdown(results, echo=False):
    """The tables of the results so far (Markdown)."""
    print_table = common.table if echo else quiet_table
    env = results['environment']
    parts = ['Device: ' + environment_line(env)]
    ok = [p for p in results['probes'] if p.get('status') == 'ok']
    rows = [dict(p, step_s=p['step_s'], peak_memory_gib=p.get('peak_memory_gib', '')) for p in ok]
    parts.append(print_table(
        sorted(rows, key=lambda r: (PRECISIONS.index(r['precision']), r['batch_size'])),
        ['precision', 'batch_size', 'step_s', 'pairs_per_s', 'synced_step_s', 'counted_tflops', 'of_peak',
         'xla_gflop_per_pair', 'xla_of_peak', 'peak_memory_gib', 'compile_s', 'finite'],
        'Market-size mask step (D update + G update), width %s, JAX: step_s, as the trainer runs it (median '
        'of %d rounds of %d steps); synced_step_s, each update read before the next starts (median of %d '
        'steps after %d)' % (results['options']['width_factor'], ROUNDS, results['options']['steps'],
                             results['options']['steps'], results['options']['warmup'])))
    largest = []
    for precision in PRECISIONS:
        fits = [p for p in ok if p['precision'] == precision]
        if fits:
            best = max(fits, key=lambda p: p['batch_size'])
            oom = [p['batch_size'] for p in results['probes'] if p['precision'] == precision
                   and p.get('status') == 'out_of_memory']
            largest.append({'precision': precision, 'largest_batch_run': best['batch_size'],
                            'smallest_out_of_memory': min(oom) if oom else '',
                            'pairs_per_s': best['pairs_per_s'], 'of_peak': best.get('of_peak', '')})
    if largest:
        parts.append(print_table(largest, ['precision', 'largest_batch_run', 'smallest_out_of_memory',
                                           'pairs_per_s', 'of_peak'], 'Largest batch run per precision'))
    other = [p for p in results['probes'] if p.get('status') != 'ok']
    if other or results['skipped']:
        parts.append(print_table(
            [{'precision': p['precision'], 'batch_size': p['batch_size'], 'status': p['status']} for p in other]
            + [dict(s, status='skipped (budget)') for s in results['skipped']],
            ['precision', 'batch_size', 'status'], 'Not measured'))
    train = results.get('train_py')
    if train:
        parts.append(print_table([train], ['status', 'batch_size', 'batches_per_epoch', 'step_s', 'pairs_per_s',
                                           'first_epoch_step_s', 'wall_s'],
                                 'train.py end to end (synthetic 128x64, float32; epochs after the first)'))
    return '\n\n'.join(parts)


def quiet_table(rows, columns, title=None):
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        return common.table(rows, columns, title)


def doubling(options):
    sizes, size = [], 4
    while size <= options.max_batch:
        sizes.append(size)
        size *= 2
    return sizes


def main(options):
    run = Run(options)
    env = environment()
    run.results['environment'] = env
    print(environment_line(env), flush=True)
    precisions = options.precisions.split(',')
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown:
        raise SystemExit('benchmarks/gpu.py: --precisions: unknown %s (known: %s)' % (', '.join(unknown), ', '.join(PRECISIONS)))
    sizes = doubling(options)
    if not sizes:
        raise SystemExit('benchmarks/gpu.py: --max_batch must be at least 4, got %d' % options.max_batch)
    status = {}   # (precision, batch) -> status
    for precision in precisions:
        status[precision, 4] = run.probe(precision, 4)['status']
    if options.train_epochs:
        run.train_py()
    # The largest power-of-two batch that fits: the cap first, then halving; the tensor-core precisions
    # first, whose share of the peak is the goal at the largest batch.
    for precision in sorted(precisions, key=LARGEST_BATCH_ORDER.index):
        if status[precision, 4] != 'ok':
            continue
        for size in reversed(sizes[1:]):
            status[precision, size] = run.probe(precision, size)['status']
            if status[precision, size] != 'out_of_memory':
                break
    # The sizes between, while the time lasts.
    for size in sizes[1:]:
        for precision in precisions:
            fitted = [s for (p, s), state in status.items() if p == precision and state == 'ok']
            if (precision, size) in status or not fitted or size > max(fitted):
                continue
            status[precision, size] = run.probe(precision, size)['status']
    run.write()
    print('\n' + markdown(run.results, echo=False) + '\n', flush=True)
    print('results in %s (gpu.json, gpu.md); %.0f s of the %d s budget left' % (options.out, run.left(), options.budget))


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--out', default=os.environ.get('OUT') or os.path.join(common.RESULTS_DIR, 'gpu'),
                        help='Folder of gpu.json and gpu.md (default: $OUT when set).')
    parser.add_argument('--budget', type=float, default=450,
                        help='Seconds for everything: no configuration is started once they are spent.')
    parser.add_argument('--max_batch', type=int, default=256, help='Largest batch tried (doubling from 4).')
    parser.add_argument('--precisions', default=','.join(PRECISIONS), help='Comma-separated: %s.' % ', '.join(PRECISIONS))
    parser.add_argument('--width_factor', type=float, default=1.0, help="train.py's --width_factor (1 = the paper's).")
    parser.add_argument('--steps', type=int, default=20, help='Timed steps per configuration (their median).')
    parser.add_argument('--warmup', type=int, default=3, help='Untimed steps first.')
    parser.add_argument('--probe_timeout', type=float, default=150, help='Seconds one configuration may take.')
    parser.add_argument('--min_probe_s', type=float, default=30,
                        help='No configuration is started with fewer seconds left than this.')
    parser.add_argument('--train_epochs', type=int, default=3, help='train.py epochs (0: no train.py run).')
    parser.add_argument('--train_batches_per_epoch', type=int, default=100, help='train.py steps per epoch.')
    parser.add_argument('--train_timeout', type=float, default=180, help='Seconds train.py may take.')
    common.add_data_root(parser)
    parser.add_argument('--probe', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--precision', default='float32', choices=PRECISIONS, help=argparse.SUPPRESS)
    parser.add_argument('--batch_size', type=int, default=4, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == '__main__':
    os.environ.setdefault('KERAS_BACKEND', 'jax')   # before keras is first imported
    arguments = parse()
    if arguments.probe:
        probe(arguments)
    else:
        main(arguments)
