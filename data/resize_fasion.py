"""Makes fasion128 (128x64) from fasion (256x256) (docs/reference.md, "Pairs").

Each image loses 40 px on the left and right (256x176) and is resized to 128x64 (bilinear, no
anti-aliasing, truncated to uint8, as the reference's skimage call). Keypoints map as
y' = int(y*128/256), x' = int((x-40)*64/176); -1 stays -1. A point in the cropped-off margins
(x < 40 or x >= 216) is marked missing (-1, -1): the reference let such points become small or
negative numbers, which later code would misread (README, "Deliberate differences").
Images already resized are skipped; every file is written atomically.
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

import numpy as np  # noqa: E402
import skimage.transform  # noqa: E402

import pose_utils  # noqa: E402
from script_errors import run_script  # noqa: E402

SOURCE_SIZE = (256, 256)
TARGET_SIZE = (128, 64)
CROP = 40


def resize_cords(cords, source_size=SOURCE_SIZE, target_size=TARGET_SIZE, crop=CROP):
    """(18, 2) (y, x) keypoints of the source image -> those of the cropped, resized image."""
    cords = np.asarray(cords)
    ratio_y = target_size[0] / float(source_size[0])
    ratio_x = target_size[1] / float(source_size[1] - 2 * crop)
    missing = (cords[:, 0] == pose_utils.MISSING_VALUE) | (cords[:, 1] == pose_utils.MISSING_VALUE)
    cropped_off = (cords[:, 1] < crop) | (cords[:, 1] >= source_size[1] - crop)
    resized = np.stack([(cords[:, 0] * ratio_y).astype(int), ((cords[:, 1] - crop) * ratio_x).astype(int)], axis=1)
    resized[missing | cropped_off] = pose_utils.MISSING_VALUE
    return resized


def resize_image(image, target_size=TARGET_SIZE, crop=CROP):
    cropped = image[:, crop:-crop]
    resized = skimage.transform.resize(cropped, target_size, order=1, mode='constant',
                                       anti_aliasing=False, preserve_range=True)
    return resized.astype(np.uint8)


def resize_fasion(data_root, source='fasion', target='fasion128'):
    """Writes TARGET's images and annotation CSVs from SOURCE's; returns (resized, skipped) counts."""
    resized = skipped = 0
    source_paths, target_paths = cmd.dataset_paths(data_root, source), cmd.dataset_paths(data_root, target)
    for split in ('train', 'test'):
        annotations = pose_utils.load_annotations(source_paths['annotations_file_' + split])
        source_dir, target_dir = source_paths['images_dir_' + split], target_paths['images_dir_' + split]
        if not os.path.isdir(source_dir):
            raise FileNotFoundError('image folder not found: %s' % source_dir)
        for name in sorted(os.listdir(source_dir)):
            if name.endswith('.tmp'):
                continue
            destination = os.path.join(target_dir, name)
            if os.path.exists(destination):
                skipped += 1
                continue
            path = os.path.join(source_dir, name)
            image = pose_utils.load_image(path)
            if image.shape[:2] != SOURCE_SIZE:
                raise ValueError('%s: expected a %dx%d image, got %dx%d'
                                 % (path, SOURCE_SIZE[0], SOURCE_SIZE[1], image.shape[0], image.shape[1]))
            pose_utils.save_image(destination, resize_image(image))
            resized += 1
        pose_utils.save_annotations(
            target_paths['annotations_file_' + split],
            {name: resize_cords(cords) for name, cords in annotations.items()})
    return resized, skipped


def main(argv=None):
    args = cmd.resize_fasion_parser().parse_args(argv)

    def work():
        resized, skipped = resize_fasion(args.data_root, args.source, args.target)
        return 'resized %d images (%d already there); wrote %s annotations' % (resized, skipped, args.target)
    return run_script('resize_fasion.py', work)


if __name__ == '__main__':
    sys.exit(main())
