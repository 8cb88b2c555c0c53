"""A conditional GAN as a keras.Model holding two built networks (docs/reference.md, "Losses and training": adversarial part).

``compile(d_optimizer, g_optimizer)`` takes both optimisers. This module is backend-neutral (Keras
layers and ``keras.ops`` only): it defines the losses; a backend's engine (gan/engines/) takes their
gradients and applies the updates. Every loss is reduced over the GLOBAL batch (``global_mean``), so
that summing the replicas' gradients gives the step one device would take on the whole batch.
Batches are dicts keyed by the networks' input names plus 'target_image' (see pose_dataset.py).
"""
import keras
from keras import ops

from gan import losses


def input_names(model):
    """The input names of a functional model with dict (or named list) inputs."""
    structure = model.input
    if isinstance(structure, dict):
        return list(structure)
    if not isinstance(structure, (list, tuple)):
        structure = [structure]
    return [tensor.name.split(':')[0] for tensor in structure]


def select_inputs(model, batch, **replacements):
    """{name: batch[name]} for each input of ``model``, with ``replacements`` taking precedence."""
    values = dict(batch, **replacements)
    missing = [name for name in input_names(model) if name not in values]
    if missing:
        raise KeyError('model %s needs inputs %s that the batch lacks (batch has %s)'
                       % (model.name, missing, sorted(values)))
    return {name: values[name] for name in input_names(model)}


class BaseGAN(keras.Model):
    """Generator G and discriminator D (probabilities) with the losses of docs/reference.md, "Losses and training":
    D: -mean(log(D(real)+eps)) - mean(log(1-D(fake)+eps)); G: gan_penalty_weight * -mean(log(D(fake)+eps))
    plus the terms a subclass adds in ``generator_terms``."""

    DISCRIMINATOR_TERMS = ('D_real', 'D_fake', 'D_total')
    SUMMED_TERMS = ()   # per-example terms reduced by sum instead of mean (the reference's tv)

    def __init__(self, generator, discriminator, global_batch_size, gan_penalty_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.global_batch_size = int(global_batch_size)
        self.gan_penalty_weight = float(gan_penalty_weight)

    # ---- bookkeeping -----------------------------------------------------------------------
    def generator_term_names(self):
        return ('G_gan',)

    def loss_names(self):
        return self.DISCRIMINATOR_TERMS + self.generator_term_names() + ('G_total',)

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def call(self, batch, training=False):
        return self.generate(batch, training=training)

    # ---- forward passes (float32 out, whatever the compute dtype) ----------------------------
    def generate(self, batch, training):
        return ops.cast(self.generator(select_inputs(self.generator, batch), training=training), 'float32')

    def discriminate(self, batch, image, training):
        scores = self.discriminator(select_inputs(self.discriminator, batch, image=image), training=training)
        return ops.cast(scores, 'float32')

    def _reduce(self, name, per_example):
        if name in self.SUMMED_TERMS:
            return ops.sum(per_example)
        return losses.global_mean(per_example, self.global_batch_size)

    # ---- losses ------------------------------------------------------------------------------
    def discriminator_losses(self, real_batch, fake_batch, training=True):
        """Reduced D terms: real pairs from ``real_batch``, fakes generated from ``fake_batch``
        (two fresh batches, as the reference's discriminator model took them)."""
        generated = ops.stop_gradient(self.generate(fake_batch, training=training))
        d_real = self.discriminate(real_batch, real_batch['target_image'], training)
        d_fake = self.discriminate(fake_batch, generated, training)
        values = {'D_real': self._reduce('D_real', losses.discriminator_real_loss(d_real)),
                  'D_fake': self._reduce('D_fake', losses.discriminator_fake_loss(d_fake))}
        values['D_total'] = values['D_real'] + values['D_fake']
        return values

    def generator_terms(self, batch, generated, training):
        """Per-example generator terms, already weighted, by name. Subclasses add their terms."""
        d_fake = self.discriminate(batch, generated, training)
        return {'G_gan': self.gan_penalty_weight * losses.generator_adversarial_loss(d_fake)}

    def generator_losses(self, batch, training=True):
        generated = self.generate(batch, training=training)
        terms = self.generator_terms(batch, generated, training)
        values = {name: self._reduce(name, per_example) for name, per_example in terms.items()}
        values['G_total'] = sum(values[name] for name in self.generator_term_names())
        return values
