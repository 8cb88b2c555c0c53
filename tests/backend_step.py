"""Two training steps (each one D update then one G update) on the Keras backend of KERAS_BACKEND,
written to .npz files for tests/test_backends.py to compare between backends (each backend runs in
its own process).

    python tests/backend_step.py SYNTHETIC_ROOT OUT_DIR SHARED_DIR [--restore STATE_DIR | --steps_only] [train.py flags ...]

SHARED_DIR holds the starting weights and six batches: the first process to run writes them (the
networks of --seed, the first six batches of the training stream), later ones read them, so every
backend starts from the same weights and batches. Dropout is off (rate 0): each backend draws its own
random masks. Writes OUT_DIR/step1.npz (the loss terms of step 1, the gradients of both networks at
the starting weights, every weight and Adam slot after it), the resume state after step 1 in
OUT_DIR/checkpoints (gan/checkpoints.py), and OUT_DIR/step2.npz (the same after step 2). With
--restore, the process then reads the state after step 1 from STATE_DIR (written by any backend) and
takes step 2 again from it, into OUT_DIR/continued/step2.npz. On JAX it also writes
OUT_DIR/precisions.json: the precision each float32 convolution and dot product of its programs asks
XLA for. With --steps_only, only the steps: no gradients in step1.npz and no precisions.json (the
gradient programs are a third of what a JAX process compiles).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cmd  # noqa: E402,F401  (first: see cmd.py)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import weight_files  # noqa: E402
from gan import engines  # noqa: E402
from gan import checkpoints  # noqa: E402
from gan.checkpoints import save_weights  # noqa: E402
from pose_training import make_gan  # noqa: E402
from tests import precision  # noqa: E402
from tests.fixtures_data import training_args  # noqa: E402


def variables_of(gan):
    return {'generator': gan.generator.variables, 'discriminator': gan.discriminator.variables,
            'g_optimizer': gan.g_optimizer.variables, 'd_optimizer': gan.d_optimizer.variables}


def step(engine, gan, real, fake, batch, path, gradients):
    result = {'replicas': np.int64(engine.replicas),
              'tensorflow_imported': np.bool_('tensorflow' in sys.modules)}
    if gradients:
        result.update({'d_gradient/%03d' % i: g for i, g in enumerate(engine.discriminator_gradients(real, fake))})
        result.update({'g_gradient/%03d' % i: g for i, g in enumerate(engine.generator_gradients(batch))})
    values = dict(engine.discriminator_step(real, fake), **engine.generator_step(batch))
    result.update({'loss/' + name: np.float64(value) for name, value in values.items()})
    engine.sync_variables()
    for group, variables in variables_of(gan).items():
        for i, variable in enumerate(variables):
            value = keras.ops.convert_to_numpy(variable)
            if value.dtype.kind == 'f':   # the dropout seed states are each backend's own
                result['%s/%03d' % (group, i)] = value
    np.savez(path, **result)


def write_precisions(engine, batches, path):
    """{program: {precision: count}} of the float32 convolutions and dot products in the JAX engine's
    programs as lowered for XLA (tests/precision.py)."""
    real, fake, batch = batches
    lowered = {'discriminator_update': engine._d_step.lower(engine.state, engine.frozen, real, fake),
               'generator_update': engine._g_step.lower(engine.state, engine.frozen, batch),
               'generate': engine._generate.lower(engine.state, engine.frozen, batch)}
    with open(path, 'w') as f:
        json.dump({name: precision.precisions(program.as_text()) for name, program in lowered.items()}, f)


def main(root, out, shared, *flags):
    restore, steps_only = None, flags[:1] == ('--steps_only',)
    if flags[:1] == ('--restore',):
        restore, flags = flags[1], flags[2:]
    if steps_only:
        flags = flags[1:]
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
        stream = PoseHMDataset.from_args(args).train_batches(0, 6)
        batches = [next(stream) for _ in range(6)]
        stream.close()
        np.savez(batches_file, **{'%d/%s' % (i, k): v for i, batch in enumerate(batches) for k, v in batch.items()})
        save_weights(gan.generator, weights['generator'])
        save_weights(gan.discriminator, weights['discriminator'])
    weight_files.load_weights(gan.generator, weights['generator'])
    weight_files.load_weights(gan.discriminator, weights['discriminator'])
    stored = np.load(batches_file)
    batches = [{k.split('/', 1)[1]: stored[k] for k in stored.files if k.startswith('%d/' % i)} for i in range(6)]
    engine.compile(gan)
    if keras.backend.backend() == 'jax' and not steps_only:
        write_precisions(engine, batches[:3], os.path.join(out, 'precisions.json'))
    step(engine, gan, *batches[:3], os.path.join(out, 'step1.npz'), gradients=not steps_only)
    checkpoints.save_resume_state(variables_of(gan), os.path.join(out, 'checkpoints'),
                                  {'next_epoch': 0, 'next_step': 1}, {'run': {}})
    step(engine, gan, *batches[3:], os.path.join(out, 'step2.npz'), gradients=False)
    if restore:
        checkpoints.restore_resume_state(variables_of(gan), restore)
        engine.reload_variables()
        os.makedirs(os.path.join(out, 'continued'), exist_ok=True)
        step(engine, gan, *batches[3:], os.path.join(out, 'continued', 'step2.npz'), gradients=False)


if __name__ == '__main__':
    main(*sys.argv[1:])
