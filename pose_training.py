"""A training run of the Deformable GAN from parsed flags: the pose-specific wiring around the generic
trainer of gan/ (networks of conv_layers, the PoseGAN losses, the pose data pipeline, the pose sample
sheet, the flags that define a run). train.py is this module's ``train`` behind the command line."""
import os

import keras
import numpy as np

import cmd
import conv_layers
import pose_utils
import weight_files
from gan import atomic, checkpoints, devices, engines
from gan.content_features import make_content_extractor
from gan.trainer import Trainer
from pose_gan import PoseGAN


def make_networks(args):
    """Generator and discriminator of the flags; float16 compute under --mixed_precision (the
    variables stay float32; the policy is restored afterwards, layers keep theirs)."""
    previous = keras.config.dtype_policy()
    if args.mixed_precision:
        keras.config.set_dtype_policy('mixed_float16')
    try:
        return (conv_layers.make_generator(**conv_layers.network_options(args)),
                conv_layers.make_discriminator(**conv_layers.network_options(args)))
    finally:
        keras.config.set_dtype_policy(previous)


def default_pose_heatmaps(args):
    """The struct loss's heatmap function from --pose_estimator (None when the loss is off)."""
    if args.lstruct_penalty_weight <= 0:
        return None
    import pose_estimator
    model = pose_estimator.load_pose_estimator(args.pose_estimator)
    model.trainable = False
    return lambda images: pose_estimator.pose_heatmaps(model, images)


def make_gan(args, engine=None, pose_heatmaps=None):
    """The compiled PoseGAN of the flags, built in ``engine.scope()`` (the engine of Keras' backend for
    --distribute by default) with both optimisers built (a lazily built optimiser fails in the first
    distributed step), for programs compiled in the arithmetic of --tf32. Seeds weights and dropout
    from --seed; loads --generator_checkpoint / --discriminator_checkpoint when given."""
    engine = engine or engines.make_engine(args.distribute, args.batch_size)
    devices.prepare_backend(args.tf32)
    engines.set_random_seed(args.seed)
    with engine.scope():
        generator, discriminator = make_networks(args)
        if args.generator_checkpoint:
            weight_files.load_weights(generator, args.generator_checkpoint)
        if args.discriminator_checkpoint:
            weight_files.load_weights(discriminator, args.discriminator_checkpoint)
        content_extractor = None
        if args.content_loss_layer != 'none':
            content_extractor = make_content_extractor(args.content_loss_layer.split(','), args.vgg_weights)
        if pose_heatmaps is None:
            pose_heatmaps = default_pose_heatmaps(args)
        gan = PoseGAN(generator, discriminator, global_batch_size=args.batch_size,
                      gan_penalty_weight=args.gan_penalty_weight, l1_penalty_weight=args.l1_penalty_weight,
                      nn_loss_area_size=args.nn_loss_area_size, content_extractor=content_extractor,
                      content_loss_layer=args.content_loss_layer, tv_penalty_weight=args.tv_penalty_weight,
                      lstruct_penalty_weight=args.lstruct_penalty_weight, pose_heatmaps=pose_heatmaps)
        d_optimizer, g_optimizer = engines.make_optimizer(args.mixed_precision), engines.make_optimizer(args.mixed_precision)
        d_optimizer.build(discriminator.trainable_variables)
        g_optimizer.build(generator.trainable_variables)
        gan.compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer)
    return gan


def sample_sheet(source_images, target_keypoints, target_images, generated_images):
    """uint8 (B*H, 4*W, 3): per pair, source | target pose drawing | target | generated."""
    rows = []
    for source, kp, target, generated in zip(source_images, target_keypoints, target_images, generated_images):
        pose, _ = pose_utils.draw_pose_from_cords(kp, source.shape[:2])
        rows.append(np.concatenate([pose_utils.deprocess_image(source), pose,
                                    pose_utils.deprocess_image(target), pose_utils.deprocess_image(generated)],
                                   axis=1))
    return np.concatenate(rows, axis=0)


def dataset_sample_sheet(dataset):
    """The trainer's sheet function for a PoseHMDataset: (pair names, batch, generated) -> sheet."""
    def sheet(names, batch, generated):
        target_kp = [dataset.keypoints[dataset.names.index(to)] for _, to in names]
        return sample_sheet(batch['source_image'], target_kp, batch['target_image'], generated)
    return sheet


def train(args, pose_heatmaps=None, dataset=None, engine=None):
    """A whole run from parsed flags (train.py's body); returns the Trainer."""
    from pose_dataset import PoseHMDataset
    # The folders first: nothing is built (no device, no worker contacted) for a run that cannot start.
    checkpoints.prepare_run_folders(args, cmd.RUN_FLAGS, chief=engines.engine_module().is_chief())
    engine = engine or engines.make_engine(args.distribute, args.batch_size)
    dataset = dataset or PoseHMDataset.from_args(args)
    gan = make_gan(args, engine, pose_heatmaps)
    trainer = Trainer(gan, dataset, args, engine, sample_sheet=dataset_sample_sheet(dataset),
                      run_flags=checkpoints.run_flags(args, cmd.RUN_FLAGS))
    if args.resume:
        pointer = trainer.restore()
        print('resumed from %s: next epoch %d' % (os.path.join(args.checkpoints_dir, pointer['state']),
                                                  trainer.first_epoch), flush=True)
    if trainer.chief:   # only now is the run known to be valid
        path = os.path.join(args.checkpoints_dir, checkpoints.OPTIONS)
        with checkpoints.writing(path, path + atomic.TMP):   # every flag, so each checkpoint can be traced to them
            atomic.write_json(path, {name: value for name, value in vars(args).items() if not name.startswith('_')})
    trainer.train()
    return trainer
