"""One D update then one G update on the Keras backend of KERAS_BACKEND, written to a .npz for
tests/test_backends.py to compare between backends (each backend runs in its own process).

    python tests/backend_step.py SYNTHETIC_ROOT OUT_DIR SHARED_DIR [train.py flags ...]

SHARED_DIR holds the starting weights and the three batches: the first process to run writes them
(the networks of --seed, the first three batches of the training stream), later ones read them, so
every backend starts from the same weights and batches. Dropout is off (rate 0): each backend draws
its own random masks. Writes OUT_DIR/step.npz: the loss terms, the gradients of both networks at the
starting weights, and every weight and Adam slot after the two updates.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cmd  # noqa: E402,F401  (first: see cmd.py)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import weight_files  # noqa: E402
from gan import engines  # noqa: E402
from gan.checkpoints import save_weights  # noqa: E402
from pose_training import make_gan  # noqa: E402
from tests.fixtures_data import training_args  # noqa: E402


def main(root, out, shared, *flags):
    args = training_args(root, out, *flags)
    engine = engines.make_engine(args.distribute, args.batch_size)
    gan = make_gan(args, engine)
    for layer in gan.generator.layers + gan.discriminator.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    weights = {name: os.path.join(shared, name + '.weights.h5') for name in ('generator', 'discriminator')}
    batches_file = os.path.join(shared, 'batches.npz')
    if not os.path.exists(batches_file):
        from pose_dataset import PoseHMDataset
        stream = PoseHMDataset.from_args(args).train_batches(0, 3)
        batches = [next(stream) for _ in range(3)]
        stream.close()
        np.savez(batches_file, **{'%d/%s' % (i, k): v for i, batch in enumerate(batches) for k, v in batch.items()})
        save_weights(gan.generator, weights['generator'])
        save_weights(gan.discriminator, weights['discriminator'])
    weight_files.load_weights(gan.generator, weights['generator'])
    weight_files.load_weights(gan.discriminator, weights['discriminator'])
    stored = np.load(batches_file)
    real, fake, batch = ({k.split('/', 1)[1]: stored[k] for k in stored.files if k.startswith('%d/' % i)}
                         for i in range(3))
    engine.compile(gan)
    result = {'d_gradient/%03d' % i: g for i, g in enumerate(engine.discriminator_gradients(real, fake))}
    result.update({'g_gradient/%03d' % i: g for i, g in enumerate(engine.generator_gradients(batch))})
    values = dict(engine.discriminator_step(real, fake), **engine.generator_step(batch))
    result.update({'loss/' + name: np.float64(value) for name, value in values.items()})
    engine.sync_variables()
    for group, variables in (('generator', gan.generator.variables), ('discriminator', gan.discriminator.variables),
                             ('g_optimizer', gan.g_optimizer.variables), ('d_optimizer', gan.d_optimizer.variables)):
        for i, variable in enumerate(variables):
            result['%s/%03d' % (group, i)] = keras.ops.convert_to_numpy(variable)
    np.savez(os.path.join(out, 'step.npz'), **result)


if __name__ == '__main__':
    main(*sys.argv[1:])
