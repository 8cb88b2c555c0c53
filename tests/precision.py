"""The precision XLA is asked for at the float32 convolutions and matrix products of a lowered JAX
program, read from its StableHLO text before XLA compiles it (tests/test_tf32.py; the JAX engine's
programs are lowered by tests/backend_step.py)."""
import re

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
