"""Horizontal-flip augmentation of the training split (docs/reference.md, "Pairs").

For every training image NAME.jpg of the train annotation CSV, writes NAMEr.jpg (mirrored left to
right) beside it and appends its keypoints to the train annotation CSV: x' = W-1-x for present
points, and the right/left labels swapped (Rsho <-> Lsho, ..., Reye <-> Leye, Rear <-> Lear).
Safe to re-run: flips already written are not redone and names already annotated not repeated; the
images and the CSV are written atomically, the CSV once at the end.
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

import numpy as np  # noqa: E402

import pose_utils  # noqa: E402
from script_errors import run_script  # noqa: E402

FLIP_SUFFIX = 'r'


def flipped_name(name):
    stem, extension = os.path.splitext(name)
    return stem + FLIP_SUFFIX + extension


# Index permutation that swaps every R/L keypoint pair.
MIRROR_PERMUTATION = np.array([
    pose_utils.LABELS.index({'R': 'L', 'L': 'R'}[label[0]] + label[1:]) if label[0] in 'RL' else index
    for index, label in enumerate(pose_utils.LABELS)])


def flip_cords(cords, width):
    """(18, 2) (y, x) keypoints of the mirrored image: x' = width-1-x, R/L swapped, -1 kept."""
    cords = np.asarray(cords).copy()
    present = pose_utils.present_mask(cords)
    cords[present, 1] = width - 1 - cords[present, 1]
    return cords[MIRROR_PERMUTATION]


def flip_train_data(data_root, dataset):
    """Writes the flipped copies and their keypoints; returns (flipped images, new annotation rows)."""
    paths = cmd.dataset_paths(data_root, dataset)
    annotations_path, images_dir = paths['annotations_file_train'], paths['images_dir_train']
    annotations = pose_utils.load_annotations(annotations_path)
    if not os.path.isdir(images_dir):
        raise FileNotFoundError('image folder not found: %s' % images_dir)
    expected_size = tuple(cmd.IMAGE_SIZES.get(dataset, (None, None)))
    flips = {flipped_name(name) for name in annotations}
    originals = [name for name in annotations if name not in flips]
    new_rows, written = {}, 0
    for name in originals:
        target = flipped_name(name)
        path = os.path.join(images_dir, name)
        destination = os.path.join(images_dir, target)
        if os.path.exists(destination):
            width = pose_utils.load_image(destination).shape[1]
        else:
            image = pose_utils.load_image(path)
            if None not in expected_size and image.shape[:2] != expected_size:
                raise ValueError('%s: expected a %dx%d image for dataset %s, got %dx%d'
                                 % (path, expected_size[0], expected_size[1], dataset,
                                    image.shape[0], image.shape[1]))
            pose_utils.save_image(destination, image[:, ::-1])
            width = image.shape[1]
            written += 1
        if target not in annotations:
            new_rows[target] = flip_cords(annotations[name], width)
    if new_rows:
        pose_utils.save_annotations(annotations_path, new_rows, append=True)
    return written, len(new_rows)


def main(argv=None):
    args = cmd.flip_train_parser().parse_args(argv)

    def work():
        return 'wrote %d flipped images and %d annotation rows' % flip_train_data(args.data_root, args.dataset)
    return run_script('flip_train_data.py', work)


if __name__ == '__main__':
    sys.exit(main())
