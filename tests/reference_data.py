"""Real keypoint annotations for fidelity tests: the samples of the authors' published Market-1501 and
DeepFashion annotation files kept beside the repository (``../shared/reference-data``, or the folder
named by $REFERENCE_DATA). They are not part of the repository: tests that need them skip without them.
"""
import os

import pytest

import pose_utils

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDER = os.environ.get('REFERENCE_DATA', os.path.join(ROOT, '..', 'shared', 'reference-data'))
# file -> image size (H, W)
FILES = {'market-annotation-train-sample.csv': (128, 64), 'market-annotation-test-sample.csv': (128, 64),
         'fasion-annotation-test-sample.csv': (256, 256)}


def annotation_sets():
    """[(file name, image size, {image name: (18, 2) keypoints})] of every sample file, or a skip."""
    if not os.path.isdir(FOLDER):
        pytest.skip('no reference annotations at %s' % FOLDER)
    sets = []
    for name, size in FILES.items():
        path = os.path.join(FOLDER, name)
        if os.path.exists(path):
            sets.append((name, size, pose_utils.load_annotations(path)))
    if not sets:
        pytest.skip('no reference annotation files in %s' % FOLDER)
    return sets
