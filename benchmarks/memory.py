"""Memory and disk: peak resident memory of a real market-size ``mask`` training run
(train.py, batch 4, full width, real loading from the built-in 128x64 synthetic dataset), sampled every
0.2 s from /proc and checked against the kernel's own peak (ru_maxrss); and the bytes of pose-map
cache per image, this project's against the reference's.

    python benchmarks/memory.py [--quick]
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from benchmarks import common  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSE_CHANNELS = 18
FLOAT32 = 4
# The reference's published cache sizes (its README) and image counts.
REFERENCE = {'128x64': {'dataset': 'market', 'images': 12936 + 19732, 'published_cache': '18 GB'},
             '256x256': {'dataset': 'fasion', 'images': None, 'published_cache': '160 GB'}}


def rss_bytes(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def training_run(data_root, work, steps, width_factor):
    """Runs train.py for one epoch of ``steps`` steps; returns peak RSS (sampled and ru_maxrss) and
    whether anything was written to the pose-map cache folder (--tmp_dir)."""
    tmp_dir = os.path.join(work, 'pose-cache')
    command = [sys.executable, os.path.join(REPOSITORY, 'train.py'), '--dataset', 'synthetic',
               '--data_root', data_root, '--tmp_dir', tmp_dir, '--warp_skip', 'mask', '--batch_size', '4',
               '--width_factor', str(width_factor), '--batches_per_epoch', str(steps), '--number_of_epochs', '1',
               '--use_validation', '0', '--output_dir', os.path.join(work, 'samples'),
               '--checkpoints_dir', os.path.join(work, 'checkpoints'), '--log_dir', os.path.join(work, 'logs')]
    started = time.time()
    process = subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples = []
    while process.poll() is None:
        value = rss_bytes(process.pid)
        if value:
            samples.append((round(time.time() - started, 1), value))
        time.sleep(0.2)
    output = process.stdout.read()
    if process.returncode != 0:
        raise RuntimeError('train.py failed (%d):\n%s' % (process.returncode, output[-3000:]))
    peak_kernel = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    cache_files = sum(len(files) for _, _, files in os.walk(tmp_dir)) if os.path.isdir(tmp_dir) else 0
    return {'steps': steps, 'width_factor': width_factor, 'seconds': time.time() - started,
            'peak_rss_sampled_bytes': max(v for _, v in samples) if samples else None,
            'peak_rss_kernel_bytes': peak_kernel, 'rss_samples': samples[::5],
            'pose_cache_files_written': cache_files}


def cache_rows(measured_files):
    rows = []
    for size, (height, width) in (('128x64', (128, 64)), ('256x256', (256, 256))):
        per_image = height * width * POSE_CHANNELS * FLOAT32
        reference = REFERENCE[size]
        rows.append({'image_size': size, 'reference_cache_bytes_per_image': per_image,
                     'reference_published_total': '%s (%s)' % (reference['published_cache'], reference['dataset']),
                     'project_cache_bytes_per_image': 0,
                     'project_keypoints_in_memory_bytes_per_image': POSE_CHANNELS * 2 * 4})
    for row in rows:
        row['project_cache_files_written_in_run'] = measured_files if row['image_size'] == '128x64' else ''
    return rows


def main(argv=None):
    parser = common.parser('memory', __doc__.split('\n\n')[0])
    common.add_data_root(parser)
    parser.add_argument('--steps', default=None, type=int, help='Training steps (default 12, 4 with --quick).')
    parser.add_argument('--width_factor', default=1.0, type=float, help='Network width (1 = the paper).')
    args = parser.parse_args(argv)
    from data.make_synthetic_dataset import ensure_synthetic_dataset
    ensure_synthetic_dataset(args.data_root, 'synthetic')
    results = {'machine': common.machine(), 'load_before': common.load_average()}
    with tempfile.TemporaryDirectory() as work:
        run = training_run(args.data_root, work, args.steps or (4 if args.quick else 12), args.width_factor)
    results['run'] = run
    results['load_after'] = common.load_average()
    print(common.machine_line(results['machine']))
    gb = 2 ** 30
    results['run_table'] = common.table(
        [{'run': 'train.py market-size mask, batch 4, width %s, %d steps' % (run['width_factor'], run['steps']),
          'peak_rss_GiB (sampled)': run['peak_rss_sampled_bytes'] / gb,
          'peak_rss_GiB (ru_maxrss)': run['peak_rss_kernel_bytes'] / gb,
          'seconds': run['seconds']}],
        ['run', 'peak_rss_GiB (sampled)', 'peak_rss_GiB (ru_maxrss)', 'seconds'],
        'Peak resident memory of a training run')
    results['cache'] = cache_rows(run['pose_cache_files_written'])
    results['cache_table'] = common.table(
        results['cache'], ['image_size', 'reference_cache_bytes_per_image', 'reference_published_total',
                           'project_cache_bytes_per_image', 'project_keypoints_in_memory_bytes_per_image',
                           'project_cache_files_written_in_run'],
        'Pose-map cache per image')
    common.write_json(args.out, results)
    return results


if __name__ == '__main__':
    main()
