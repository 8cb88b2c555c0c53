"""The precision XLA is asked for at every convolution and matrix product of float32 operands in the
JAX engine's programs (the discriminator update, the generator update, the generator's forward pass),
for tests/test_tf32.py. Run under KERAS_BACKEND=jax:

    python tests/precision_probe.py SYNTHETIC_ROOT OUT_DIR [train.py flags ...]

Prints one line, ``PRECISIONS {"flags": {"discriminator_update": {"HIGHEST": 46}, ...}, "tf32": ...}``:
per program, how many of those operations ask for each precision, read from the lowered (StableHLO)
text before XLA compiles it, for the given flags (every program) and for them with --tf32 1 (the
generator update).
"""
import itertools
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cmd  # noqa: E402,F401  (first: see cmd.py)

from gan import engines  # noqa: E402
from pose_dataset import PoseHMDataset  # noqa: E402
from pose_training import make_gan  # noqa: E402
from tests.fixtures_data import training_args  # noqa: E402

MARK = 'PRECISIONS '
# stablehlo.convolution writes "precision_config = [#stablehlo<precision HIGHEST>, ...]", dot_general
# "precision = [HIGHEST, HIGHEST]"; both end with their operand and result types.
OPERATION = re.compile(r'stablehlo\.(convolution|dot_general)\b')
PRECISION = re.compile(r'precision(?:_config)? = \[(?:#stablehlo<precision )?([A-Z]+)')


def precisions(text):
    """{precision: count} over the float32 convolutions and dot products of a lowered program."""
    counts = {}
    for line in text.splitlines():
        if not OPERATION.search(line) or 'xf32>' not in line.rsplit(':', 1)[-1]:
            continue
        found = PRECISION.search(line)
        name = found.group(1) if found else 'unstated'
        counts[name] = counts.get(name, 0) + 1
    return counts


def lowered_precisions(root, out, *flags, programs=('discriminator_update', 'generator_update', 'generate')):
    """{program: precisions} of the engine built from train.py's ``flags``, for ``programs``."""
    args = training_args(root, out, '--data_workers', '0', '--distribute', 'none', *flags)
    engine = engines.make_engine(args.distribute, args.batch_size)
    gan = make_gan(args, engine)
    engine.compile(gan)
    batches = engine.training_batches(PoseHMDataset.from_args(args), 0, 3)
    real, fake, batch = itertools.islice(batches, 3)
    lowerings = {'discriminator_update': lambda: engine._d_step.lower(engine.state, engine.frozen, real, fake),
                 'generator_update': lambda: engine._g_step.lower(engine.state, engine.frozen, batch),
                 'generate': lambda: engine._generate.lower(engine.state, engine.frozen, batch)}
    return {name: precisions(lowerings[name]().as_text()) for name in programs}


def main(root, out, *flags):
    """The programs of ``flags`` (train.py's default arithmetic unless they say otherwise), then the
    generator update of ``flags`` and --tf32 1, in this one process."""
    found = {'flags': lowered_precisions(root, out, *flags),
             'tf32': lowered_precisions(root, out, *flags, '--tf32', '1', programs=('generator_update',))}
    print(MARK + json.dumps(found), flush=True)


if __name__ == '__main__':
    main(*sys.argv[1:])
