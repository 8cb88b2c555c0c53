"""Damaged weight files are refused with one message naming the file, before anything is assigned."""
import numpy as np
import pytest

import conv_layers
import weight_files


@pytest.mark.parametrize('content', [b'', b'not a weight file\n', 'truncated'])
def test_damaged_weight_files_are_named(tmp_path, content):
    model = conv_layers.make_discriminator((128, 64), 1, 'mask', 'call', 'max', 0, 'hm', width_factor=1 / 16)
    path = tmp_path / 'epoch_003_generator.weights.h5'
    if content == 'truncated':
        weight_files.save_weights(model, path)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    else:
        path.write_bytes(content)
    before = [np.array(v) for v in model.weights]
    with pytest.raises(ValueError, match=str(path)) as error:
        weight_files.load_weights(model, path)
    assert 'HDF5' in str(error.value) or 'another architecture' in str(error.value)
    assert all(np.array_equal(a, np.array(v)) for a, v in zip(before, model.weights))
