"""Data-pipeline speed: training pairs per second PER CPU CORE for market ``mask`` (two images
decoded, two ``hm`` pose maps, 10 part transforms, 10 part masks), at 128x64 and 256x256, two ways
measured in the same run:

  reference-style   one pair at a time, the straightforward way: skimage.io.imread, a full-grid exp per
                    keypoint, skimage.transform.estimate_transform('affine') per part,
                    skimage.measure.grid_points_in_poly per limb (the reference's arithmetic);
  project tf.data   pose_dataset.PoseHMDataset's pipeline (files read per pair; pose maps, part
                    transforms and masks made per batch);

and the project's part transforms and masks alone, called per pair and per batch.

``--numpy``: the numpy pipeline alone (``PairDataset.train_batches``: input_pipeline/pose_batches.py in
worker processes), market size 128x64 ``mask``: pairs per CPU second of one core (the batch function in this
process, one thread), the wall rate with one worker per usable core, the consumer's CPU time per pair (receiving
the batches), and the cores a GPU consuming ``--gpu_rate`` pairs/s needs.

Everything runs on ONE thread (numpy/BLAS and TensorFlow intra/inter-op pools and the tf.data pool
set to 1), so the rates are per core. ``--step`` also compares the training step fed by the real
pipeline with the step on batches already in memory (a separate process with the normal threads).

    python benchmarks/data_pipeline.py [--quick] [--step]
    python benchmarks/data_pipeline.py --numpy [--gpu_rate 200]
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

if '--step_only' not in sys.argv:   # one core: before numpy and TensorFlow start their pools
    for _name in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[_name] = '1'

import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402

SIZES = {'synthetic': (128, 64), 'synthetic256': (256, 256)}


# ---- the straightforward per-pair implementation (reference style) -----------------------------

def reference_cords_to_map(cords, img_size, sigma=6):
    """The reference's pose_utils.cords_to_map: a full-grid exp per present keypoint."""
    result = np.zeros(tuple(img_size) + (len(cords),), dtype='float32')
    for i, point in enumerate(cords):
        if point[0] == -1 or point[1] == -1:
            continue
        xx, yy = np.meshgrid(np.arange(img_size[1]), np.arange(img_size[0]))
        result[..., i] = np.exp(-((yy - point[0]) ** 2 + (xx - point[1]) ** 2) / (2 * sigma ** 2))
    return result


def reference_warp_inputs(kp_source, kp_target, img_size):
    """(10, 8) transforms and (10, H, W) masks, one skimage fit / polygon fill per part
    (docs/reference.md, "Part transforms and masks")."""
    import skimage.measure
    import skimage.transform
    import pose_transform as pt
    src, tgt = np.asarray(kp_source)[:, ::-1].astype(float), np.asarray(kp_target)[:, ::-1].astype(float)
    src_ok, tgt_ok = (np.asarray(kp_source) != -1).all(1), (np.asarray(kp_target) != -1).all(1)
    st_src, st_tgt = pt.torso_size(src), pt.torso_size(tgt)
    no_point = pt.NO_POINT_TRANSFORM
    transforms, masks = [], np.zeros((pt.NUMBER_OF_PARTS,) + tuple(img_size), dtype=np.float32)

    def fit(from_points, to_points):
        estimated = skimage.transform.estimate_transform('affine', from_points, to_points)
        if not estimated:   # skimage >= 0.26 returns a false "FailedEstimation" instead of raising
            return no_point
        matrix = estimated.params
        return matrix if np.isfinite(matrix).all() and abs(np.linalg.det(matrix[:2, :2])) > 1e-10 else no_point

    transforms.append(fit(tgt[pt.TORSO], src[pt.TORSO]))
    masks[0] = 1
    head = [i for i in pt.HEAD if src_ok[i] and tgt_ok[i]] + pt.SHOULDERS
    transforms.append(fit(tgt[head], src[head]) if len(head) > 2 else no_point)
    present_head = [i for i in pt.HEAD if tgt_ok[i]]
    if present_head:
        centre, border = np.mean(tgt[present_head], axis=0).astype(int), int(0.4 * st_tgt)
        x0, y0 = np.clip(centre - border, 0, [img_size[1], img_size[0]])
        x1, y1 = np.clip(centre + border, 0, [img_size[1], img_size[0]])
        masks[1, y0:y1, x0:x1] = 1
    for part, (fr, to, inc_fit, inc_mask) in enumerate(pt.LIMBS, start=2):
        fr, to = pt.KP[fr], pt.KP[to]
        if not (tgt_ok[fr] and tgt_ok[to]):
            transforms.append(no_point)
            continue
        mfr, mto = (fr, to) if src_ok[fr] and src_ok[to] else (pt.MIRROR_FROM[part - 2], pt.MIRROR_TO[part - 2])
        if src_ok[mfr] and src_ok[mto]:
            transforms.append(fit(pt.limb_polygon(tgt[fr], tgt[to], st_tgt, inc_fit),
                                  pt.limb_polygon(src[mfr], src[mto], st_src, inc_fit)))
        else:
            transforms.append(no_point)
        polygon = pt.limb_polygon(tgt[fr], tgt[to], st_tgt, inc_mask)
        masks[part] = skimage.measure.grid_points_in_poly(img_size, polygon[:, ::-1])
    return np.stack(transforms).reshape(-1, 9)[:, :8].astype(np.float32), masks


def reference_pair(source_path, target_path, kp_source, kp_target, img_size):
    import skimage.io
    inputs = {'source_image': (skimage.io.imread(source_path) / 255.0 - 0.5) * 2,
              'target_image': (skimage.io.imread(target_path) / 255.0 - 0.5) * 2,
              'source_pose': reference_cords_to_map(kp_source, img_size),
              'target_pose': reference_cords_to_map(kp_target, img_size)}
    inputs['transforms'], inputs['masks'] = reference_warp_inputs(kp_source, kp_target, img_size)
    return inputs


# ---- measurements ------------------------------------------------------------------------------

def make_dataset(data_root, name, batch_size):
    from pose_dataset import PoseHMDataset
    prefix = os.path.join(data_root, name)
    return PoseHMDataset(SIZES[name], batch_size,
                         images_dirs=[prefix + '-dataset/train', prefix + '-dataset/test'],
                         annotations_files=[prefix + '-annotation-train.csv', prefix + '-annotation-test.csv'],
                         pairs_files={'train': prefix + '-pairs-train.csv', 'test': prefix + '-pairs-test.csv'},
                         pose_rep_type='hm', warp_skip='mask', check_images=False, parallel_calls=1, workers=0)


def one_thread(data):
    import tensorflow as tf
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    options.autotune.enabled = False
    return data.with_options(options)


def rate_of_dataset(data, batch_size, warmup_batches=3):
    iterator = iter(data)
    for _ in range(warmup_batches):
        next(iterator)
    count, started, cpu = 0, time.perf_counter(), time.process_time()
    for batch in iterator:
        count += int(batch['source_image'].shape[0])
    return count / (time.perf_counter() - started), count, count / (time.process_time() - cpu)


def measure(data_root, name, pairs, batch_size, repeats):
    dataset = make_dataset(data_root, name, batch_size)
    size = dataset.image_size
    rows = []
    first = dataset.pair_index['train'][:pairs]
    kp = dataset.keypoints
    paths = dataset.image_paths

    # Reference style, one pair at a time.
    reference_pairs = max(8, pairs // 8)
    best = float('inf')
    for _ in range(repeats):
        started = time.perf_counter()
        for s, t in first[:reference_pairs]:
            reference_pair(paths[s], paths[t], kp[s], kp[t], size)
        best = min(best, (time.perf_counter() - started) / reference_pairs)
    rows.append({'size': '%dx%d' % size, 'implementation': 'reference-style per pair (skimage)',
                 'pairs_per_s_per_core': 1 / best, 'pairs_per_cpu_s': 1 / best, 'pairs_timed': reference_pairs})

    # The project's whole tf.data pipeline on one thread.
    stream = np.arange(pairs) % dataset.number_of_pairs('train')
    from gan import tf_data
    project = one_thread(tf_data.pipeline(dataset, stream, 'train', batch_size, drop_remainder=True))
    measured = [rate_of_dataset(project, batch_size) for _ in range(repeats)]
    best = max(measured, key=lambda m: m[0])
    # Wall-clock rate with one thread per pool, and pairs per second of CPU time the process used
    # (tf.data still has its own prefetch / iterator threads, so the wall rate can use >1 core).
    rows.append({'size': '%dx%d' % size, 'implementation': 'project tf.data (pose_dataset)',
                 'pairs_per_s_per_core': best[0], 'pairs_per_cpu_s': max(m[2] for m in measured),
                 'pairs_timed': pairs - 3 * batch_size})

    # Arithmetic only (no images, no TF): the project's transforms + masks, one pair or one batch per call.
    import pose_transform

    def per_pair():
        for s, t in first:
            pose_transform.affine_transforms(kp[s], kp[t])
            pose_transform.pose_masks(kp[t], size)

    def per_batch():
        for start in range(0, len(first), batch_size):
            chunk = first[start:start + batch_size]
            pose_transform.affine_transforms_batch(kp[chunk[:, 0]], kp[chunk[:, 1]])
            pose_transform.pose_masks_batch(kp[chunk[:, 1]], size)
    for label, function in (('per pair', per_pair), ('per batch (as the pipeline)', per_batch)):
        rate = len(first) / min(common.time_calls(function, repeats, warmup=1))
        rows.append({'size': '%dx%d' % size, 'implementation': 'transforms+masks only, ' + label,
                     'pairs_per_s_per_core': rate, 'pairs_per_cpu_s': rate, 'pairs_timed': len(first)})
    return rows


def measure_numpy(data_root, name, pairs, batch_size, repeats, gpu_rate):
    """The numpy pipeline: one core in this process, then one worker process per usable core."""
    dataset = make_dataset(data_root, name, batch_size)
    batches = pairs // batch_size
    size = '%dx%d' % dataset.image_size
    rows = []

    wall, cpu = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in dataset.train_batches(0, batches):   # workers=0: each batch made here, one thread
            pass
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    # Pairs per CPU second: a core's rate even when other processes share the cores.
    per_core = batches * batch_size / min(cpu)
    rows.append({'size': size, 'pipeline': 'numpy, in this process (1 core)', 'processes': 1,
                 'pairs_per_s': batches * batch_size / min(wall), 'pairs_per_cpu_s': per_core,
                 'consumer_cpu_ms_per_pair': None})
    workers = len(os.sched_getaffinity(0))
    dataset.workers = workers
    best = None
    for _ in range(repeats):
        with dataset.train_batches(0, batches + 2 * workers) as stream:
            for _ in range(2 * workers):   # the workers started and busy
                next(stream)
            started, cpu = time.perf_counter(), time.process_time()
            for _ in stream:
                pass
            wall, consumer = time.perf_counter() - started, time.process_time() - cpu
        if best is None or wall < best[0]:
            best = (wall, consumer)
    rate = batches * batch_size / best[0]
    rows.append({'size': size, 'pipeline': 'numpy, %d worker processes' % workers, 'processes': workers,
                 'pairs_per_s': rate, 'pairs_per_cpu_s': None,
                 'consumer_cpu_ms_per_pair': 1000 * best[1] / (batches * batch_size)})
    consumer_share = gpu_rate * best[1] / (batches * batch_size)
    needs = {'gpu_pairs_per_s': gpu_rate, 'worker_cores': gpu_rate / per_core,
             'consumer_core_share': consumer_share, 'cores_in_all': gpu_rate / per_core + consumer_share}
    return rows, needs


def check_reference(data_root, name, pairs):
    """How far the reference-style arithmetic is from the project's (transforms to float32 rounding;
    masks: the share of pixels where the polygon fills differ), so that the rates compare the same work."""
    import pose_dataset
    dataset = make_dataset(data_root, name, 4)
    first = dataset.pair_index['train'][:pairs]
    kp, size = dataset.keypoints, dataset.image_size
    transform_gap, mask_differences = 0.0, 0
    for s, t in first:
        expected = pose_dataset.warp_inputs(kp[s], kp[t], size, 'mask')
        transforms, masks = reference_warp_inputs(kp[s], kp[t], size)
        transform_gap = max(transform_gap, float(np.max(np.abs(transforms - expected['transforms']) /
                                                        (1 + np.abs(expected['transforms'])))))
        mask_differences += int(np.sum((masks > 0.5) != (expected['masks'] > 0.5)))
    return {'reference_style_transforms_max_relative_gap': transform_gap,
            'reference_style_mask_pixels_differing': mask_differences / (len(first) * 10 * size[0] * size[1]),
            'pairs_checked': int(len(first))}


# ---- the training step fed by the real pipeline --------------------------------------------------

def step_with_loading(data_root, steps, width_factor):
    """Step time with batches from PoseHMDataset (normal threads, AUTOTUNE) vs the same batches
    already in memory, alternating blocks so that load changes hit both."""
    from benchmarks import step_probe
    args = step_probe.training_args('mask', 4, width_factor, dataset='synthetic')
    args.data_root = data_root
    cmd.add_dataset_paths(args)
    from pose_dataset import PoseHMDataset
    dataset = PoseHMDataset.from_args(args, check_images=False)
    _, step = step_probe.make_step(args)
    data = iter(dataset.train_dataset(0, 3 * (2 * steps + 2)))
    memory = [next(data) for _ in range(3)]
    step(*memory)   # trace
    step(*[next(data) for _ in range(3)])
    loaded, in_memory = [], []
    for _ in range(steps):
        started = time.perf_counter()
        step(next(data), next(data), next(data))
        loaded.append(time.perf_counter() - started)
        started = time.perf_counter()
        step(*memory)
        in_memory.append(time.perf_counter() - started)
    return {'width_factor': width_factor, 'loaded': common.summary(loaded), 'in_memory': common.summary(in_memory)}


def main(argv=None):
    parser = common.parser('data_pipeline', __doc__.split('\n\n')[0])
    common.add_data_root(parser)
    parser.add_argument('--pairs', default=None, type=int, help='Pairs per timed pass (default 512, 128 quick).')
    parser.add_argument('--batch_size', default=4, type=int, help='Batch size of the pipelines.')
    parser.add_argument('--sizes', default='synthetic,synthetic256', help='Datasets: synthetic (128x64), synthetic256.')
    parser.add_argument('--step', action='store_true', help='Also time the step with real loading vs in memory.')
    parser.add_argument('--numpy', action='store_true', help='Only the numpy pipeline (train_batches), 128x64.')
    parser.add_argument('--gpu_rate', default=200.0, type=float,
                        help='--numpy: the pairs/s of the GPU to feed, for the cores it needs.')
    parser.add_argument('--step_only', action='store_true', help=argparse_hidden())
    parser.add_argument('--step_width', default=1.0, type=float, help='Network width of the --step comparison.')
    parser.add_argument('--steps', default=4, type=int, help='Steps of each kind in the --step comparison.')
    args = parser.parse_args(argv)
    from data.make_synthetic_dataset import ensure_synthetic_dataset
    if args.step_only:
        ensure_synthetic_dataset(args.data_root, 'synthetic')
        common.write_json(args.out, step_with_loading(args.data_root, args.steps, args.step_width))
        return
    if args.numpy:
        return main_numpy(args)
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    pairs = args.pairs or (128 if args.quick else 512)
    repeats = 2 if args.quick else 3
    results = {'machine': common.machine(), 'load_before': common.load_average(), 'rows': [], 'checks': {}}
    for name in args.sizes.split(','):
        if name == 'synthetic256':
            ensure_synthetic_dataset(args.data_root, name, train_identities=16, test_identities=4)
        else:
            ensure_synthetic_dataset(args.data_root, name)
        results['checks'][name] = check_reference(args.data_root, name, 64 if args.quick else 256)
        results['rows'] += measure(args.data_root, name, pairs, args.batch_size, repeats)
    results['load_after'] = common.load_average()
    if args.step:
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, 'step.json')
            env = {k: v for k, v in os.environ.items()
                   if k not in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')}
            subprocess.run([sys.executable, os.path.abspath(__file__), '--step_only', '--data_root', args.data_root,
                            '--steps', str(args.steps), '--step_width', str(args.step_width), '--out', out],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            with open(out) as f:
                results['step'] = json.load(f)
    reference = {row['size']: row['pairs_per_s_per_core'] for row in results['rows']
                 if row['implementation'].startswith('reference-style')}
    for row in results['rows']:
        row['vs_reference_style'] = row['pairs_per_s_per_core'] / reference[row['size']]
    print(common.machine_line(results['machine']))
    print('load average before %s, after %s' % (results['load_before'], results['load_after']))
    results['table'] = common.table(results['rows'], ['size', 'implementation', 'pairs_per_s_per_core',
                                                      'pairs_per_cpu_s', 'vs_reference_style', 'pairs_timed'],
                                    'Training pairs per second per core, market mask inputs (batch %d)'
                                    % args.batch_size)
    print('checks: %s' % json.dumps(results['checks']))
    if 'step' in results:
        s = results['step']
        results['step_table'] = common.table(
            [{'data': 'PoseHMDataset (real loading)', 'step_median_s': s['loaded']['median_s'],
              'step_min_s': s['loaded']['min_s']},
             {'data': 'already in memory', 'step_median_s': s['in_memory']['median_s'],
              'step_min_s': s['in_memory']['min_s']}],
            ['data', 'step_median_s', 'step_min_s'],
            'Market mask step, batch 4, width %s: real loading vs data in memory' % s['width_factor'])
    common.write_json(args.out, results)
    return results


def main_numpy(args):
    from data.make_synthetic_dataset import ensure_synthetic_dataset
    ensure_synthetic_dataset(args.data_root, 'synthetic')
    pairs = args.pairs or (128 if args.quick else 512)
    results = {'machine': common.machine(), 'load_before': common.load_average()}
    results['rows'], results['needs'] = measure_numpy(args.data_root, 'synthetic', pairs, args.batch_size,
                                                      2 if args.quick else 3, args.gpu_rate)
    results['load_after'] = common.load_average()
    print(common.machine_line(results['machine']))
    print('load average before %s, after %s' % (results['load_before'], results['load_after']))
    results['table'] = common.table(
        results['rows'], ['size', 'pipeline', 'processes', 'pairs_per_s', 'pairs_per_cpu_s',
                          'consumer_cpu_ms_per_pair'],
        'numpy pipeline, market mask inputs (batch %d, %d pairs)' % (args.batch_size, pairs))
    needs = results['needs']
    results['needs_table'] = common.table(
        [needs], ['gpu_pairs_per_s', 'worker_cores', 'consumer_core_share', 'cores_in_all'],
        'Cores to feed a GPU at %g pairs/s' % needs['gpu_pairs_per_s'])
    common.write_json(args.out, results)
    return results


def argparse_hidden():
    import argparse
    return argparse.SUPPRESS


if __name__ == '__main__':
    main()
