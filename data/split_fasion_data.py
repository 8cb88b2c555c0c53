"""Flattens the raw DeepFashion tree into fasion-dataset/{train,test} (docs/reference.md, "Pairs").

The raw tree is RAW/{MEN,WOMEN}/<Category>/id_<digits>/<nn>_<view>.jpg. The flat name joins
``fasion`` + gender + category without underscores + ``id`` + digits + the file's leading number,
then ``_`` + the rest of the file name without underscores, e.g.
WOMEN/Dresses/id_00005537/05_4_full.jpg -> fasionWOMENDressesid0000553705_4full.jpg.
The existing annotation CSVs decide the split: an image goes to test or train by which CSV lists its
flat name; images that neither lists are not copied. Files already copied are skipped, and each copy
is written to NAME.tmp then renamed, so a stopped run resumes.
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

import re  # noqa: E402
import shutil  # noqa: E402

import pose_utils  # noqa: E402
from gan import atomic  # noqa: E402
from script_errors import run_script  # noqa: E402

GENDERS = ('MEN', 'WOMEN')
ID_FOLDER = re.compile(r'^id_(\d+)$')
FILE_NAME = re.compile(r'^(\d+)_(.+\.jpg)$')


def flat_name(relative_path):
    """The flat name of a raw image path relative to the raw folder, or ValueError naming it."""
    parts = relative_path.replace(os.sep, '/').split('/')
    if len(parts) != 4 or parts[0] not in GENDERS:
        raise ValueError('%s: expected {MEN,WOMEN}/<Category>/id_<digits>/<nn>_<view>.jpg' % relative_path)
    gender, category, id_folder, file_name = parts
    id_match, file_match = ID_FOLDER.match(id_folder), FILE_NAME.match(file_name)
    if not id_match or not file_match:
        raise ValueError('%s: expected {MEN,WOMEN}/<Category>/id_<digits>/<nn>_<view>.jpg' % relative_path)
    return ('fasion' + gender + category.replace('_', '') + 'id' + id_match.group(1) + file_match.group(1)
            + '_' + file_match.group(2).replace('_', ''))


def raw_images(raw_dir):
    """Sorted relative paths of the .jpg files under ``raw_dir``."""
    if not os.path.isdir(raw_dir):
        raise FileNotFoundError('raw DeepFashion folder not found: %s' % raw_dir)
    found = []
    for root, folders, files in os.walk(raw_dir):
        folders.sort()
        found += [os.path.relpath(os.path.join(root, name), raw_dir)
                  for name in sorted(files) if name.lower().endswith('.jpg')]
    return found


def split_fasion(data_root, raw_dir=None):
    """Copies every annotated raw image to its split; returns (copied, skipped as present, unlisted)."""
    raw_dir = raw_dir or os.path.join(data_root, 'fasion')
    paths = cmd.dataset_paths(data_root, 'fasion')
    split_of = {}
    for split in ('train', 'test'):
        path = paths['annotations_file_' + split]
        for name in pose_utils.load_annotations(path):
            if name in split_of and split_of[name] != split:
                raise ValueError('%s lists %s, which fasion-annotation-%s.csv lists too'
                                 % (path, name, split_of[name]))
            split_of[name] = split
    sources = {}
    for relative in raw_images(raw_dir):
        name = flat_name(relative)
        if name in sources:
            raise ValueError('%s and %s both flatten to %s' % (sources[name], relative, name))
        sources[name] = relative
    copied = skipped = unlisted = 0
    for name, relative in sources.items():
        if name not in split_of:
            unlisted += 1
            continue
        destination = os.path.join(paths['images_dir_' + split_of[name]], name)
        if os.path.exists(destination):
            skipped += 1
            continue
        with atomic.atomic_path(destination) as tmp:
            shutil.copyfile(os.path.join(raw_dir, relative), tmp)
        copied += 1
    missing = sorted(set(split_of) - set(sources))
    if missing:
        print('warning: %d annotated images have no raw file, e.g. %s' % (len(missing), missing[0]),
              file=sys.stderr)
    return copied, skipped, unlisted


def main(argv=None):
    args = cmd.split_fasion_parser().parse_args(argv)

    def work():
        return ('copied %d images, %d already there, %d not in either annotation file'
                % split_fasion(args.data_root, args.raw_dir))
    return run_script('split_fasion_data.py', work)


if __name__ == '__main__':
    sys.exit(main())
