"""Tests a generator checkpoint (docs/reference.md, "Scores"): generates every test pair, saves one PNG per pair
(source, target, generated side by side, named ``<from>_<to>.png``) and computes the scores:
Inception Score, SSIM, L1, their masked variants (both images times the body mask of the target
keypoints), masked L1, FID (generated against target images), and, beyond the paper
(docs/evaluation.md), LPIPS (AlexNet and VGG variants) and PCKh. Prints the reference's summary line
and writes every score, the flags and the checkpoint to ``scores.json`` beside the images.

    python test.py --generator_checkpoint output/checkpoints/generator.weights.h5 --dataset market --warp_skip mask
    python test.py --load_generated_images 1 --generated_images_dir output/generated_images --dataset market

Scores that need Inception, LPIPS or pose-estimator weights are skipped (and said so) when the
weights are not found; the DS score comes from ssd_score/compute_ssd_score.py.
"""
import cmd  # first: see cmd.py

import json
import os
import sys
import time

import numpy as np
from tqdm import tqdm

import pose_utils
from data.make_synthetic_dataset import ensure_dataset
from evaluation.pckh import pckh_counts, pckh_score
from evaluation.triplets import load_triplet, other_pngs, save_triplet, triplet_name
from gan import atomic, devices
from gan.fid import fid_from_features
from gan.inference import compiled_forward
from gan.inception_score import inception_score, load_inception, missing_inception_message
from gan.lpips import find_lpips
from gan.metrics import apply_masks, l1, ssim

SCORES_FILE = 'scores.json'
INCEPTION_SPLITS = 10
SCORING_BLOCK = 100  # pairs scored together (Inception batches), so memory does not grow with the test set
INCEPTION_SCORES = ('inception_score', 'inception_score_masked', 'fid')
PCKH_COUNTS = ('pckh_correct', 'pckh_counted')   # per pair: PCKh is their sums' ratio, not a mean


# ---- Scores ----------------------------------------------------------------------------------

class PairScores:
    """Accumulates the per-pair scores and the Inception outputs block by block. ``lpips``: {net:
    gan.lpips.LPIPS}; ``keypoint_estimator``: image -> (18, 2) keypoints, for PCKh."""

    def __init__(self, image_size, target_keypoints, inception=None, lpips=None, keypoint_estimator=None):
        self.image_size = tuple(image_size)
        self.target_keypoints = target_keypoints  # name -> (18, 2)
        self.inception = inception
        self.lpips = lpips or {}
        self.keypoint_estimator = keypoint_estimator
        names = ['ssim', 'ssim_masked', 'l1', 'l1_masked'] + ['lpips_' + net for net in self.lpips]
        self.per_pair = {name: [] for name in names + (list(PCKH_COUNTS) if keypoint_estimator else [])}
        self.outputs = {name: [] for name in ('probabilities', 'probabilities_masked',
                                              'features', 'target_features')}

    def add(self, pairs, targets, generated):
        masks = [pose_utils.produce_ma_mask(self.target_keypoints[to], self.image_size) for _, to in pairs]
        masked_targets, masked_generated = apply_masks(targets, masks), apply_masks(generated, masks)
        for name, score in (('ssim', ssim), ('l1', l1)):
            self.per_pair[name] += [score(t, g) for t, g in zip(targets, generated)]
            self.per_pair[name + '_masked'] += [score(t, g) for t, g in zip(masked_targets, masked_generated)]
        for net, model in self.lpips.items():
            self.per_pair['lpips_' + net] += [float(d) for d in model.distances(generated, targets)]
        if self.keypoint_estimator is not None:
            for (_, to), image in zip(pairs, generated):
                counts = pckh_counts(self.keypoint_estimator(image), self.target_keypoints[to])
                for name, count in zip(PCKH_COUNTS, counts):
                    self.per_pair[name].append(count)
        if self.inception is not None:
            probabilities, features = self.inception.predict(generated, progress=False)
            self.outputs['probabilities'].append(probabilities)
            self.outputs['features'].append(features)
            self.outputs['probabilities_masked'].append(
                self.inception.predict(masked_generated, want_features=False, progress=False)[0])
            self.outputs['target_features'].append(self.inception.predict(targets, progress=False)[1])

    def result(self):
        """Every score: means over the pairs, IS as [mean, std] over min(10, N) splits, PCKh as the
        share of all counted keypoints (with the count, ``pckh_keypoints``)."""
        count = len(self.per_pair['ssim'])
        if count == 0:
            raise ValueError('no pairs to score')
        scores = {name: float(np.mean(values)) for name, values in self.per_pair.items() if name not in PCKH_COUNTS}
        if PCKH_COUNTS[0] in self.per_pair:
            scores['pckh'] = pckh_score(self.per_pair['pckh_correct'], self.per_pair['pckh_counted'])
            scores['pckh_keypoints'] = int(np.sum(self.per_pair['pckh_counted']))
        if self.outputs['probabilities']:
            outputs = {name: np.concatenate(values) for name, values in self.outputs.items()}
            splits = min(INCEPTION_SPLITS, count)
            scores['inception_score'] = list(inception_score(outputs['probabilities'], splits))
            scores['inception_score_masked'] = list(inception_score(outputs['probabilities_masked'], splits))
            scores['inception_splits'] = splits
            scores['fid'] = fid_from_features(outputs['features'], outputs['target_features']) \
                if count >= 2 else None
        return scores


def score_generated_images(pairs, target_images, generated_images, target_keypoints, image_size, inception=None,
                           lpips=None, keypoint_estimator=None):
    """All scores of in-memory images: pairs [(from, to)], uint8 target and generated images,
    target_keypoints {name: (18, 2)}; the Inception scores only with an ``inception`` model, LPIPS
    with ``lpips`` models, PCKh with a ``keypoint_estimator``."""
    scorer = PairScores(image_size, target_keypoints, inception, lpips, keypoint_estimator)
    for start in range(0, len(pairs), SCORING_BLOCK):
        block = slice(start, start + SCORING_BLOCK)
        scorer.add(pairs[block], target_images[block], generated_images[block])
    return scorer.result()


# ---- Generating or reading the triplets ------------------------------------------------------

def generated_batches(args, dataset):
    """(pairs, sources, targets, generated) per batch of the test pairs of ``dataset``, from the
    generator of the flags and --generator_checkpoint; saves each pair's PNG."""
    import conv_layers
    import weight_files
    generator = conv_layers.make_generator(**conv_layers.network_options(args))
    weight_files.load_weights(generator, args.generator_checkpoint)
    input_names = list(generator.input)
    # Dropout stays on with --use_dropout_test 1 (the reference's learning phase 1).
    generate = compiled_forward(generator, training=bool(args.use_dropout_test))
    os.makedirs(args.generated_images_dir, exist_ok=True)
    stale_scores = os.path.join(args.generated_images_dir, SCORES_FILE)
    if os.path.exists(stale_scores):   # it scored the images about to be replaced
        os.remove(stale_scores)
    for names, batch in dataset.test_batches(args.batch_size):
        output = generate({name: batch[name] for name in input_names})
        sources = [pose_utils.deprocess_image(image) for image in batch['source_image']]
        targets = [pose_utils.deprocess_image(image) for image in batch['target_image']]
        generated = [pose_utils.deprocess_image(image) for image in output]
        for (from_name, to_name), source, target, image in zip(names, sources, targets, generated):
            save_triplet(args.generated_images_dir, from_name, to_name, source, target, image)
        yield names, sources, targets, generated


def loaded_batches(args, pairs):
    """The same from the PNGs in --generated_images_dir, in pairs-file order."""
    for start in range(0, len(pairs), args.batch_size):
        names = pairs[start:start + args.batch_size]
        triplets = [load_triplet(os.path.join(args.generated_images_dir, triplet_name(*pair)), args.image_size)
                    for pair in names]
        yield names, [t[0] for t in triplets], [t[1] for t in triplets], [t[2] for t in triplets]


def shard_bounds(shard, total, batch_size):
    """[start, stop) of shard i of n (``shard`` = (i, n)) of ``total`` pairs in pairs-file order: whole
    scoring blocks (SCORING_BLOCK pairs rounded up to whole batches of ``batch_size``), so that every
    network sees the batches it sees in one process. A CPU's convolution can round differently for
    another batch size, and the shards' scores would then differ from one process's in the last bits.
    A test set smaller than n blocks leaves the last shards empty."""
    index, count = shard
    unit = -(-SCORING_BLOCK // batch_size) * batch_size
    units = -(-total // unit)
    return tuple(min(total, -(-i * units // count) * unit) for i in (index, index + 1))


def open_test_pairs(args):
    """(pairs, skipped pairs, keypoints, batches) of the test set; with --shard i/n the batches are
    those of the shard's pairs only. The pairs, keypoints and images are checked here (pose_dataset),
    and the checkpoint is loaded before the first image is written."""
    from pose_dataset import PoseHMDataset, load_keypoints, load_usable_pairs
    if args.load_generated_images:
        keypoints = load_keypoints([args.annotations_file_train, args.annotations_file_test], args.image_size)
        pairs, skipped = load_usable_pairs(args.pairs_file_test, keypoints, args.skip_invalid_pairs)
        start, stop = shard_bounds(args.shard, len(pairs), args.batch_size) if args.shard else (0, len(pairs))
        return pairs, skipped, keypoints, loaded_batches(args, pairs[start:stop])
    dataset = PoseHMDataset.from_args(args)
    keypoints = dict(zip(dataset.names, dataset.keypoints))
    pairs = list(dataset.pairs['test'])
    if args.shard:   # the dataset's test split becomes the shard's pairs
        start, stop = shard_bounds(args.shard, len(pairs), args.batch_size)
        dataset.pairs['test'] = dataset.pairs['test'][start:stop]
        dataset.pair_index['test'] = dataset.pair_index['test'][start:stop]
    return pairs, dataset.skipped_pairs['test'], keypoints, generated_batches(args, dataset)


def score_batches(scorer, batches, total, args):
    """Feeds the batches to ``scorer`` SCORING_BLOCK pairs at a time; returns the seconds spent scoring.
    A failure on the way says how many images were written before it, and that scores.json was not."""
    scoring_seconds, block = 0.0, [[], [], []]
    with tqdm(total=total, unit='pair') as progress:
        try:
            for names, _, targets, generated in batches:
                for part, values in zip(block, (names, targets, generated)):
                    part.extend(values)
                progress.update(len(names))
                if len(block[0]) >= SCORING_BLOCK or progress.n >= total:
                    scoring_started = time.time()
                    scorer.add(*block)
                    scoring_seconds += time.time() - scoring_started
                    block = [[], [], []]
        except (FileNotFoundError, ValueError) as error:
            kind = FileNotFoundError if isinstance(error, FileNotFoundError) else ValueError
            raise kind('%s [%s]' % (error, stopped_note(args, progress.n, total))) from None
        except BaseException:
            print('test.py: %s' % stopped_note(args, progress.n, total), file=sys.stderr)
            raise
    if block[0]:
        scorer.add(*block)
    return scoring_seconds


def stopped_note(args, done, total):
    if args.load_generated_images:
        return 'stopped at pair %d of %d; no scores.json was written' % (done + 1, total)
    return ('stopped after %d of the %d test images were written to %s; no scores.json was written'
            % (done, total, args.generated_images_dir))


# Flags that only train.py reads. scores.json leaves them out of test.py's own flags, where test.py's
# defaults (number_of_epochs 500, ...) would read like the configuration that made the checkpoint.
TRAINING_ONLY_FLAGS = ('output_dir', 'training_ratio', 'l1_penalty_weight', 'gan_penalty_weight', 'tv_penalty_weight',
                       'lstruct_penalty_weight', 'number_of_epochs', 'content_loss_layer', 'checkpoints_dir',
                       'checkpoint_ratio', 'discriminator_checkpoint', 'nn_loss_area_size', 'use_validation',
                       'display_ratio', 'start_epoch', 'images_for_test', 'cache_pose_rep',
                       'batches_per_epoch', 'mixed_precision', 'resume', 'log_dir', 'distribute', 'vgg_weights',
                       'tmp_dir', 'tmp_pose_dir', 'save_every_steps')
# How the pairs were split over processes: not what was scored.
SHARD_FLAGS = ('shard', 'merge_shards')
# Flags that change what a generator computes without changing its weights' shapes, so that loading
# the checkpoint does not catch a difference from its training run.
GENERATOR_FLAGS = ('warp_skip', 'warp_agg', 'use_input_pose', 'use_bg', 'pose_rep_type', 'width_factor',
                   'warp_interpolation', 'pose_map')


def flag_records(args):
    """scores.json's flags: test.py's own (``test_flags``) and, apart, those of the run that made the
    checkpoint (``training_flags``), read from the options.json that train.py writes beside it (None
    without one). A generator flag that differs between the two is warned about."""
    test_flags = {k: v for k, v in vars(args).items()
                  if not k.startswith('_') and k not in TRAINING_ONLY_FLAGS + SHARD_FLAGS}
    options_path = training_flags = None
    if not args.load_generated_images:
        options_path = os.path.join(os.path.dirname(os.path.abspath(args.generator_checkpoint)), 'options.json')
        try:
            with open(options_path) as f:
                training_flags = json.load(f)
        except FileNotFoundError:
            options_path = None
        except (OSError, ValueError) as error:
            print('Warning: %s is not readable (%s): the training flags are not recorded' % (options_path, error))
            options_path = None
    differing = {k: {'test': test_flags[k], 'training': training_flags[k]} for k in GENERATOR_FLAGS
                 if training_flags and k in training_flags and k in test_flags and training_flags[k] != test_flags[k]}
    for name, values in differing.items():
        print('Warning: --%s %s differs from the checkpoint\'s training run (%s in %s)'
              % (name, values['test'], values['training'], options_path))
    return {'test_flags': test_flags, 'training_flags': training_flags, 'training_flags_file': options_path,
            'flags_differing_from_training': differing}


def find_inception(args):
    """The Inception model, or None (with the reason) when no weights are found. Weights or a graph
    named by a flag must exist."""
    try:
        return load_inception(args.inception_weights, args.inception_graph), None
    except FileNotFoundError:
        if args.inception_weights or args.inception_graph:
            raise
        return None, missing_inception_message()


def find_lpips_models(args):
    """({net: LPIPS}, {score name: why skipped}): the variants whose weights are in --lpips_weights
    (default: Keras' cache folder); a folder named by the flag must hold at least one."""
    found, missing = find_lpips(getattr(args, 'lpips_weights', None))
    return found, {'lpips_' + net: message for net, message in missing.items()}


def find_keypoint_estimator(args):
    """(image -> keypoints, None) for PCKh, or (None, why skipped). --pckh auto: when the
    --pose_estimator file exists; 1: it must; 0: never."""
    from evaluation.pckh import keypoint_estimator
    mode = str(getattr(args, 'pckh', 'auto'))
    path = getattr(args, 'pose_estimator', None)
    if mode == '0':
        return None, 'off (--pckh 0)'
    if not path or not os.path.isfile(path):
        if mode == '1':
            raise FileNotFoundError('--pckh 1 needs the pose estimator: %s does not exist (--pose_estimator)' % path)
        return None, ('pose estimator weights not found: %s (--pose_estimator; see compute_cordinates.py for '
                      'where to get them)' % path)
    return keypoint_estimator(path, getattr(args, 'scale_search', None)), None


def evaluate(args):
    """Generates (or reads) every test pair and scores them; returns the dict written to scores.json.
    With --shard i/n: only the shard's pairs, and their scores go to the shard's partial file
    (``merge_shards`` makes scores.json from all of them)."""
    if args.merge_shards:
        return merge_shards(args)
    devices.prepare_backend(args.tf32)   # the generator's and the scoring networks' arithmetic
    pairs, skipped_pairs, target_keypoints, batches = open_test_pairs(args)
    if not pairs:
        raise ValueError('%s holds no usable test pairs' % args.pairs_file_test)
    ignored = other_pngs(args.generated_images_dir, pairs) if os.path.isdir(args.generated_images_dir) else []
    if ignored:
        print('Not scored: %d PNGs in %s that are not pairs of %s (%s, ...)'
              % (len(ignored), args.generated_images_dir, args.pairs_file_test, ignored[0]))
    flags = flag_records(args)
    inception, skipped_because = find_inception(args)
    skipped = {name: skipped_because for name in INCEPTION_SCORES} if inception is None else {}
    lpips, lpips_skipped = find_lpips_models(args)
    keypoint_estimator, pckh_skipped = find_keypoint_estimator(args)
    skipped.update(lpips_skipped, **({'pckh': pckh_skipped} if pckh_skipped else {}))
    if inception is None:
        print('Skipping %s: %s' % (', '.join(INCEPTION_SCORES), skipped_because))
    for name, because in sorted(lpips_skipped.items()) + ([('pckh', pckh_skipped)] if pckh_skipped else []):
        print('Skipping %s: %s' % (name, because))
    scorer = PairScores(args.image_size, target_keypoints, inception, lpips, keypoint_estimator)
    print(('Loading images from %s...' if args.load_generated_images else 'Generate images to %s...')
          % args.generated_images_dir)
    started = time.time()
    start, stop = shard_bounds(args.shard, len(pairs), args.batch_size) if args.shard else (0, len(pairs))
    scoring_seconds = score_batches(scorer, batches, stop - start, args)
    scores = None if args.shard else scorer.result()
    report = {'scores': scores, 'pairs': len(pairs), 'seconds': round(time.time() - started, 1),
              'scoring_seconds': round(scoring_seconds, 1),
              'skipped': skipped,
              'inception_model': getattr(inception, 'graph_path', getattr(inception, 'weights_path', None)),
              'inception_network': inception_provenance(inception),
              'lpips_weights': {net: model.weights_path for net, model in lpips.items()},
              'pose_estimator': os.path.abspath(args.pose_estimator) if keypoint_estimator else None,
              'keras_backend': keras_backend(),
              'generator_checkpoint': None if args.load_generated_images else os.path.abspath(args.generator_checkpoint),
              'pairs_file': os.path.abspath(args.pairs_file_test), 'skipped_pairs': len(skipped_pairs),
              'ignored_pngs': len(ignored), **flags}
    if args.shard:
        path = save_shard(args, scorer, pairs[start:stop], report)
        held = ('pairs %d to %d of %d' % (start, stop - 1, len(pairs)) if stop > start else
                'no pairs: the %d pairs fill fewer scoring blocks than there are shards' % len(pairs))
        print('Shard %d/%d (%s) written to %s; once every shard is done, run the same command with '
              '--merge_shards %d instead of --shard to write %s'
              % (args.shard + (held, path, args.shard[1], SCORES_FILE)))
        return report
    atomic.write_json(os.path.join(args.generated_images_dir, SCORES_FILE), report)
    print(summary_line(scores))
    if inception is not None:
        print(report['inception_network']['note'])
    return report


# ---- Evaluation in shards (--shard i/n, then --merge_shards n) --------------------------------

def shard_file(folder, index, count):
    return os.path.join(folder, 'scores.shard-%d-of-%d.npz' % (index, count))


def save_shard(args, scorer, pairs, report):
    """The shard's partial results: its pairs, per-pair scores and Inception outputs (what IS and FID
    need over all images), and its report, in one file written atomically."""
    path = shard_file(args.generated_images_dir, *args.shard)
    arrays = {'pairs': np.array(pairs, dtype=str).reshape(-1, 2), 'report': np.array(json.dumps(report, default=str))}
    arrays.update({'per_pair_' + name: np.asarray(values, np.float64) for name, values in scorer.per_pair.items()})
    arrays.update({'outputs_' + name: np.concatenate(values) for name, values in scorer.outputs.items() if values})
    with atomic.atomic_path(path) as tmp, open(tmp, 'wb') as f:
        np.savez(f, **arrays)
    return path


def merge_shards(args):
    """scores.json from the partial files of --merge_shards n shards: the per-pair scores and Inception
    outputs of every pair, in pairs-file order, scored together (IS and FID over all images, as one
    process computes them); the report is the shards' (seconds summed)."""
    from pose_dataset import load_keypoints
    count = args.merge_shards
    paths = [shard_file(args.generated_images_dir, index, count) for index in range(count)]
    missing = [index for index, path in enumerate(paths) if not os.path.exists(path)]
    if missing:
        raise FileNotFoundError('%s is missing: run test.py with --shard %d/%d first (shards missing: %s)'
                                % (paths[missing[0]], missing[0], count, ', '.join(map(str, missing))))
    shards = []
    for path in paths:
        with np.load(path) as data:
            shards.append({name: data[name] for name in data.files})
    reports = [json.loads(str(shard['report'])) for shard in shards]
    first = reports[0]
    pairs = [tuple(pair) for shard in shards for pair in shard['pairs'].tolist()]
    for name in ('pairs', 'pairs_file', 'generator_checkpoint', 'inception_model', 'lpips_weights', 'pose_estimator'):
        if any(report.get(name) != first.get(name) for report in reports):
            raise ValueError('the shards in %s were made by different runs (their %s differ): run every shard '
                             'with the same command' % (args.generated_images_dir, name))
    if any(report['test_flags'].get('batch_size') != first['test_flags'].get('batch_size') for report in reports):
        raise ValueError('the shards in %s were made with different --batch_size values, which cut the pairs '
                         'differently: run every shard with the same command' % args.generated_images_dir)
    if len(pairs) != first['pairs']:
        raise ValueError('the %d shards hold %d pairs, the test set %d: were they made with --shard i/%d?'
                         % (count, len(pairs), first['pairs'], count))
    keypoints = load_keypoints([args.annotations_file_train, args.annotations_file_test], args.image_size)
    scorer = PairScores(args.image_size, keypoints)
    names = [name[len('per_pair_'):] for name in shards[0] if name.startswith('per_pair_')]
    scorer.per_pair = {name: [float(v) for shard in shards for v in shard['per_pair_' + name]] for name in names}
    for name in scorer.outputs:
        scorer.outputs[name] = [shard['outputs_' + name] for shard in shards if 'outputs_' + name in shard]
    report = dict(first, scores=scorer.result(), seconds=round(sum(r['seconds'] for r in reports), 1),
                  scoring_seconds=round(sum(r['scoring_seconds'] for r in reports), 1),
                  ignored_pngs=len(other_pngs(args.generated_images_dir, pairs)))
    atomic.write_json(os.path.join(args.generated_images_dir, SCORES_FILE), report)
    print('Merged %d shards of %s' % (count, args.generated_images_dir))
    print(summary_line(report['scores']))
    if report['inception_network']:
        print(report['inception_network']['note'])
    return report


def inception_provenance(inception):
    """Which network computed IS and FID, and whether its Inception Scores compare with the paper's."""
    if inception is None:
        return None
    note = ('Inception Score by the %s: %s' % (inception.name, 'the network of the paper\'s scores'
            if inception.comparable_to_paper else 'NOT comparable with the paper\'s Inception Scores (they '
            'used the 2015 Inception graph: give it with --inception_graph)'))
    return {'name': inception.name, 'comparable_to_paper': inception.comparable_to_paper, 'note': note}


def summary_line(scores):
    """The reference's closing line, plus the scores it did not have."""
    def shown(name):
        value = scores.get(name)
        return 'skipped' if value is None else (tuple(value) if isinstance(value, list) else value)
    return ('Inception score = %s, masked = %s; SSIM score = %s, masked = %s; l1 score = %s\n'
            'masked l1 score = %s; FID = %s; LPIPS (AlexNet) = %s, (VGG) = %s; PCKh = %s'
            % (shown('inception_score'), shown('inception_score_masked'), shown('ssim'), shown('ssim_masked'),
               shown('l1'), shown('l1_masked'), shown('fid'), shown('lpips_alex'), shown('lpips_vgg'),
               shown('pckh')))


def keras_backend():
    import keras
    return keras.backend.backend()


def parse_args(argv=None):
    parser = cmd.add_shard_flags(cmd.train_parser())
    args = cmd.add_dataset_paths(parser.parse_args(argv))
    cmd.validate_training_args(args, parser)
    if args.shard and args.merge_shards:
        parser.error('--shard scores one shard, --merge_shards merges them afterwards: give one of them')
    if args.merge_shards:
        if not os.path.isdir(args.generated_images_dir):
            parser.error('--generated_images_dir %s does not exist (no shards to merge)' % args.generated_images_dir)
        cmd.check_dataset_files(args, parser, ('annotations',))
        return args
    if not args.load_generated_images and args.generator_checkpoint is None:
        parser.error('--generator_checkpoint is required (unless --load_generated_images 1)')
    if args.load_generated_images and not os.path.isdir(args.generated_images_dir):
        parser.error('--generated_images_dir %s does not exist (nothing to load)' % args.generated_images_dir)
    ensure_dataset(args)
    needed = ('annotations', 'pairs') if args.load_generated_images else ('images', 'annotations', 'pairs')
    cmd.check_dataset_files(args, parser, needed)
    return args


def main(argv=None):
    return evaluate(parse_args(argv))


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError) as error:
        sys.exit('test.py: error: %s' % error)
