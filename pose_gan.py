"""The conditional pose GAN: adversarial loss plus the paper's reconstruction, tv and struct terms
(docs/reference.md, "Losses and training")."""
from keras import ops

from gan import losses
from gan.base_gan import BaseGAN


def reconstruction_term_name(content_loss_layer, nn_loss_area_size):
    """G_content with VGG features, G_nn for the pixel nearest-neighbour loss, else G_l1."""
    if content_loss_layer not in (None, 'none'):
        return 'G_content'
    return 'G_nn' if nn_loss_area_size > 1 else 'G_l1'


class PoseGAN(BaseGAN):
    """G_total = G_gan + l1_penalty_weight * d(F(target), F(generated)) + G_tv + G_struct, where F is
    the identity or the VGG19 layers of ``content_extractor``, d is L1 or ``nn_loss``.

    ``pose_heatmaps``: None (struct term off) or a callable mapping [-1, 1] images to the pose
    estimator's 18 heatmaps; only used when ``lstruct_penalty_weight`` > 0."""

    SUMMED_TERMS = ('G_tv',)

    def __init__(self, generator, discriminator, global_batch_size, gan_penalty_weight=1.0,
                 l1_penalty_weight=100.0, nn_loss_area_size=1, content_extractor=None,
                 content_loss_layer='none', tv_penalty_weight=0.0, lstruct_penalty_weight=0.0,
                 pose_heatmaps=None, **kwargs):
        self.l1_penalty_weight = float(l1_penalty_weight)
        self.nn_loss_area_size = int(nn_loss_area_size)
        self.content_extractor = content_extractor
        self.reconstruction_name = reconstruction_term_name(
            content_loss_layer if content_extractor is not None else 'none', self.nn_loss_area_size)
        self.tv_penalty_weight = float(tv_penalty_weight)
        self.lstruct_penalty_weight = float(lstruct_penalty_weight)
        if self.lstruct_penalty_weight > 0 and pose_heatmaps is None:
            raise ValueError('--lstruct_penalty_weight %s needs a pose estimator' % lstruct_penalty_weight)
        self.pose_heatmaps = pose_heatmaps
        super().__init__(generator, discriminator, global_batch_size, gan_penalty_weight, **kwargs)

    def generator_term_names(self):
        names = ['G_gan', self.reconstruction_name]
        if self.tv_penalty_weight > 0:
            names.append('G_tv')
        if self.lstruct_penalty_weight > 0:
            names.append('G_struct')
        return tuple(names)

    def _features(self, images):
        if self.content_extractor is None:
            return [images]
        features = self.content_extractor(images, training=False)
        if not isinstance(features, (list, tuple)):
            features = [features]
        return [ops.cast(f, 'float32') for f in features]

    def generator_terms(self, batch, generated, training):
        terms = super().generator_terms(batch, generated, training)
        target = batch['target_image']
        terms[self.reconstruction_name] = self.l1_penalty_weight * losses.reconstruction_loss(
            self._features(target), self._features(generated), self.nn_loss_area_size)
        if self.tv_penalty_weight > 0:
            terms['G_tv'] = self.tv_penalty_weight * losses.tv_loss(generated)
        if self.lstruct_penalty_weight > 0:
            terms['G_struct'] = self.lstruct_penalty_weight * losses.struct_loss(
                ops.cast(self.pose_heatmaps(target), 'float32'),
                ops.cast(self.pose_heatmaps(generated), 'float32'))
        return terms
