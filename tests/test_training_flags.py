"""One training step of every other flag value (training_ratio 2 is in test_training_run.py)."""
import pytest

from tests import test_training

OTHERS = {
    'stickman': ['--warp_skip', 'mask', '--pose_rep_type', 'stickman'],
    'avg': ['--warp_skip', 'mask', '--warp_agg', 'avg'],
    'use_bg': ['--warp_skip', 'mask', '--use_bg', '1'],
    'sim': ['--warp_skip', 'none', '--disc_type', 'sim'],
    'disc_warp': ['--warp_skip', 'mask', '--disc_type', 'warp'],
    'full_transform': ['--warp_skip', 'full'],
    'stn': ['--warp_skip', 'stn'],
    'no_input_pose_nn': ['--warp_skip', 'none', '--use_input_pose', '0', '--nn_loss_area_size', '3'],
    'tv': ['--warp_skip', 'none', '--tv_penalty_weight', '0.1'],
    'struct': ['--warp_skip', 'none', '--lstruct_penalty_weight', '2'],
}


@pytest.mark.parametrize('name', list(OTHERS))
def test_one_step_of_each_flag_value(synthetic_root, tmp_path, name, monkeypatch):
    monkeypatch.setitem(test_training.CONFIGURATIONS, name, OTHERS[name])
    test_training.check_one_step(synthetic_root, None, tmp_path, name)
