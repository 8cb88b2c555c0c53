"""gan/fused_adam.py against the reference's Adam written out in float64 numpy (Keras 2.0.8's
``Adam.get_updates``), and interchangeable with keras.optimizers.Adam's checkpoints."""
import keras
import numpy as np
import tensorflow as tf

from gan.fused_adam import FusedAdam
from gan.engines import ADAM, make_optimizer

SHAPES = [(3, 3, 4, 8), (8,), (1,)]


def keras2_adam(weights, gradients_per_step, learning_rate, beta_1, beta_2, epsilon):
    """Keras 2.0.8: t += 1; lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t);
    m = beta_1 m + (1 - beta_1) g; v = beta_2 v + (1 - beta_2) g**2; p -= lr_t m / (sqrt(v) + epsilon)."""
    weights = [w.astype(np.float64) for w in weights]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    for t, gradients in enumerate(gradients_per_step, start=1):
        lr_t = learning_rate * np.sqrt(1.0 - beta_2 ** t) / (1.0 - beta_1 ** t)
        for i, g in enumerate(gradients):
            m[i] = beta_1 * m[i] + (1.0 - beta_1) * g
            v[i] = beta_2 * v[i] + (1.0 - beta_2) * g * g
            weights[i] = weights[i] - lr_t * m[i] / (np.sqrt(v[i]) + epsilon)
    return weights


def run(optimizer, initial, gradients_per_step):
    # Named variables: Keras numbers unnamed ones process-wide ('variable', 'variable_1', ...), and
    # the slot names below must not depend on which tests ran before.
    variables = [keras.Variable(w, name=f'weight{i}') for i, w in enumerate(initial)]
    optimizer.build(variables)
    apply = tf.function(lambda gradients: optimizer.apply(gradients, variables), autograph=False)
    for gradients in gradients_per_step:
        apply([tf.constant(g) for g in gradients])
    return [v.numpy() for v in variables], apply


def problem(steps=12, seed=0):
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=shape).astype(np.float32) for shape in SHAPES]
    # Gradients of very different sizes, so that epsilon and the bias correction both matter.
    gradients = [[(rng.normal(size=shape) * 10.0 ** rng.integers(-9, 2)).astype(np.float32) for shape in SHAPES]
                 for _ in range(steps)]
    return initial, gradients


# The reference's optimisers: Adam(lr=2e-4, beta_1=0.5, beta_2=0.999) with Keras 2.0.8's epsilon 1e-8
# (docs/reference.md, "Losses and training"), written out here rather than read from the project.
REFERENCE_ADAM = dict(learning_rate=2e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8)


def test_the_training_optimisers_are_the_references():
    assert ADAM == REFERENCE_ADAM
    optimizer = make_optimizer(False)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == np.float32(2e-4)
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (0.5, 0.999, 1e-8)


def test_fused_adam_follows_the_reference_arithmetic():
    initial, gradients = problem()
    fused, apply = run(FusedAdam(**ADAM), initial, gradients)
    expected = keras2_adam(initial, [[g.astype(np.float64) for g in step] for step in gradients], **REFERENCE_ADAM)
    for got, want, start in zip(fused, expected, initial):
        moved = np.abs(want - start).max()
        assert moved > 1e-4   # the weights did move
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5 * moved)   # float32 weights: rtol
    graph_ops = {op.type for op in apply.get_concrete_function(
        [tf.TensorSpec(shape, tf.float32) for shape in SHAPES]).graph.get_operations()}
    assert 'ResourceApplyAdam' in graph_ops


def test_fused_adam_matches_keras_adam_and_its_checkpoints(tmp_path):
    initial, gradients = problem(seed=1)
    keras_adam = keras.optimizers.Adam(**ADAM)
    stock, _ = run(keras_adam, initial, gradients)
    fused_adam = FusedAdam(**ADAM)
    fused, _ = run(fused_adam, initial, gradients)
    for a, b in zip(stock, fused):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)
    # Same slot variables: a checkpoint of keras.optimizers.Adam restores into FusedAdam.
    def slots(optimizer):   # variable paths without the optimizer's unique name
        return [(v.path.split('/', 1)[1], v.shape) for v in optimizer.variables]
    assert slots(keras_adam) == slots(fused_adam)
    path = tf.train.Checkpoint(variables=[v.value for v in keras_adam.variables]).write(str(tmp_path / 'adam'))
    restored = FusedAdam(**ADAM)
    restored.build([keras.Variable(w, name=f'weight{i}') for i, w in enumerate(initial)])
    tf.train.Checkpoint(variables=[v.value for v in restored.variables]).read(path).assert_consumed()
    for a, b in zip(keras_adam.variables, restored.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_mixed_precision_wraps_the_fused_adam():
    optimizer = make_optimizer(True)
    assert isinstance(optimizer.inner_optimizer, FusedAdam)
    initial, gradients = problem(steps=3, seed=2)
    scale = 2.0 ** 15   # the wrapper's initial loss scale: it divides the gradients by it
    assert float(optimizer.initial_scale) == scale
    scaled, _ = run(optimizer, initial, [[g * np.float32(scale) for g in step] for step in gradients])
    plain, _ = run(FusedAdam(**ADAM), initial, gradients)
    for a, b in zip(scaled, plain):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)
