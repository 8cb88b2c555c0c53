"""The life of a run: the reference's epoch and checkpoint numbering, the final weights, exact resume,
one run per folder (--overwrite) and one process per run (two started at once), folder flags naming
files, --resume checking the run it continues, empty pair lists refused at start, a full disk, and the
small things a person reads (loss curves, progress, TensorFlow's log)."""
import csv
import errno
import json
import os
import shutil
import sys

import cmd
import numpy as np
import pytest

import train as train_script
from gan import checkpoints, run_log
from gan.trainer import Trainer, make_optimizer
from pose_training import make_gan, train
from tests import subprocesses
from tests.fixtures_data import training_args
from tests.h5_arrays import h5_arrays

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _flags(out, *extra):
    """A tiny run without validation (its epochs: test_files_follow_the_reference_numbering)."""
    return ['--dataset', 'synthetic', '--width_factor', '0.0625', '--warp_skip', 'none', '--batch_size', '2',
            '--batches_per_epoch', '1', '--number_of_epochs', '1', '--use_validation', '0',
            '--output_dir', os.path.join(out, 'samples'),
            '--checkpoints_dir', os.path.join(out, 'checkpoints'), '--log_dir', os.path.join(out, 'logs'),
            '--tmp_dir', os.path.join(out, 'tmp')] + list(extra)


def _main(root, out, *extra):
    return train_script.main(['--data_root', root] + _flags(str(out), *extra))


def _names(folder):
    """Every file under ``folder`` (relative), but TensorBoard's, whose names hold a time stamp."""
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, files in os.walk(folder)
                  for f in files if 'tensorboard' not in d)


def _contents(folder):
    return {name: open(os.path.join(folder, name), 'rb').read() for name in _names(folder)}


def _weights(path):
    return list(h5_arrays(path).items())


def _same_weights(a, b):
    first, second = _weights(a), _weights(b)
    assert first and [name for name, _ in first] == [name for name, _ in second], (a, b)
    return all(np.array_equal(x, y) for (_, x), (_, y) in zip(first, second))


def _csv_rows(out):
    with open(os.path.join(out, 'logs', 'training_log.csv')) as f:
        return list(csv.DictReader(f))


def _no_tmp_left(folder):
    return [name for name in _names(folder) + os.listdir(folder) if '.tmp' in name]


def test_both_optimisers_use_keras_2_epsilon():
    assert make_optimizer(False).epsilon == 1e-8
    assert make_optimizer(True).inner_optimizer.epsilon == 1e-8


# ---- the reference's numbering ---------------------------------------------------------------

@pytest.mark.slow
def test_files_follow_the_reference_numbering(synthetic_root, tmp_path):
    out = str(tmp_path)
    train(training_args(synthetic_root, out, '--warp_skip', 'none', '--start_epoch', '2', '--number_of_epochs', '4',
                        '--checkpoint_ratio', '2', '--display_ratio', '3'))
    # epochs 2..5; before e: sheet when (e+1) % 3 == 0, checkpoint when (e+1) % 2 == 0; final: epoch 6
    assert sorted(os.listdir(os.path.join(out, 'samples'))) == ['epoch_002.png', 'epoch_005.png']
    weights = sorted(f for f in os.listdir(os.path.join(out, 'checkpoints')) if f.endswith('.weights.h5'))
    assert weights == ['epoch_%03d_%s.weights.h5' % (e, part) for e in (3, 5, 6)
                       for part in ('discriminator', 'generator')]
    rows = _csv_rows(out)
    assert [row['epoch'] for row in rows] == ['2', '3', '4', '5']
    # validation after the checkpoint epochs 3 and 5; epoch 2 is the first of the run, not epoch 0
    assert [row['epoch'] for row in rows if row.get('val_G_total')] == ['3', '5']
    assert checkpoints.read_pointer(os.path.join(out, 'checkpoints'))['next_epoch'] == 6


@pytest.mark.slow
def test_checkpoint_e_holds_the_weights_after_e_epochs(synthetic_root, tmp_path):
    flags = ('--warp_skip', 'none', '--checkpoint_ratio', '1', '--display_ratio', '100', '--use_validation', '0')
    three = train(training_args(synthetic_root, tmp_path / 'three', *flags, '--number_of_epochs', '3'))
    one = train(training_args(synthetic_root, tmp_path / 'one', *flags, '--number_of_epochs', '1'))
    a, b = str(tmp_path / 'three' / 'checkpoints'), str(tmp_path / 'one' / 'checkpoints')
    name = 'epoch_%03d_generator.weights.h5'
    assert sorted(f for f in os.listdir(a) if f.endswith('generator.weights.h5')) == [name % e for e in range(4)]
    assert _same_weights(os.path.join(a, name % 0), os.path.join(b, name % 0))       # untrained
    assert _same_weights(os.path.join(a, name % 1), os.path.join(b, name % 1))       # after epoch 0
    assert not _same_weights(os.path.join(a, name % 0), os.path.join(a, name % 1))
    for trainer, folder, epochs in ((one, b, 1), (three, a, 3)):   # the final file: the weights in memory
        for kind, model in (('generator', trainer.gan.generator), ('discriminator', trainer.gan.discriminator)):
            saved = [w for _, w in _weights(os.path.join(folder, 'epoch_%03d_%s.weights.h5' % (epochs, kind)))]
            assert sorted(map(np.ndarray.tobytes, saved)) == sorted(v.numpy().tobytes() for v in model.weights)


@pytest.mark.slow
def test_a_resumed_run_ends_where_the_original_would_have(synthetic_root, tmp_path, monkeypatch):
    flags = ('--number_of_epochs', '3', '--checkpoint_ratio', '2', '--display_ratio', '2')
    assert _main(synthetic_root, tmp_path / 'straight', *flags) == 0

    real_epoch = Trainer.train_epoch

    def killed_at_epoch_2(self, epoch, *batches):
        if epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(self, epoch, *batches)
    monkeypatch.setattr(Trainer, 'train_epoch', killed_at_epoch_2)
    assert _main(synthetic_root, tmp_path / 'resumed', *flags) == 130
    monkeypatch.setattr(Trainer, 'train_epoch', real_epoch)
    assert checkpoints.read_pointer(str(tmp_path / 'resumed' / 'checkpoints'))['next_epoch'] == 2
    assert _main(synthetic_root, tmp_path / 'resumed', *flags, '--resume') == 0

    straight, resumed = str(tmp_path / 'straight'), str(tmp_path / 'resumed')
    assert _names(straight) == _names(resumed)
    assert 'checkpoints/epoch_003_generator.weights.h5' in _names(resumed)
    for name in _names(straight):
        if name.endswith('.weights.h5'):
            assert _same_weights(os.path.join(straight, name), os.path.join(resumed, name)), name
    assert [row['epoch'] for row in _csv_rows(resumed)] == ['0', '1', '2']

    # resuming the finished run trains nothing and leaves the same final weights; fewer epochs are refused
    assert _main(synthetic_root, tmp_path / 'resumed', *flags, '--resume') == 0
    assert _same_weights(os.path.join(straight, 'checkpoints', 'epoch_003_generator.weights.h5'),
                         os.path.join(resumed, 'checkpoints', 'epoch_003_generator.weights.h5'))
    assert [row['epoch'] for row in _csv_rows(resumed)] == ['0', '1', '2']
    with pytest.raises(checkpoints.RunError, match='has trained 3 epochs already; give --number_of_epochs 3'):
        checkpoints.check_resume(training_args(synthetic_root, resumed, '--warp_skip', 'none', '--resume',
                                               '--number_of_epochs', '2'), cmd.RUN_FLAGS)


# ---- one run per folder ----------------------------------------------------------------------

@pytest.mark.slow
def test_a_run_is_never_started_over_an_existing_one(synthetic_root, tmp_path, capsys):
    out = str(tmp_path)
    assert _main(synthetic_root, out, '--number_of_epochs', '2', '--checkpoint_ratio', '1') == 0
    before = _contents(out)
    capsys.readouterr()
    assert _main(synthetic_root, out, '--number_of_epochs', '2', '--checkpoint_ratio', '1') == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith('train.py: error: a run is already there, in %s, %s, %s (resume.json, '
                            % tuple(os.path.join(out, d) for d in ('checkpoints', 'logs', 'samples')))
    assert '--resume' in error and '--overwrite' in error and 'resume.json' in error
    assert _contents(out) == before

    with open(os.path.join(out, 'checkpoints', 'notes.txt'), 'w') as f:
        f.write('mine')
    assert _main(synthetic_root, out, '--number_of_epochs', '1', '--checkpoint_ratio', '1', '--overwrite') == 0
    assert 'checkpoints/epoch_002_generator.weights.h5' not in _names(out)     # the old run's files are gone
    assert 'samples/epoch_001.png' not in _names(out)
    assert [row['epoch'] for row in _csv_rows(out)] == ['0']
    assert len(os.listdir(os.path.join(out, 'logs', 'tensorboard'))) == 1
    assert json.load(open(os.path.join(out, 'checkpoints', 'options.json')))['number_of_epochs'] == 1
    assert open(os.path.join(out, 'checkpoints', 'notes.txt')).read() == 'mine'   # not a file of the run


@pytest.mark.slow
def test_two_runs_started_at_once_in_one_folder(synthetic_root, tmp_path):
    """One trains; the other stops at once, naming the folder and the process that holds it."""
    out = str(tmp_path)
    command = [sys.executable, 'train.py', '--data_root', synthetic_root] + _flags(out)
    with subprocesses.Processes(str(tmp_path)) as running:
        processes = [running.start('run%d' % i, command, 300) for i in range(2)]
        codes = [running.wait(process) for process in processes]
        outputs = [running.output(process) for process in processes]
    assert sorted(codes) == [0, 1], outputs
    winner, loser = processes[codes.index(0)], codes.index(1)
    checkpoints_dir = os.path.join(out, 'checkpoints')
    assert outputs[loser].strip().splitlines()[-1] == (
        'train.py: error: %s is in use by another run (process %d on %s holds run.lock): wait for it to end, or '
        'choose another --checkpoints_dir' % (checkpoints_dir, winner.pid, os.uname().nodename))
    assert checkpoints.read_pointer(checkpoints_dir)['next_epoch'] == 1
    assert not os.path.exists(os.path.join(checkpoints_dir, 'run.lock'))     # released when the run ended


def test_a_folder_flag_naming_a_file_is_refused(synthetic_root, tmp_path, capsys):
    with open(os.path.join(str(tmp_path), 'logs'), 'w') as f:
        f.write('mine')
    assert _main(synthetic_root, tmp_path) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        'train.py: error: --log_dir %s is a file, not a folder: give a folder (it is made if missing)'
        % os.path.join(str(tmp_path), 'logs'))
    assert os.listdir(str(tmp_path)) == ['logs']


def test_what_a_failed_start_left_is_replaced_without_asking(tmp_path):
    args = training_args_like(tmp_path)
    os.makedirs(args.checkpoints_dir)
    open(os.path.join(args.checkpoints_dir, 'options.json'), 'w').write('{}')
    assert checkpoints.prepare_run_folders(args, cmd.RUN_FLAGS) is None
    assert not os.path.exists(os.path.join(args.checkpoints_dir, 'options.json'))


def test_overwrite_never_deletes_the_weights_the_run_starts_from(tmp_path):
    args = training_args_like(tmp_path, overwrite=True, start_epoch=30)
    os.makedirs(args.checkpoints_dir)
    args.generator_checkpoint = os.path.join(args.checkpoints_dir, 'epoch_029_generator.weights.h5')
    open(args.generator_checkpoint, 'wb').close()
    with pytest.raises(checkpoints.RunError, match='epoch_029_generator.weights.h5 is to be read'):
        checkpoints.prepare_run_folders(args, cmd.RUN_FLAGS)
    assert os.path.exists(args.generator_checkpoint)


def training_args_like(out, **changes):
    """Flags without a dataset check: for the folder logic alone."""
    import cmd
    args = cmd.train_parser().parse_args(_flags(str(out)))
    vars(args).update(changes)
    return args


def test_resume_and_overwrite_together_are_refused(synthetic_root, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        _main(synthetic_root, tmp_path, '--resume', '--overwrite')
    assert stop.value.code == 2 and 'give one of them' in capsys.readouterr().err


def test_resume_without_a_run_says_so(synthetic_root, tmp_path, capsys):
    assert _main(synthetic_root, tmp_path, '--resume') == 1
    assert 'no resume.json in %s' % os.path.join(str(tmp_path), 'checkpoints') in capsys.readouterr().err
    assert not os.path.exists(os.path.join(str(tmp_path), 'checkpoints', 'options.json'))


def test_resume_with_a_damaged_resume_json_names_it(synthetic_root, tmp_path, capsys):
    checkpoints_dir = os.path.join(str(tmp_path), 'checkpoints')
    os.makedirs(checkpoints_dir)
    with open(os.path.join(checkpoints_dir, 'resume.json'), 'w') as f:
        f.write('{"run": {"seed"')
    assert _main(synthetic_root, tmp_path, '--resume') == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith('train.py: error: %s is damaged (' % os.path.join(checkpoints_dir, 'resume.json'))
    assert error.endswith('): restore it, or start the run over with --overwrite')
    assert sorted(os.listdir(checkpoints_dir)) == ['resume.json']


def test_resume_of_a_run_stopped_in_its_first_epoch_says_so(synthetic_root, tmp_path, capsys):
    checkpoints_dir = os.path.join(str(tmp_path), 'checkpoints')
    os.makedirs(checkpoints_dir)
    with open(os.path.join(checkpoints_dir, 'resume.json'), 'w') as f:   # declared, no epoch saved
        f.write('{"run": {}}')
    assert _main(synthetic_root, tmp_path, '--resume') == 1
    assert ('the run in %s stopped before it saved an epoch (nothing in %s): start it over with --overwrite'
            % (checkpoints_dir, os.path.join(checkpoints_dir, 'resume'))) in capsys.readouterr().err
    assert sorted(os.listdir(checkpoints_dir)) == ['resume.json']


@pytest.mark.slow
def test_resume_refuses_flags_of_another_run(synthetic_root, tmp_path, capsys):
    out = str(tmp_path)
    assert _main(synthetic_root, out) == 0
    before = _contents(out)
    capsys.readouterr()
    assert _main(synthetic_root, out, '--resume', '--batch_size', '1', '--warp_skip', 'mask',
                 '--width_factor', '0.125', '--number_of_epochs', '3', '--display_ratio', '2') == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert 'flags that define the run differ' in error and 'Traceback' not in error
    for difference in ('--warp_skip saved none, given mask', '--batch_size saved 2, given 1',
                       '--width_factor saved 0.0625, given 0.125'):
        assert difference in error
    assert 'number_of_epochs' not in error and 'display_ratio' not in error
    assert _contents(out) == before          # options.json included
    assert _main(synthetic_root, out, '--resume', '--number_of_epochs', '2', '--display_ratio', '2') == 0
    assert json.load(open(os.path.join(out, 'checkpoints', 'options.json')))['number_of_epochs'] == 2


def test_every_flag_is_either_run_defining_or_free():
    import cmd
    free = {'data_root', 'tmp_dir', 'output_dir', 'number_of_epochs', 'checkpoints_dir',
            'checkpoint_ratio', 'generator_checkpoint', 'discriminator_checkpoint', 'use_validation',
            'display_ratio', 'pose_estimator', 'images_for_test', 'cache_pose_rep', 'generated_images_dir',
            'load_generated_images', 'use_dropout_test', 'resume', 'overwrite', 'log_dir', 'distribute',
            'vgg_weights', 'inception_weights', 'inception_graph', 'data_workers', 'save_every_steps',
            'lpips_weights', 'pckh', 'tf32'}
    flags = set(vars(cmd.train_parser().parse_args([])))
    assert set(cmd.RUN_FLAGS) <= flags
    unclassified = flags - set(cmd.RUN_FLAGS) - free
    assert not unclassified, ('add %s to cmd.RUN_FLAGS if --resume must keep it, else to this '
                              'test' % ', '.join(sorted(unclassified)))


# ---- the data, checked at start --------------------------------------------------------------

@pytest.mark.parametrize('split', ['train', 'test'])
def test_an_empty_pairs_file_is_refused_at_start(synthetic_root, tmp_path, capsys, split):
    root = str(tmp_path / 'data')
    os.makedirs(root)
    for entry in os.listdir(synthetic_root):
        source = os.path.join(synthetic_root, entry)
        if entry.endswith('.csv'):
            shutil.copy(source, root)
        else:
            os.symlink(source, os.path.join(root, entry))
    empty = os.path.join(root, 'synthetic-pairs-%s.csv' % split)
    with open(empty, 'w') as f:
        f.write('from,to\n')
    with pytest.raises(SystemExit) as stop:
        train_script.main(['--data_root', root] + _flags(str(tmp_path / 'run')))
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(   # argparse names the program
        ': error: %s holds no pairs: training needs training and test pairs (see README, "Datasets")'
        % empty)
    assert not os.path.exists(tmp_path / 'run')


# ---- a full disk -----------------------------------------------------------------------------

def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.slow
def test_a_full_disk_while_saving_the_resume_state(synthetic_root, tmp_path, capsys, monkeypatch):
    real_write = checkpoints._write_state

    def write(path, *args):
        if os.path.basename(path).startswith('state-epoch2-step0.h5'):   # half of it is on disk when it fills up
            open(path, 'wb').write(b'partial')
            _disk_full()
        return real_write(path, *args)
    monkeypatch.setattr(checkpoints, '_write_state', write)
    out = str(tmp_path)
    assert _main(synthetic_root, out, '--number_of_epochs', '2', '--use_validation', '0') == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    state = os.path.join(out, 'checkpoints', 'resume', 'state-epoch2-step0.h5')
    assert error == ('train.py: error: could not write %s (No space left on device): free some space on that disk, '
                     'then continue the run with --resume; the last complete checkpoint is kept' % state)
    assert not _no_tmp_left(out)
    assert sorted(os.listdir(os.path.dirname(state))) == ['latest.json', 'state-epoch1-step0.h5']
    monkeypatch.setattr(checkpoints, '_write_state', real_write)
    args = training_args(synthetic_root, out, '--warp_skip', 'none', '--number_of_epochs', '2', '--resume')
    gan = make_gan(args)
    variables = checkpoints.resume_variables(gan.generator, gan.discriminator, gan.g_optimizer, gan.d_optimizer)
    assert checkpoints.restore_resume_state(variables, args.checkpoints_dir)['next_epoch'] == 1


@pytest.mark.slow
def test_a_full_disk_while_saving_weights(synthetic_root, tmp_path, capsys, monkeypatch):
    import keras

    def save_weights(self, path, *args, **kwargs):
        open(path, 'wb').write(b'partial')
        _disk_full()
    monkeypatch.setattr(keras.Model, 'save_weights', save_weights)
    out = str(tmp_path)
    assert _main(synthetic_root, out, '--checkpoint_ratio', '1', '--use_validation', '0') == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith('train.py: error: could not write %s (No space left on device): free some space'
                            % os.path.join(out, 'checkpoints', 'epoch_000_generator.weights.h5'))
    assert not _no_tmp_left(out)


def test_a_full_disk_while_writing_a_log_leaves_no_temporary_file(tmp_path, monkeypatch):
    monkeypatch.setattr(run_log.os, 'replace', _disk_full)
    path = str(tmp_path / 'epoch_000.png')
    with pytest.raises(checkpoints.RunError, match='could not write .*epoch_000.png'):
        run_log.save_png(path, np.zeros((4, 4, 3), np.uint8))
    assert os.listdir(tmp_path) == []


# ---- what a person reads ---------------------------------------------------------------------

def test_loss_curves_show_losses_against_whole_epochs():
    rows = [{'epoch': str(e), 'G_total': str(1.0 / (e + 1)), 'seconds': '12.5', 'val_G_total': '2' if e else ''}
            for e in range(3)]
    figure = run_log.curves_figure(rows)
    assert sorted(axis.get_title() for axis in figure.axes) == ['G_total', 'val_G_total']
    figure.canvas.draw()
    for axis in figure.axes:
        ticks = [t for t in axis.get_xticks() if axis.get_xlim()[0] <= t <= axis.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)


@pytest.mark.parametrize('given, seen', [(None, '3'), ('0', '0')])
def test_train_py_keeps_tensorflow_cuda_noise_out_unless_asked(given, seen):
    env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
    if given is not None:
        env['TF_CPP_MIN_LOG_LEVEL'] = given
    result = subprocesses.run([sys.executable, '-c', 'import train, os; print(os.environ["TF_CPP_MIN_LOG_LEVEL"])'],
                              60, env=env)
    assert result.stdout.strip() == seen, result.stderr


def test_building_the_synthetic_dataset_shows_progress(tmp_path, capsys):
    from data import make_synthetic_dataset
    assert make_synthetic_dataset.main(['--data_root', str(tmp_path), '--train_identities', '2',
                                        '--test_identities', '2', '--images_per_identity', '2',
                                        '--test_pairs', '2']) == 0
    progress = capsys.readouterr().err
    assert 'building synthetic' in progress and '4/4' in progress
