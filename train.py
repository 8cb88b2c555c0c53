"""Trains the deformable GAN (docs/reference.md, "Losses and training"), called as in the reference README, e.g.

    python train.py --output_dir output/full --checkpoints_dir output/full --warp_skip mask \
        --dataset fasion --l1_penalty_weight 0.01 --nn_loss_area_size 5 --batch_size 2 \
        --content_loss_layer block1_conv2 --number_of_epochs 90

The backend is Keras': ``KERAS_BACKEND=jax python train.py ...`` trains on JAX (TensorFlow by default).
``--resume`` continues the run of --checkpoints_dir (weights, optimisers, epoch, step, data order);
Ctrl-C or SIGTERM stops it after the current step with that state written;
``--overwrite`` starts over in folders that hold a run (its files are deleted first).
"""
import cmd  # first: see cmd.py

import os
import sys

# TensorFlow's C++ log reports, among others, "failed call to cuInit" on every machine without a GPU;
# keep it out of the way unless the user chose a level.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


def main(argv=None):
    from data.make_synthetic_dataset import ensure_dataset
    args = cmd.parse_args(argv, prepare_dataset=ensure_dataset)
    print(cmd.format_options(args), flush=True)
    from gan.checkpoints import RunError
    from gan.interrupts import StopRequested
    try:
        from pose_training import train
        train(args)
    except (RunError, FileNotFoundError, ValueError) as error:
        print('train.py: error: %s' % error, file=sys.stderr)
        return 1
    except StopRequested as stop:
        print('train.py: %s' % stop, file=sys.stderr)
        return stop.exit_status
    except KeyboardInterrupt:
        print('train.py: interrupted before training started; nothing was trained', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
