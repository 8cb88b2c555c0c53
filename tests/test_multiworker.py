"""Multi-worker training with real workers: two train.py processes on this machine, each with
its own TF_CONFIG naming loopback ports (127.0.0.1) and one CPU thread, as in README, "Several
machines".

- the weights after N steps equal those of one process training with the same global batch;
- only the chief writes: the other worker is given its own --output_dir / --log_dir, which must stay
  absent, and the checkpoint folder holds what one process writes;
- --resume of a multi-worker run continues as the run would have (weights, Adam states, data order),
  with as many workers (after a kill, below) or another number: two workers that stop after the first
  epoch and one process that resumes for the second end as the one process of both epochs does;
- a worker killed mid-run stops the other one within a bounded time with a clear message, the last
  checkpoint stays loadable, and a restart with --resume continues.

Every process runs in a process group of its own with a time limit (tests/subprocesses.py, scaled by
TEST_TIMEOUT_SCALE) and is killed at the end whatever happens. The two-worker epoch and the resumed one
are compared with one single-process run (a global batch of 6, two epochs). The weight
comparisons turn dropout off (``NO_DROPOUT``), as tests/test_distribute.py does:
every replica draws its dropout masks from the same seed, so with dropout on the masks of a half batch
differ from those of the same rows in one process.
"""
import csv
import json
import os
import sys
import time

import numpy as np
import pytest

from gan import checkpoints
from tests.h5_arrays import h5_arrays
from tests.subprocesses import ROOT, Processes, free_ports

# Seconds (before TEST_TIMEOUT_SCALE) one train.py process may take: each takes 15-100 s here (2-core AMD
# EPYC), depending on how many others run beside it.
LIMIT = 600
# Seconds the chief may take to stop once its worker is killed (about 10 s here: the heartbeat).
STOP_LIMIT = 100
BATCH = '6'             # the global batch: 3 rows per worker of two
# train.py with dropout off, so that a multi-worker step is the one-process step to float32 rounding.
NO_DROPOUT = ('import sys, keras; keras.layers.Dropout.call = lambda self, inputs, training=False: inputs; '
              'sys.argv[0] = "train.py"; import train; sys.exit(train.main())')


def tf_configs(count):
    """The TF_CONFIG of each of ``count`` workers on the loopback address (worker 0 is the chief)."""
    cluster = {'worker': ['127.0.0.1:%d' % port for port in free_ports(count)]}
    return [json.dumps({'cluster': cluster, 'task': {'type': 'worker', 'index': i}}) for i in range(count)]


def flags(data, out, *extra, checkpoints=None):
    return ['--dataset', 'synthetic', '--data_root', data, '--width_factor', '0.0625', '--warp_skip', 'mask',
            '--batch_size', BATCH, '--batches_per_epoch', '2', '--number_of_epochs', '1', '--checkpoint_ratio', '1',
            '--output_dir', os.path.join(out, 'samples'), '--log_dir', os.path.join(out, 'logs'),
            '--checkpoints_dir', checkpoints or os.path.join(out, 'checkpoints'),
            '--tmp_dir', os.path.join(out, 'tmp')] + list(extra)


def start(processes, name, argv, tf_config=None, no_dropout=False):
    """train.py (``no_dropout``: with dropout off) with one CPU thread and ``tf_config``, as ``name``."""
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS='1', TF_NUM_INTEROP_THREADS='1', OMP_NUM_THREADS='1',
               TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=ROOT)
    env.pop('TF_CONFIG', None)
    if tf_config:
        env['TF_CONFIG'] = tf_config
    command = [sys.executable] + (['-c', NO_DROPOUT] if no_dropout else ['train.py']) + argv
    return processes.start(name, command, LIMIT, env=env)


def start_workers(processes, data, out, count, *extra, tag='w', no_dropout=True):
    """``count`` workers of one run: the chief writes to ``out``, the others get their own output and
    log folders (which must stay absent) and the shared checkpoint folder."""
    configs = tf_configs(count)
    checkpoints = os.path.join(out, 'checkpoints')
    return [start(processes, '%s%d' % (tag, i), flags(data, out if i == 0 else os.path.join(out, 'worker%d' % i),
                                                      *extra, checkpoints=checkpoints),
                  tf_config=configs[i], no_dropout=no_dropout)
            for i in range(count)]


def weights(path):
    return h5_arrays(path)


def resume_state(checkpoints_dir):
    """The resume state file that --resume in ``checkpoints_dir`` would continue from."""
    return os.path.join(checkpoints_dir, checkpoints.read_pointer(checkpoints_dir)['state'])


def differences(a, b):
    """|a - b| of every array of two HDF5 files (weight files or resume states), which must hold the
    same arrays, as one flat float64 vector."""
    wa, wb = weights(a), weights(b)
    assert wa and sorted(wa) == sorted(wb)
    pairs = [(wa[name], wb[name]) for name in wa]
    return np.concatenate([np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)).ravel() for x, y in pairs])


def files(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, names in os.walk(folder) for f in names
                  if 'tensorboard' not in d)


def losses(out):
    with open(os.path.join(out, 'logs', 'training_log.csv')) as f:
        return [{k: float(v) for k, v in row.items() if k not in ('epoch', 'seconds')} for row in csv.DictReader(f)]


def check_same_as_one_process(out, single, epochs, workers):
    """The weights after each epoch, the Adam states and the losses of the run in ``out`` are those of
    one process (``single``) to float32 rounding; the chief wrote what one process writes, the other
    workers nothing.

    Float32 rounding here: Adam divides each gradient by its running RMS, so a gradient element that is
    rounding noise (deep layers of this tiny generator) moves its weight by up to a learning rate
    (2e-4) whatever its size. The same one-process run with oneDNN kernels on and off differs by as
    much (after 2 steps: 859 of 240,465 generator weights by more than 1e-6, 10 by more than 1e-5, at
    most 1.9e-4; the discriminator by at most 3e-6), so that is the bound checked."""
    for epoch in range(1, epochs + 1):
        for net in ('generator', 'discriminator'):
            name = 'epoch_%03d_%s.weights.h5' % (epoch, net)
            d = differences(os.path.join(out, 'checkpoints', name), os.path.join(single, 'checkpoints', name))
            print('%d workers vs one process, %s: max |difference| %.3g; %d of %d weights differ by more than '
                  '1e-6, %d by more than 1e-5' % (workers, name, d.max(), (d > 1e-6).sum(), d.size, (d > 1e-5).sum()))
            assert d.max() < (1e-5 if net == 'discriminator' else 1e-3), (name, d.max())
            assert (d > 1e-5).mean() < 0.01, (name, (d > 1e-5).sum())
    for row, one_row in zip(losses(out), losses(single)):
        for name, value in one_row.items():
            assert abs(row[name] - value) <= 1e-3 * max(1.0, abs(value)), (name, row[name], value)
    assert len(losses(out)) == len(losses(single)) == epochs
    assert files(os.path.join(out, 'checkpoints')) == files(os.path.join(single, 'checkpoints'))
    assert files(os.path.join(out, 'samples')) == files(os.path.join(single, 'samples'))
    for i in range(1, workers):   # the non-chief workers wrote nothing
        assert not os.path.exists(os.path.join(out, 'worker%d' % i)), files(os.path.join(out, 'worker%d' % i))


@pytest.fixture(scope='module')
def one_process(synthetic_root, tmp_path_factory):
    """One process training two epochs with dropout off, started beside the first test that asks for
    it: the run that the two-worker run, resumed by one process, must equal. Calling it waits for it to finish and
    gives its folder."""
    folder = tmp_path_factory.mktemp('one-process')
    out = str(folder / 'one')
    with Processes(str(folder)) as processes:
        process = start(processes, 'one', flags(synthetic_root, out, '--number_of_epochs', '2'), no_dropout=True)

        def finished():
            processes.finish(process)
            return out
        yield finished


@pytest.mark.slow
def test_two_workers_stopped_and_one_process_resumed_train_as_one_process(synthetic_root, one_process, tmp_path):
    out = str(tmp_path / 'run')
    with Processes(str(tmp_path)) as processes:
        # Beside the one process (one_process): two workers train the first epoch and stop ...
        processes.finish(*start_workers(processes, synthetic_root, out, 2, tag='first'))
        assert checkpoints.read_pointer(os.path.join(out, 'checkpoints'))['next_epoch'] == 1
        # ... and one process resumes for the second: the global batch, not the number of workers,
        # defines the run.
        second = start(processes, 'second', flags(synthetic_root, out, '--number_of_epochs', '2', '--resume'),
                       no_dropout=True)
        processes.finish(second)
        assert 'resumed from' in processes.output(second)
    # The weights after each epoch (two workers, then one process) and the Adam states after the
    # second are the one process's: the resumed run continued with the weights, Adam states and data
    # order it stopped with.
    check_same_as_one_process(out, one_process(), 2, 2)
    d = differences(resume_state(os.path.join(out, 'checkpoints')),
                    resume_state(os.path.join(one_process(), 'checkpoints')))
    print('two workers, then one process resumed, vs one process, resume state: max |difference| %.3g' % d.max())
    assert d.max() < 1e-3 and (d > 1e-5).mean() < 0.01


@pytest.mark.slow
def test_a_killed_worker_stops_the_others_and_resume_continues(synthetic_root, tmp_path):
    out = str(tmp_path / 'run')
    directory = os.path.join(out, 'checkpoints')
    with Processes(str(tmp_path)) as processes:
        chief, worker = start_workers(processes, synthetic_root, out, 2, '--number_of_epochs', '100',
                                      '--use_validation', '0', no_dropout=False)
        processes.wait_until(lambda: (checkpoints.read_pointer(directory) or {}).get('next_epoch', 0) >= 2, LIMIT,
                             'two epochs checkpointed', chief, worker)
        processes.kill(worker)
        killed = time.monotonic()
        status = processes.wait(chief, STOP_LIMIT)
        stopped_after = time.monotonic() - killed
        output = processes.output(chief)
        print('the chief stopped %.1f s after its worker was killed, exit status %d: %s'
              % (stopped_after, status, output.strip().splitlines()[-1]))
        assert status == 1, output[-3000:]
        assert 'another worker of this multi-worker run stopped' in output and '--resume' in output
        assert weights(resume_state(directory))   # the last state loads
        trained = checkpoints.read_pointer(directory)['next_epoch']
        weights(os.path.join(out, 'checkpoints', 'epoch_%03d_generator.weights.h5' % (trained - 1)))
        restarted = start_workers(processes, synthetic_root, out, 2, '--number_of_epochs', str(trained + 1),
                                  '--use_validation', '0', '--resume', tag='resumed', no_dropout=False)
        processes.finish(*restarted)
        assert checkpoints.read_pointer(directory)['next_epoch'] == trained + 1
        assert 'resumed from' in processes.output(restarted[0])


# ---- test.py in shards -----------------------------------------------------------------------

def test_sharded_evaluation_writes_what_one_process_writes(tmp_path, monkeypatch, capsys):
    import test as test_script
    from test_inception import write_fake_2015_graph
    from tests.test_test_script import WIDTH, make_dataset_and_checkpoint
    checkpoint = make_dataset_and_checkpoint(tmp_path)
    graph = str(tmp_path / 'graph.pb')
    write_fake_2015_graph(graph)
    monkeypatch.setattr(test_script, 'SCORING_BLOCK', 2)   # shards of 4 and 2 pairs (batches of 2)

    def run(folder, *extra):
        return test_script.main(['--data_root', str(tmp_path / 'data'), '--dataset', 'synthetic', '--warp_skip', 'mask',
                                 '--width_factor', WIDTH, '--generator_checkpoint', checkpoint, '--inception_graph',
                                 graph, '--generated_images_dir', str(tmp_path / folder), '--batch_size', '2']
                                + list(extra))

    whole = run('whole')
    for index in range(2):
        assert run('sharded', '--shard', '%d/2' % index)['scores'] is None
    with pytest.raises(SystemExit):   # one or the other
        run('sharded', '--shard', '0/2', '--merge_shards', '2')
    assert 'give one of them' in capsys.readouterr().err
    merged = run('sharded', '--merge_shards', '2')
    pngs = sorted(name for name in os.listdir(tmp_path / 'whole') if name.endswith('.png'))
    assert len(pngs) == whole['pairs'] == 6
    assert pngs == sorted(name for name in os.listdir(tmp_path / 'sharded') if name.endswith('.png'))
    for name in pngs:
        assert (tmp_path / 'whole' / name).read_bytes() == (tmp_path / 'sharded' / name).read_bytes(), name
    saved = [json.loads((tmp_path / folder / 'scores.json').read_text()) for folder in ('whole', 'sharded')]
    for report in saved + [whole, merged]:
        for name in ('seconds', 'scoring_seconds', 'generated_images_dir'):
            report.pop(name, None)
            report['test_flags'].pop(name, None)
    assert saved[0]['scores']['inception_splits'] == 6 and len(saved[0]['scores']['inception_score']) == 2
    assert saved[1] == saved[0]   # IS over 6 splits of all 6 images, and FID, not means of shard scores
    # a missing shard is named
    os.remove(tmp_path / 'sharded' / 'scores.shard-1-of-2.npz')
    with pytest.raises(FileNotFoundError, match='--shard 1/2 first'):
        run('sharded', '--merge_shards', '2')
