"""Weight files of the networks: this project's Keras 3 ``.weights.h5`` files and the reference's Keras 2
``.h5`` files (full models or weights only), both checked layer by layer against the model before any
weight is assigned, so that a file of another architecture is refused with the layer that differs.
"""
import collections
import os
import re

import h5py

# The project's own files are plain Keras 3 weight files, written by the trainer's checkpoint code.
from gan.checkpoints import KERAS3_SUFFIX, save_weights  # noqa: F401  (save_weights: part of this API)

LAYER_NAME = re.compile(r'^(?P<kind>[a-z][a-z0-9_]*?)_(?P<index>\d+)$')


def load_weights(model, path):
    """Load ``path`` into the model: a file written by ``save_weights`` or one of the reference's Keras 2
    ``.h5`` files (full model or weights only). A file of another architecture is refused with a
    ValueError naming the first layer that differs; nothing is assigned then."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path}: no such weight file')
    try:
        f = h5py.File(path, 'r')
    except OSError as error:
        raise ValueError(f'{path}: not a readable HDF5 weight file ({error}); it may be empty, cut short '
                         f'or of another format: give a file written by train.py or the reference') from None
    with f:
        keras2 = 'model_weights' in f or 'layer_names' in f.attrs
        if keras2:
            assign_keras2_weights(model, read_keras2_weights(f), path)
            return
        check_keras3_layout(model, f, path)
    if not path.endswith(KERAS3_SUFFIX):
        raise ValueError(f'{path}: a Keras 3 weight file must end with {KERAS3_SUFFIX}')
    model.load_weights(path)


def read_keras2_weights(f):
    """{layer name: {weight name: array}} from a Keras 2 file. Keras 2 keeps each layer's weights in a
    group named after the layer (under ``model_weights`` in full-model files) as
    ``<layer>/<layer>/kernel:0``; nested models and layers holding sublayers (the reference's spatial
    transformer) keep ``<outer>/<layer>/kernel:0``. The owner is the dataset's parent group; the ``:0``
    suffix is optional."""
    root = f['model_weights'] if 'model_weights' in f else f
    layers = collections.defaultdict(dict)

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            parts = name.split('/')
            owner = parts[-2] if len(parts) > 1 else parts[0]
            layers[owner][parts[-1].split(':')[0]] = item[()]

    root.visititems(visit)
    return layers


def by_kind(names, path):
    """{kind: [names sorted by their Keras 2 counter]} for names like ``conv2d_transpose_3``."""
    kinds = collections.defaultdict(list)
    for name in names:
        match = LAYER_NAME.match(name)
        if match is None:
            raise ValueError(f'{path}: layer {name!r} is not named <class>_<n> as Keras 2 named layers')
        kinds[match['kind']].append((int(match['index']), name))
    return {kind: [name for _, name in sorted(items)] for kind, items in kinds.items()}


def assign_keras2_weights(model, file_layers, path):
    """Map the file's layers onto the model's by class and creation order (the n of ``<class>_<n>``,
    so a file whose counters start later, e.g. a discriminator saved after a generator, still maps),
    check every weight's name and shape, then assign."""
    model_layers = {layer.name: layer for layer in model.layers if layer.weights}
    file_kinds = by_kind(file_layers, path)
    model_kinds = by_kind(model_layers, path)
    for kind in sorted(set(file_kinds) | set(model_kinds)):
        in_file, in_model = file_kinds.get(kind, []), model_kinds.get(kind, [])
        if len(in_file) != len(in_model):
            first = min(len(in_file), len(in_model))
            extra = (f'file layer {in_file[first]!r} has no counterpart in the model' if len(in_file) > first
                     else f'model layer {in_model[first]!r} has no counterpart in the file')
            raise ValueError(f'{path}: another architecture: {len(in_file)} {kind} layers in the file, '
                             f'{len(in_model)} in the model; {extra}')
    assignments = []
    for kind, in_model in model_kinds.items():
        for file_name, model_name in zip(file_kinds[kind], in_model):
            stored = file_layers[file_name]
            for variable in model_layers[model_name].weights:
                short = variable.name.split('/')[-1].split(':')[0]
                if short not in stored:
                    raise ValueError(f'{path}: another architecture: layer {file_name!r} (model layer '
                                     f'{model_name!r}) has no {short!r}; it holds {sorted(stored)}')
                if tuple(stored[short].shape) != tuple(variable.shape):
                    raise ValueError(f'{path}: another architecture: layer {file_name!r} (model layer '
                                     f'{model_name!r}) {short} has shape {tuple(stored[short].shape)}, the '
                                     f'model expects {tuple(variable.shape)}')
                assignments.append((variable, stored[short]))
            if len(stored) != len(model_layers[model_name].weights):
                raise ValueError(f'{path}: another architecture: layer {file_name!r} holds {sorted(stored)}, '
                                 f'model layer {model_name!r} {[v.name for v in model_layers[model_name].weights]}')
    for variable, value in assignments:
        variable.assign(value)


def snake_case(class_name):
    """'Conv2DTranspose' -> 'conv2d_transpose': the name Keras 3 gives a layer class inside weight files."""
    name = re.sub(r'\W+', '', class_name)
    name = re.sub('(.)([A-Z][a-z]+)', r'\1_\2', name)
    return re.sub('([a-z])([A-Z])', r'\1_\2', name).lower()


def keras3_layer_paths(model):
    """{path Keras 3 saving uses for a layer ('layers/conv2d_3'): the layer's own name}. Keras 3 does
    not store layer names: it numbers layers per class in ``model.layers`` order."""
    used = collections.Counter()
    paths = {}
    for layer in model.layers:
        kind = snake_case(layer.__class__.__name__)
        paths[f'layers/{kind}' + (f'_{used[kind]}' if used[kind] else '')] = layer
        used[kind] += 1
    return paths


def check_keras3_layout(model, f, path):
    """Compare the file's weight shapes with the model's, layer by layer, before Keras loads them."""
    layer_paths = keras3_layer_paths(model)
    unknown = sorted(f'layers/{name}' for name in f.get('layers', {}) if f'layers/{name}' not in layer_paths)
    if unknown:
        raise ValueError(f'{path}: another architecture: the file has layers the model lacks: {unknown[:5]}')
    for keras_path, layer in layer_paths.items():
        stored = f.get(f'{keras_path}/vars')
        stored_shapes = [tuple(stored[str(i)].shape) for i in range(len(stored))] if stored is not None else []
        model_shapes = [tuple(v.shape) for v in layer.weights]
        if stored_shapes != model_shapes:
            raise ValueError(f'{path}: another architecture: layer {layer.name!r} has weights of shapes '
                             f'{model_shapes}, the file {stored_shapes} (at {keras_path})')
