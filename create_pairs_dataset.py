import cmd  # first, see cmd.py

__doc__ = """Writes NAME-pairs-train.csv and NAME-pairs-test.csv from the annotation files (docs/reference.md, "Pairs").

An image is kept when its torso (Rhip, Lhip, Lsho, Rsho) is present and its name starts neither with
``-1`` nor ``0000`` (Market-1501 junk and distractors). The person id is the name before the first
``_``. Pairs are every ordered pair of two different images of one person, persons in order of first
appearance, images in file order (as the reference's ``itertools.permutations``). The test pairs are
then sampled without replacement exactly as the reference's ``DataFrame.sample(n, random_state=0)``:
``numpy.random.RandomState(0).choice(count, n, replace=False)``, in the sampled order.
"""
import itertools
import sys

import numpy as np

import pose_utils
from script_errors import run_script

JUNK_PREFIXES = ('-1', '0000')


def person_id(name):
    return name.split('_')[0]


def usable_names(annotations):
    """Names (file order) whose pose passes the torso check and that are not junk/distractors."""
    return [name for name, cords in annotations.items()
            if not name.startswith(JUNK_PREFIXES) and pose_utils.has_torso(cords)]


def make_pairs(names):
    """Every ordered pair (from, to) of two different images of the same person."""
    persons = {}
    for name in names:
        persons.setdefault(person_id(name), []).append(name)
    return [pair for images in persons.values() for pair in itertools.permutations(images, 2)]


def sample_pairs(pairs, images_for_test, seed=0):
    """min(images_for_test, len(pairs)) pairs, as pandas' ``sample(n, random_state=seed)`` picks them."""
    count = min(images_for_test, len(pairs))
    chosen = np.random.RandomState(seed).choice(len(pairs), size=count, replace=False)
    return [pairs[i] for i in chosen]


def write_pairs_files(data_root, dataset, images_for_test=12000):
    """Writes both pair CSVs of ``dataset`` under ``data_root``; returns (train count, test count).

    Both annotation files are read and checked before anything is written, and each pairs file is
    replaced atomically, so a failed or repeated run leaves whole files.
    """
    paths = cmd.dataset_paths(data_root, dataset)
    pairs_of_split = {}
    for split in ('train', 'test'):
        annotations_path = paths['annotations_file_' + split]
        pairs = make_pairs(usable_names(pose_utils.load_annotations(annotations_path)))
        if not pairs:
            raise ValueError('%s gives no pairs: no person has two images with the torso points '
                             '(Rhip, Lhip, Lsho, Rsho) present' % annotations_path)
        pairs_of_split[split] = pairs if split == 'train' else sample_pairs(pairs, images_for_test)
    for split, pairs in pairs_of_split.items():
        pose_utils.save_pairs(paths['pairs_file_' + split], pairs)
    return len(pairs_of_split['train']), len(pairs_of_split['test'])


def main(argv=None):
    args = cmd.create_pairs_parser().parse_args(argv)

    def work():
        train_count, test_count = write_pairs_files(args.data_root, args.dataset, args.images_for_test)
        return '%s: %d training pairs, %d test pairs written to %s' % (args.dataset, train_count, test_count,
                                                                      args.data_root)
    return run_script('create_pairs_dataset.py', work)


if __name__ == '__main__':
    sys.exit(main())
