"""Every array of an HDF5 file (weight files, resume states), for the tests that compare them."""
import h5py
import numpy as np


def h5_arrays(path, prefix=''):
    """{prefix + dataset path: array} of every dataset in ``path``, in the file's order."""
    arrays = {}
    with h5py.File(path, 'r') as f:
        f.visititems(lambda name, item: arrays.__setitem__(prefix + name, item[()])
                     if isinstance(item, h5py.Dataset) else None)
    return arrays


def float_norm(path):
    """The L2 norm of every float array of a weight file (the variables, in any order)."""
    return np.sqrt(sum(np.sum(value.astype(np.float64) ** 2) for value in h5_arrays(path).values()
                       if value.dtype.kind == 'f'))
