"""Installs the dependencies of Deformable GAN and its reusable ``gan`` package.

The scripts (train.py, test.py, ...) are run from the repository root, as in the reference README.
"""
from setuptools import find_packages, setup

setup(
    name='deformable-gan',
    version='1.0.0',
    description='Deformable GANs for pose-based human image generation (CVPR 2018), on TensorFlow 2 / Keras 3',
    python_requires='>=3.10',
    packages=find_packages(include=['gan', 'gan.*']),
    install_requires=[
        'tensorflow>=2.16,<2.22',
        'keras>=3.3',
        'numpy>=1.26',
        'scipy>=1.11',
        'scikit-image>=0.22',
        'tqdm>=4.66',
        'h5py>=3.10',
        'matplotlib>=3.8',
        'tensorboard>=2.16',  # tf.summary's scalars and images, and the viewer of the run logs
        'opencv-python-headless>=4.8,<5',  # OpenCV 5 dropped the Caffe importer the SSD score needs
    ],
    # pandas: the tests check the test-pair sampling against the reference's DataFrame.sample.
    extras_require={'test': ['pytest>=8', 'pandas>=2.0']},
)
