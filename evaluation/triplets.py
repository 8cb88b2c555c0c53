"""The PNG triplets test.py writes, one per test pair: source | target | generated side by side, named
``<from>_<to>.png``. test.py --load_generated_images, the DS score (ssd_score/compute_ssd_score.py) and
benchmarks/quality.py read them back. Nothing here needs Keras: the DS score runs with OpenCV alone."""
import os

import numpy as np
from PIL import Image

import pose_utils
from gan import atomic


def triplet_name(from_name, to_name):
    return '%s_%s.png' % (from_name, to_name)


def save_triplet(folder, from_name, to_name, source, target, generated):
    """Writes source | target | generated as one PNG, atomically."""
    path = os.path.join(folder, triplet_name(from_name, to_name))
    with atomic.atomic_path(path) as tmp:
        Image.fromarray(np.concatenate([source, target, generated], axis=1)).save(tmp, format='PNG')


def load_triplet(path, image_size):
    """(source, target, generated) uint8 images of a PNG written by ``save_triplet``."""
    if not os.path.isfile(path):
        raise FileNotFoundError('%s is missing (generate the images first, without --load_generated_images)' % path)
    image = pose_utils.load_image(path)   # a damaged file raises ValueError naming it
    height, width = image_size
    if image.ndim != 3 or image.shape[:2] != (height, 3 * width) or image.shape[2] not in (3, 4):
        raise ValueError('%s is %s, expected %dx%d RGB (three %dx%d images side by side; check --dataset)'
                         % (path, image.shape, height, 3 * width, height, width))
    image = image[..., :3]
    return image[:, :width], image[:, width:2 * width], image[:, 2 * width:]


def other_pngs(folder, pairs):
    """The PNG names in ``folder`` that are not the triplets of ``pairs``: left by a run on another
    pairs file, never scored."""
    current = {triplet_name(*pair) for pair in pairs}
    return sorted(name for name in os.listdir(folder) if name.lower().endswith('.png') and name not in current)
