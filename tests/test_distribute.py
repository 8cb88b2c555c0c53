"""tf.distribute: one step on two replicas (two logical CPUs) equals one step on one device with the
same global batch. Logical devices must be set before TensorFlow makes any tensor, so the
comparison runs in a fresh Python process."""
import sys
import textwrap

from tests import subprocesses
from tests.subprocesses import ROOT

TWO_REPLICAS = textwrap.dedent('''
    import sys
    sys.path.insert(0, {root!r})
    import cmd
    import tensorflow as tf
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np
    from gan.engines.tensorflow_engine import Engine
    from gan.trainer import Trainer
    from pose_training import make_gan
    from pose_dataset import PoseHMDataset
    from tests.fixtures_data import training_args

    def value_of(variable):   # a plain or a mirrored variable's value
        return np.array(variable.value.read_value() if hasattr(variable.value, 'read_value') else variable)

    def one_step(strategy, out):
        args = training_args({data!r}, out, '--warp_skip', 'mask', '--batch_size', '4')
        engine = Engine(strategy=strategy)
        gan = make_gan(args, engine)
        for model in (gan.generator, gan.discriminator):   # a deterministic step: dropout off
            for layer in model.layers:
                if isinstance(layer, keras.layers.Dropout):
                    layer.rate = 0.0
        trainer = Trainer(gan, PoseHMDataset.from_args(args), args, engine)
        batches = engine.training_batches(trainer.dataset, 0, 3)
        d_values = engine.discriminator_step(next(batches), next(batches))
        g_values = engine.generator_step(next(batches))
        weights = [value_of(v) for v in gan.generator.trainable_variables + gan.discriminator.trainable_variables]
        values = {{k: float(v) for k, v in dict(d_values, **g_values).items()}}
        # Adam's moments scale with the gradients (its first step hardly does): a wrong reduction over
        # the replicas (a sum for a mean) shows there.
        slots = {{}}
        for net, optimizer in (('g', gan.g_optimizer), ('d', gan.d_optimizer)):
            for kind in ('momentum', 'velocity'):
                slots[net + '_' + kind] = np.concatenate([value_of(v).ravel() for v in optimizer.variables
                                                          if v.name.endswith(kind)])
        return strategy.num_replicas_in_sync, weights, values, slots

    replicas, mirrored, mirrored_values, mirrored_slots = one_step(
        tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1']), {out!r} + '/m')
    single_replicas, single, single_values, single_slots = one_step(tf.distribute.get_strategy(), {out!r} + '/s')
    print('replicas', replicas, single_replicas)
    assert len(mirrored) == len(single) > 0
    weight_error = max(float(np.abs(a - b).max()) for a, b in zip(mirrored, single))
    for kind, slots in single_slots.items():   # relative L2 over all the slots of a kind
        assert slots.size == mirrored_slots[kind].size > 1000 and np.linalg.norm(slots) > 0, kind
        print('slot_error_' + kind, np.linalg.norm(mirrored_slots[kind] - slots) / np.linalg.norm(slots))
    loss_error = max(abs(mirrored_values[k] - single_values[k]) / max(1.0, abs(single_values[k]))
                     for k in single_values)
    print('weight_error', weight_error)
    print('loss_error', loss_error)
    print('values', sorted(single_values.items()))
''')


def test_two_replicas_take_the_same_step_as_one_device(synthetic_root, tmp_path):
    script = tmp_path / 'two_replicas.py'
    script.write_text(TWO_REPLICAS.format(root=ROOT, data=synthetic_root, out=str(tmp_path)))
    result = subprocesses.run([sys.executable, str(script)], 600)
    assert result.returncode == 0, result.stderr[-4000:]
    lines = dict(line.split(' ', 1) for line in result.stdout.splitlines() if ' ' in line)
    assert lines['replicas'] == '2 1'
    assert float(lines['weight_error']) < 1e-5, result.stdout
    for kind in ('g_momentum', 'g_velocity', 'd_momentum', 'd_velocity'):
        assert float(lines['slot_error_' + kind]) < 1e-4, result.stdout
    assert float(lines['loss_error']) < 1e-5, result.stdout


class _Replicas:
    def __init__(self, count):
        self.num_replicas_in_sync = count


def test_the_batch_is_global_and_must_divide_by_the_replicas():
    import pytest
    from gan import distribute
    distribute.check_batch(_Replicas(4), 8)   # 2 pairs per replica
    with pytest.raises(ValueError, match=r'--batch_size 6 is the global batch and must be a multiple of the 4 '
                                         r'replicas .*e\.g\. 4'):
        distribute.check_batch(_Replicas(4), 6)


def test_the_chief_is_the_only_writer(monkeypatch):
    from gan import distribute
    monkeypatch.delenv('TF_CONFIG', raising=False)
    assert distribute.is_chief() and distribute.number_of_workers() == 1
    cluster = {'worker': ['localhost:1', 'localhost:2']}
    for index, chief in ((0, True), (1, False)):
        monkeypatch.setenv('TF_CONFIG', '{"cluster": %s, "task": {"type": "worker", "index": %d}}'
                           % (str(cluster).replace("'", '"'), index))
        assert distribute.is_chief() == chief and distribute.number_of_workers() == 2
    monkeypatch.setenv('TF_CONFIG', '{"cluster": {}}')
    import pytest
    with pytest.raises(distribute.RunError, match='TF_CONFIG must be JSON'):
        distribute.is_chief()
