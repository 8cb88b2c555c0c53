"""Installs the dependencies of Deformable GAN and its reusable ``gan`` package.

The scripts (train.py, test.py, ...) are run from the repository root, as in the reference README.
"""
from setuptools import find_packages, setup

setup(
    name='deformable-gan',
    version='1.0.0',
    description='Deformable GANs for pose-based human image generation (CVPR 2018), on Keras 3 (TensorFlow, JAX)',
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
        'tensorboard>=2.16',  # the run logs' event files (written without TensorFlow) and their viewer
        'opencv-python-headless>=4.8,<5',  # OpenCV 5 dropped the Caffe importer the SSD score needs
    ],
    # jax: the JAX backend (KERAS_BACKEND=jax; on a GPU machine install jax with its CUDA plugin instead).
    # pandas: the tests check the test-pair sampling against the reference's DataFrame.sample; the tests
    # run every backend, so they need jax too; pytest-xdist runs them in three processes (README).
    extras_require={'jax': ['jax[cpu]>=0.4.30'],
                    'test': ['pytest>=8', 'pytest-xdist>=3.5', 'pandas>=2.0', 'jax[cpu]>=0.4.30', 'mpmath>=1.3']},
)
