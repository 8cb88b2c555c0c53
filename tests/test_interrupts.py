"""Ctrl-C (SIGINT) and SIGTERM: a real train.py stopped by the signal at a random step finishes that
step, writes the resume state there, says where it stopped in one line and exits 130 / 143; --resume
from the state of a Ctrl-C ends with the uninterrupted run's weights and Adam states, bit for bit.
Also --save_every_steps under a kill."""
import json
import os
import random
import re
import signal
import sys

import numpy as np
import pytest

from tests import subprocesses
from tests.h5_arrays import h5_arrays

ROOT = subprocesses.ROOT
STEPS = 8


def command(root, out, *extra):
    return [sys.executable, 'train.py', '--dataset', 'synthetic', '--data_root', root, '--width_factor', '0.0625',
            '--batch_size', '2', '--batches_per_epoch', str(STEPS), '--number_of_epochs', '2', '--warp_skip', 'mask',
            '--use_validation', '0', '--output_dir', str(out), '--checkpoints_dir', str(out),
            '--log_dir', str(out / 'logs')] + list(extra)


def arrays(folder):
    """Every array of the final weights and of the final resume state."""
    found = {}
    latest = json.loads((folder / 'resume' / 'latest.json').read_text())
    for name in ('epoch_002_generator.weights.h5', 'epoch_002_discriminator.weights.h5', 'resume/' + latest['state']):
        found.update(h5_arrays(folder / name, name + '/'))
    return found


def assert_same_run(expected_folder, got_folder):
    expected, got = arrays(expected_folder), arrays(got_folder)
    assert sorted(expected) == sorted(got)
    for key in expected:
        assert np.array_equal(expected[key], got[key]), key


@pytest.fixture(scope='module')
def uninterrupted(synthetic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp('whole')
    result = subprocesses.run(command(synthetic_root, out), 600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def steps_done(text):
    """(epoch, steps done) of the last progress update tqdm printed, or None."""
    found = re.findall(r'epoch (\d+):\s+\d+%\|[^|]*\|\s*(\d+)/' + str(STEPS), text)
    return tuple(map(int, found[-1])) if found else None


def stop_with(signal_number, root, out, log_dir):
    """train.py into ``out``, stopped by ``signal_number`` once tqdm shows a random step of the first
    epoch done (the rest of that epoch and the second one are still to train, however fast the
    machine: a signal after the last step would find nothing left to stop). Checks the exit status,
    the one line and the resume pointer; gives (epoch, step) where it stopped."""
    stop_at = (0, random.randrange(1, STEPS - 3))
    with subprocesses.Processes(log_dir) as processes:
        process = processes.start('train', command(root, out), 600)
        processes.wait_until(lambda: (steps_done(processes.output(process)) or (-1, -1)) >= stop_at, 600,
                             'epoch %d, step %d' % stop_at, process)
        os.killpg(process.pid, signal_number)
        status = processes.wait(process)
        output = processes.output(process)
    assert status == 128 + signal_number, output[-3000:]
    stopped = [line for line in output.splitlines() if line.startswith('train.py: stopped by')]
    assert len(stopped) == 1, output[-3000:]
    assert stopped[0].startswith('train.py: stopped by %s ' % signal.Signals(signal_number).name), stopped[0]
    assert 'Traceback' not in output
    epoch, step = map(int, re.search(r'at epoch (\d+), step (\d+)', stopped[0]).groups())
    assert (epoch, step) >= stop_at
    latest = json.loads((out / 'resume' / 'latest.json').read_text())
    assert (latest['next_epoch'], latest['next_step']) == (epoch, step)
    return epoch, step


@pytest.mark.slow
def test_ctrl_c_stops_after_the_step_and_resume_ends_as_the_uninterrupted_run(synthetic_root, tmp_path,
                                                                              uninterrupted):
    out = tmp_path / 'stopped'
    stop_with(signal.SIGINT, synthetic_root, out, str(tmp_path))
    resumed = subprocesses.run(command(synthetic_root, out, '--resume'), 600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(uninterrupted, out)
    # the epoch's mean losses count the steps before the stop too
    rows = {row.split(',')[0]: row for row in (out / 'logs' / 'training_log.csv').read_text().splitlines()[1:]}
    expected = {row.split(',')[0]: row for row in
                (uninterrupted / 'logs' / 'training_log.csv').read_text().splitlines()[1:]}
    header = (out / 'logs' / 'training_log.csv').read_text().splitlines()[0].split(',')
    assert sorted(rows) == sorted(expected) and len(rows) >= 2   # one row per epoch, none lost or repeated
    for epoch_name, row in rows.items():
        got, want = dict(zip(header, row.split(','))), dict(zip(header, expected[epoch_name].split(',')))
        assert {k: v for k, v in got.items() if k != 'seconds'} == {k: v for k, v in want.items() if k != 'seconds'}


@pytest.mark.slow
def test_sigterm_stops_the_same_way(synthetic_root, tmp_path):
    """What `kill` and job schedulers send: handled as Ctrl-C (the same stop, exit 128 + 15); the
    resume from such a state is the one the Ctrl-C test checks."""
    stop_with(signal.SIGTERM, synthetic_root, tmp_path / 'stopped', str(tmp_path))


@pytest.mark.slow
def test_save_every_steps_writes_the_state_inside_an_epoch(synthetic_root, tmp_path):
    """Killed (SIGKILL) once the state after step 6 of epoch 1 is whole, before the pointer names it: the
    pointer names the state after step 3, which loads into the run's networks and optimisers (resuming
    from a state inside an epoch: the Ctrl-C test)."""
    out = tmp_path / 'every'
    killed = subprocesses.run(command(synthetic_root, out, '--save_every_steps', '3'), 600,
                              env=dict(os.environ, GAN_CHECKPOINT_KILL_BEFORE_POINTER='1:6'))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    latest = json.loads((out / 'resume' / 'latest.json').read_text())
    assert (latest['next_epoch'], latest['next_step']) == (1, 3)
    found = h5_arrays(out / 'resume' / latest['state'])
    assert found and all(np.isfinite(value).all() for value in found.values())
    assert (out / 'resume' / 'state-epoch1-step6.h5').is_file()   # written, never named
    import cmd
    from gan import checkpoints
    from pose_training import make_gan
    gan = make_gan(cmd.parse_args(command(synthetic_root, out)[2:]))
    variables = checkpoints.resume_variables(gan.generator, gan.discriminator, gan.g_optimizer, gan.d_optimizer)
    assert checkpoints.restore_resume_state(variables, str(out))['next_step'] == 3
    assert int(gan.g_optimizer.iterations.numpy()) == int(gan.d_optimizer.iterations.numpy()) == STEPS + 3
