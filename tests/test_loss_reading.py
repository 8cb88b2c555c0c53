"""The order in which gan/trainer.py starts updates and reads their losses: each update's losses once
the next update has started (a GPU computes meanwhile), every update read before a state is saved
or the epoch ends, and a non-finite loss stops the run before anything after it is saved. A recording
engine stands in for the real ones (whose losses tests/test_training_run.py and the backend tests
check)."""
import argparse
import math

import pytest

from gan.trainer import NonFiniteLossError, Trainer


class RecordingEngine:
    """Starts 'updates' whose losses are numbered; records every start and read in ``events``."""
    is_chief = True
    multi_worker = False

    def __init__(self, events, bad=None):
        self.events, self.bad, self.count = events, bad, 0

    def compile(self, gan):
        return self

    def _start(self, name):
        self.count += 1
        self.events.append('start %s%d' % (name, self.count))
        return {'%s_total' % name: (name, self.count)}

    def start_discriminator_step(self, real_batch, fake_batch):
        return self._start('D')

    def start_generator_step(self, batch):
        return self._start('G')

    def read_losses(self, values):
        (term, (name, number)), = values.items()
        self.events.append('read %s%d' % (name, number))
        return {term: math.nan if number == self.bad else float(number)}


def trainer(tmp_path, engine, **flags):
    args = argparse.Namespace(distribute='none', batch_size=2, training_ratio=1, log_dir=str(tmp_path / 'logs'),
                              start_epoch=0, number_of_epochs=1, batches_per_epoch=3, save_every_steps=0,
                              checkpoints_dir=str(tmp_path / 'checkpoints'))
    vars(args).update(flags)
    result = Trainer(gan=None, dataset=None, args=args, engine=engine)
    result.save_state = lambda epoch, step: engine.events.append('save %d.%d' % (epoch, step))
    return result


def test_each_update_is_read_after_the_next_has_started(tmp_path):
    events = []
    means = trainer(tmp_path, RecordingEngine(events)).train_epoch(0, batches=iter(range(100)))
    assert events == ['start D1', 'start G2', 'read D1', 'start D3', 'read G2', 'start G4', 'read D3',
                      'start D5', 'read G4', 'start G6', 'read D5', 'read G6']
    assert means == {'D_total': 3.0, 'G_total': 4.0}   # (1 + 3 + 5) / 3, (2 + 4 + 6) / 3


def test_everything_is_read_before_a_state_is_saved(tmp_path):
    events = []
    trainer(tmp_path, RecordingEngine(events), save_every_steps=2, training_ratio=2).train_epoch(
        0, batches=iter(range(100)))
    saved = events.index('save 0.2')
    assert events[saved - 2:saved + 2] == ['read D5', 'read G6', 'save 0.2', 'start D7']
    assert [event for event in events[:saved] if event.startswith('start')] == [
        'start %s%d' % (name, n) for n, name in enumerate('DDGDDG', start=1)]


@pytest.mark.parametrize('bad, update', [(3, 'discriminator'), (4, 'generator')])
def test_a_nan_stops_the_run_before_the_state_after_it_is_saved(tmp_path, bad, update):
    events = []
    with pytest.raises(NonFiniteLossError, match=r'is nan at epoch 0, step %d \(%s update\)' % ((bad - 1) // 2, update)):
        trainer(tmp_path, RecordingEngine(events, bad=bad), save_every_steps=2).train_epoch(
            0, batches=iter(range(100)))
    assert not [event for event in events if event.startswith('save')]
    assert events[-1] == 'read %s%d' % ('GD'[bad % 2], bad)
