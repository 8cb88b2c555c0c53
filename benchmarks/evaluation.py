"""Evaluation speed: seconds per 1000 test pairs of test.py (generation at full
width plus every score: IS, masked IS, FID, SSIM, masked SSIM, L1, masked L1) on this machine.

test.py runs as a subprocess on N test pairs of the built-in 128x64 synthetic dataset with a randomly
initialised full-width ``mask`` generator checkpoint and a randomly initialised Keras InceptionV3
weights file (no ImageNet weights are shipped; the work, hence the time, is the same).

    python benchmarks/evaluation.py [--quick]

``--fid`` times only FID's one costly term, Tr sqrt(C_1 C_2) at the 2048 Inception pool features, each
way the project computes it (gan/fid.py: the eigenvalues of C_1 C_2; with fewer feature vectors than
features, the singular values of A B^T of the centred vectors) and as the standard implementation does
(the trace of scipy.linalg.sqrtm), from 12 feature vectors (as in the tests), 1000 (README's test.py
run) and 3000, and prints how far each is from sqrtm's value.
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from benchmarks import common  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def subset_dataset(data_root, work, pairs):
    """A data root whose test pairs are the first ``pairs`` of the synthetic dataset's (links for the rest)."""
    root = os.path.join(work, 'data')
    os.makedirs(root)
    for name in ('synthetic-dataset', 'synthetic-annotation-train.csv', 'synthetic-annotation-test.csv',
                 'synthetic-pairs-train.csv'):
        os.symlink(os.path.abspath(os.path.join(data_root, name)), os.path.join(root, name))
    with open(os.path.join(data_root, 'synthetic-pairs-test.csv')) as f:
        lines = f.readlines()[:pairs + 1]
    with open(os.path.join(root, 'synthetic-pairs-test.csv'), 'w') as f:
        f.writelines(lines)
    return root, len(lines) - 1


def random_weights(work, width_factor):
    """Files test.py loads: a random full-width mask generator and a random InceptionV3."""
    import keras
    import conv_layers
    import weight_files
    generator = conv_layers.make_generator((128, 64), True, 'mask', 'call', 'max', False, 'hm', width_factor)
    generator_path = os.path.join(work, 'generator.weights.h5')
    weight_files.save_weights(generator, generator_path)
    inception_path = os.path.join(work, 'inception_v3.weights.h5')
    keras.applications.InceptionV3(include_top=True, weights=None).save_weights(inception_path)
    return generator_path, inception_path


def run_test_py(data_root, work, pairs, generator_path, inception_path, width_factor):
    """test.py on the first ``pairs`` test pairs: (pairs, its own 'seconds' (generation + scores), wall)."""
    run = os.path.join(work, 'run%d' % pairs)
    os.makedirs(run)
    root, pairs = subset_dataset(data_root, run, pairs)
    out = os.path.join(run, 'generated')
    command = [sys.executable, os.path.join(REPOSITORY, 'test.py'), '--dataset', 'synthetic', '--data_root', root,
               '--warp_skip', 'mask', '--width_factor', str(width_factor),
               '--generator_checkpoint', generator_path, '--inception_weights', inception_path,
               '--generated_images_dir', out, '--batch_size', '4']
    started = time.time()
    completed = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True)
    wall = time.time() - started
    if completed.returncode != 0:
        raise RuntimeError('test.py failed:\n%s' % (completed.stdout[-2000:] + completed.stderr[-3000:]))
    with open(os.path.join(out, 'scores.json')) as f:
        report = json.load(f)
    shutil.rmtree(run)
    return {'pairs': pairs, 'seconds': report['seconds'], 'wall_seconds': wall,
            'scores': sorted(k for k in report['scores'] if not k.endswith('splits')), 'skipped': report.get('skipped')}


def fid_trace_timings(dimension=2048, repeats=3):
    """Seconds of Tr sqrt(C_1 C_2) each way, and each way's relative difference from sqrtm, for three
    sample counts (the singular values only where there are fewer vectors than features)."""
    import numpy as np
    from scipy import linalg
    from gan.fid import trace_of_sqrt_product, trace_of_sqrt_product_of_samples
    rng = np.random.default_rng(0)
    rows = []
    for count in (12, 1000, 3000):
        first = rng.normal(size=(count, dimension)) * rng.uniform(0, 2, dimension)
        second = rng.normal(size=(count, dimension)) + 0.3 * first
        sigma1, sigma2 = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
        centred1, centred2 = first - first.mean(0), second - second.mean(0)
        ways = {'sqrtm': lambda: np.trace(np.real(linalg.sqrtm(sigma1.dot(sigma2)))),
                'eigenvalues': lambda: trace_of_sqrt_product(sigma1, sigma2)}
        if count < dimension:
            ways['singular values'] = lambda: trace_of_sqrt_product_of_samples(centred1, centred2)
        values = {}
        times = {name: min(common.time_calls(lambda: values.__setitem__(name, way()), repeats, warmup=0))
                 for name, way in ways.items()}
        row = {'feature vectors': count, 'dimension': dimension}
        for name in ways:
            row[name + ' s'] = times[name]
        for name in ways:
            if name != 'sqrtm':
                row[name + ' vs sqrtm'] = abs(values[name] - values['sqrtm']) / abs(values['sqrtm'])
        rows.append(row)
    return rows


def main(argv=None):
    parser = common.parser('evaluation', __doc__.split('\n\n')[0])
    common.add_data_root(parser)
    parser.add_argument('--pairs', default=None,
                        help='Two comma-separated test-pair counts; the time per pair is the slope between '
                             'them, so fixed costs (tracing, model building) are not spread over too few '
                             'pairs (default 100,300; 20,60 with --quick).')
    parser.add_argument('--width_factor', default=1.0, type=float, help='Generator width (1 = the paper).')
    parser.add_argument('--fid', action='store_true', help="Time only FID's Tr sqrt(C_1 C_2), each way.")
    args = parser.parse_args(argv)
    if args.fid:
        results = {'machine': common.machine(), 'fid_trace': fid_trace_timings()}
        print(common.machine_line(results['machine']))
        columns = ['feature vectors', 'dimension', 'sqrtm s', 'eigenvalues s', 'singular values s',
                   'eigenvalues vs sqrtm', 'singular values vs sqrtm']
        results['table'] = common.table(results['fid_trace'], columns,
                                        "FID's Tr sqrt(C_1 C_2), best of 3")
        common.write_json(args.out, results)
        return results
    counts = [int(v) for v in (args.pairs or ('20,60' if args.quick else '100,300')).split(',')]
    from data.make_synthetic_dataset import ensure_synthetic_dataset
    ensure_synthetic_dataset(args.data_root, 'synthetic')
    results = {'machine': common.machine(), 'load_before': common.load_average(), 'runs': []}
    with tempfile.TemporaryDirectory() as work:
        generator_path, inception_path = random_weights(work, args.width_factor)
        for count in counts:
            results['runs'].append(run_test_py(args.data_root, work, count, generator_path, inception_path,
                                               args.width_factor))
    results['load_after'] = common.load_average()
    first, last = results['runs'][0], results['runs'][-1]
    slope = (last['seconds'] - first['seconds']) / (last['pairs'] - first['pairs'])
    fixed = first['seconds'] - slope * first['pairs']
    results.update(seconds_per_pair=slope, fixed_seconds=fixed, seconds_per_1000_pairs=fixed + 1000 * slope)
    print(common.machine_line(results['machine']))
    rows = [{'pairs': run['pairs'], 'width': args.width_factor, 'test.py seconds (generation + scores)': run['seconds'],
             'process wall seconds': run['wall_seconds']} for run in results['runs']]
    rows.append({'pairs': 1000, 'width': args.width_factor,
                 'test.py seconds (generation + scores)': results['seconds_per_1000_pairs'],
                 'process wall seconds': '(%.2f s per pair + %.0f s fixed)' % (slope, fixed)})
    results['table'] = common.table(
        rows, ['pairs', 'width', 'test.py seconds (generation + scores)', 'process wall seconds'],
        'test.py on this CPU, scores: %s' % ', '.join(first['scores']))
    common.write_json(args.out, results)
    return results


if __name__ == '__main__':
    main()
