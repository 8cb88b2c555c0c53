"""Builds the built-in synthetic pose-transfer dataset (``synthetic``: 128x64, ``synthetic256``: 256x256).

Clothed articulated figures (data/synthetic_figures.py) in many poses and views, several images per
person, in exactly the layout of the real datasets (docs/reference.md, "Keypoints and files" and
"Pairs") under ``data_root``: NAME-dataset/{train,test}/*.jpg, NAME-annotation-{train,test}.csv and NAME-pairs-{train,test}.csv.
Image names follow Market-1501 (``0007_c3s2_004123_01.jpg``); train and test hold different persons.
The same seed gives byte-identical files. Everything is built in a hidden folder beside the target and
moved into place at the end, pair files last, so an interrupted build never looks complete.

    python data/make_synthetic_dataset.py [--dataset synthetic256] [--data_root data] [--force]
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

import create_pairs_dataset  # noqa: E402
import pose_utils  # noqa: E402
from data import synthetic_figures, synthetic_people  # noqa: E402

JPEG_QUALITY = 95


def dataset_paths(data_root, dataset):
    """The five outputs (the image folder and four CSVs) in the order they are moved into place, pairs last."""
    paths = cmd.dataset_paths(data_root, dataset)
    return [os.path.dirname(paths['images_dir_train'])] + [
        paths[name] for name in ('annotations_file_train', 'annotations_file_test', 'pairs_file_train', 'pairs_file_test')]


def is_complete(data_root, dataset):
    paths = dataset_paths(data_root, dataset)
    folder = paths[0]
    return (all(os.path.exists(path) for path in paths[1:])
            and os.path.isdir(os.path.join(folder, 'train')) and os.path.isdir(os.path.join(folder, 'test')))


def image_name(rng, person, index):
    """A Market-1501 style name, unique per (person, index): person_cCAMsSEQ_FRAME_01.jpg."""
    camera, sequence = rng.integers(1, 7), rng.integers(1, 7)
    frame = 1000 * index + rng.integers(1000)
    return '%04d_c%ds%d_%06d_01.jpg' % (person, camera, sequence, frame)


def render_person(person, images_per_identity, image_size, seed):
    """[(name, Rendering)] of one person; depends only on (seed, person), not on the other persons."""
    rng = np.random.default_rng([seed, person])
    appearance = synthetic_people.sample_appearance(rng)
    return [(image_name(rng, person, index), synthetic_figures.render(rng, appearance, image_size))
            for index in range(images_per_identity)]


def write_split(folder, persons, images_per_identity, image_size, seed, progress=None):
    """Writes the JPEGs of ``persons`` into ``folder``; returns their annotations (name -> (18, 2)).
    ``progress`` (a tqdm bar) advances by one per person."""
    os.makedirs(folder)
    annotations = {}
    for person in persons:
        for name, rendering in render_person(person, images_per_identity, image_size, seed):
            Image.fromarray(rendering.image).save(os.path.join(folder, name), quality=JPEG_QUALITY)
            annotations[name] = rendering.keypoints
        if progress is not None:
            progress.update()
    return annotations


def build(root, dataset, train_identities, test_identities, images_per_identity, seed, test_pairs=1000):
    """Writes the whole dataset under ``root``; returns (train pairs, test pairs)."""
    image_size = cmd.IMAGE_SIZES[dataset]
    paths = cmd.dataset_paths(root, dataset)
    persons = {'train': range(1, train_identities + 1),
               'test': range(train_identities + 1, train_identities + test_identities + 1)}
    # The whole build takes about 40 s at the default size: show that it is moving.
    with tqdm(total=train_identities + test_identities, desc='building %s' % dataset, unit='person',
              dynamic_ncols=True) as progress:
        for split, split_persons in persons.items():
            annotations = write_split(paths['images_dir_' + split], split_persons,
                                      images_per_identity, image_size, seed, progress)
            pose_utils.save_annotations(paths['annotations_file_' + split], annotations)
    return create_pairs_dataset.write_pairs_files(root, dataset, images_for_test=test_pairs)


def _remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def install(build_root, data_root, dataset):
    """Moves a finished build into ``data_root``. Old outputs go first (pair files first) and new ones
    come in with the pair files last, so the dataset is complete exactly when the last rename is done."""
    targets = dataset_paths(data_root, dataset)
    for path in reversed(targets):
        _remove(path)
    for path in targets:
        os.replace(os.path.join(build_root, os.path.basename(path)), path)


def ensure_synthetic_dataset(data_root='data', dataset='synthetic', train_identities=200, test_identities=100,
                             images_per_identity=8, seed=0, force=False, test_pairs=1000):
    """Builds the synthetic dataset under ``data_root`` unless it is already complete (then a fast no-op,
    whatever the other arguments; ``force`` rebuilds). Returns True when it built.

    ``test_pairs`` held-out pairs are sampled as create_pairs_dataset.py samples Market's 12,000: enough
    for stable scores, few enough that validation and test.py take minutes on a CPU."""
    if dataset not in cmd.SYNTHETIC_DATASETS:
        raise ValueError('--dataset %s is not a synthetic dataset (%s)' % (dataset, ', '.join(cmd.SYNTHETIC_DATASETS)))
    if train_identities + test_identities > 9999:
        raise ValueError('at most 9999 persons fit in the 4-digit Market names, asked for %d'
                         % (train_identities + test_identities))
    if images_per_identity < 2:
        raise ValueError('--images_per_identity must be at least 2 to make pairs, got %d' % images_per_identity)
    if not force and is_complete(data_root, dataset):
        return False
    os.makedirs(data_root, exist_ok=True)
    build_root = tempfile.mkdtemp(prefix='.%s-building-' % dataset, dir=data_root)
    try:
        build(build_root, dataset, train_identities, test_identities, images_per_identity, seed, test_pairs)
        install(build_root, data_root, dataset)
    finally:
        shutil.rmtree(build_root, ignore_errors=True)
    return True


def ensure_dataset(args):
    """Makes the built-in dataset the flags name (--dataset, --data_root) on first use, with the
    defaults, so that every script works on it unchanged; any other dataset is left alone."""
    if args.dataset in cmd.SYNTHETIC_DATASETS:
        ensure_synthetic_dataset(data_root=args.data_root, dataset=args.dataset)


def main(argv=None):
    args = cmd.synthetic_parser().parse_args(argv)
    start = time.time()
    try:
        built = ensure_synthetic_dataset(args.data_root, args.dataset, args.train_identities, args.test_identities,
                                         args.images_per_identity, args.seed, args.force,
                                         args.test_pairs)
    except (ValueError, OSError) as error:
        print('make_synthetic_dataset.py: error: %s' % error, file=sys.stderr)
        return 1
    paths = dataset_paths(args.data_root, args.dataset)
    if not built:
        print('%s is already complete under %s (use --force to rebuild)' % (args.dataset, args.data_root))
        return 0
    counts = [len(pose_utils.load_pairs(path)) for path in paths[3:]]
    print('%s: %d train and %d test persons, %d images each, %d training pairs, %d test pairs, '
          'in %s (%.1f s)' % (args.dataset, args.train_identities, args.test_identities,
                              args.images_per_identity, counts[0], counts[1], args.data_root, time.time() - start))
    return 0


if __name__ == '__main__':
    sys.exit(main())
