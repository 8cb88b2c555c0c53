"""The loss terms of docs/reference.md, "Losses and training", each a function with the paper's name.

Every function returns PER-EXAMPLE values, shape (B,), so that the training step can reduce them
over the GLOBAL batch (``global_mean``) whatever the number of replicas: the mean of these values is
the paper's loss. Tensors are (B, H, W, C), float32.
"""
from keras import ops

EPSILON = 1e-7          # the reference's guard inside the logarithms
NN_PAD_VALUE = -10000.0  # the reference pads the nearest-neighbour reference with this value


def global_mean(per_example, global_batch_size):
    """Sum over this replica's examples divided by the batch of all replicas: summing this over the
    replicas (as the optimiser's gradient all-reduce does) gives the mean over the global batch."""
    return ops.sum(per_example) / global_batch_size


def _mean_per_example(x):
    return ops.mean(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1)


def discriminator_real_loss(d_real):
    """-mean(log(D(real) + 1e-7)), docs/reference.md "Losses and training": the discriminator's term on true targets."""
    return -_mean_per_example(ops.log(d_real + EPSILON))


def discriminator_fake_loss(d_fake):
    """-mean(log(1 - D(fake) + 1e-7)), docs/reference.md "Losses and training": the discriminator's term on generated images."""
    return -_mean_per_example(ops.log(1.0 - d_fake + EPSILON))


def generator_adversarial_loss(d_fake):
    """-mean(log(D(fake) + 1e-7)), docs/reference.md "Losses and training": the generator's adversarial term (unweighted)."""
    return -_mean_per_example(ops.log(d_fake + EPSILON))


def l1_loss(reference, generated):
    """Mean absolute difference (docs/reference.md, "Losses and training": d with --nn_loss_area_size <= 1)."""
    return _mean_per_example(ops.abs(reference - generated))


def nn_loss(reference, generated, neighborhood_size):
    """Nearest-neighbour loss (paper section 4.2, docs/reference.md "Losses and training").

    For every position of ``generated``, the minimum over the k x k neighbourhood of ``reference``
    (padded with -10000) of the channel-summed absolute difference; then the mean over positions.
    """
    k = int(neighborhood_size)
    pad = k // 2
    height, width = ops.shape(generated)[1], ops.shape(generated)[2]
    padded = ops.pad(reference, [[0, 0], [pad, pad], [pad, pad], [0, 0]], constant_values=NN_PAD_VALUE)
    best = None
    # k*k shifted copies of the reference; a running minimum keeps memory at one map.
    for dy in range(k):
        for dx in range(k):
            shifted = padded[:, dy:dy + height, dx:dx + width, :]
            distance = ops.sum(ops.abs(shifted - generated), axis=-1)   # (B, H, W)
            best = distance if best is None else ops.minimum(best, distance)
    return _mean_per_example(best)


def reconstruction_distance(reference, generated, nn_loss_area_size):
    """d of docs/reference.md, "Losses and training": plain L1 when the area is <= 1, else the nearest-neighbour loss."""
    if nn_loss_area_size > 1:
        return nn_loss(reference, generated, nn_loss_area_size)
    return l1_loss(reference, generated)


def reconstruction_loss(reference_features, generated_features, nn_loss_area_size):
    """Sum over feature maps (pixels, or one map per VGG19 layer) of d(reference, generated); the
    caller multiplies by l1_penalty_weight."""
    total = 0.0
    for reference, generated in zip(reference_features, generated_features):
        total = total + reconstruction_distance(reference, generated, nn_loss_area_size)
    return total


def tv_loss(x):
    """Total variation: sum(((x[i,j]-x[i+1,j])^2 + (x[i,j]-x[i,j+1])^2)^1.25), docs/reference.md "Losses and training".

    Per example; the reference sums over the batch too, so the step sums (not averages) it."""
    a = ops.square(x[:, :-1, :-1, :] - x[:, 1:, :-1, :])
    b = ops.square(x[:, :-1, :-1, :] - x[:, :-1, 1:, :])
    return ops.sum(ops.reshape(ops.power(a + b, 1.25), (ops.shape(x)[0], -1)), axis=1)


def struct_loss(target_heatmaps, generated_heatmaps):
    """Mean squared difference of the pose estimator's heatmaps of target and generated image
    (docs/reference.md, "Losses and training": the optional structure loss)."""
    return _mean_per_example(ops.square(target_heatmaps - generated_heatmaps))
