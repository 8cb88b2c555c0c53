"""Shared pieces of the benchmark scripts: the machine description, the matrix-multiply yardstick,
floating-point counts of the networks, tables and JSON results.

Imported by the scripts of this folder after their ``import cmd`` bootstrap (see the README's "The
``cmd`` module"); it imports no ``cmd`` itself.
"""
import argparse
import json
import os
import platform
import statistics
import tempfile
import time

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')


# ---- command line and results ------------------------------------------------------------------

def parser(name, description):
    """argparse with the two flags every benchmark has: --quick and --out."""
    result = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    result.add_argument('--quick', action='store_true',
                        help='Fewer repetitions and smaller sets: a few minutes on a 2-core CPU.')
    result.add_argument('--out', default=os.path.join(RESULTS_DIR, name + '.json'),
                        help='Where the JSON results go.')
    return result


def add_data_root(parser):
    """--data_root, shared by the scripts that build the synthetic datasets once and reuse them."""
    parser.add_argument('--data_root', default=os.path.join(tempfile.gettempdir(), 'deformable-gan-bench'),
                        help='Where the synthetic datasets are built (once) and read.')


def write_json(path, content):
    """Atomic JSON write (path + '.tmp', then os.replace)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp_path = path + '.tmp'
    with open(tmp_path, 'w') as f:
        json.dump(content, f, indent=2, sort_keys=True, default=str)
    os.replace(tmp_path, path)
    print('results written to %s' % path)


def format_value(value):
    if isinstance(value, float):
        if value == 0:
            return '0'
        if abs(value) >= 100:
            return '%.0f' % value
        if abs(value) >= 10:
            return '%.1f' % value
        if abs(value) >= 0.01:
            return '%.3g' % value
        return '%.2e' % value
    return str(value)


def table(rows, columns, title=None):
    """A Markdown table of dict rows (the README pastes it as is); returns the text and prints it."""
    cells = [[format_value(row.get(column, '')) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]
    lines = ['| ' + ' | '.join(c.ljust(w) for c, w in zip(columns, widths)) + ' |',
             '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
    lines += ['| ' + ' | '.join(c.ljust(w) for c, w in zip(line, widths)) + ' |' for line in cells]
    text = ('**%s**\n\n' % title if title else '') + '\n'.join(lines)
    print('\n' + text + '\n', flush=True)
    return text


# ---- the machine -------------------------------------------------------------------------------

def load_average():
    return [round(value, 2) for value in os.getloadavg()]


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def memory_total_gb():
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemTotal'):
                    return round(int(line.split()[1]) / 2 ** 20, 1)
    except OSError:
        pass
    return None


def machine():
    """What the numbers were measured on (every JSON result carries it)."""
    import numpy as np
    description = {'cpu': cpu_model(), 'cores_usable': len(os.sched_getaffinity(0)),
                   'cores_online': os.cpu_count(), 'memory_gb': memory_total_gb(),
                   'python': platform.python_version(), 'numpy': np.__version__,
                   'load_average_1_5_15': load_average(),
                   'TF_ENABLE_ONEDNN_OPTS': os.environ.get('TF_ENABLE_ONEDNN_OPTS', '(unset)'),
                   'time': time.strftime('%Y-%m-%d %H:%M:%S')}
    try:
        import tensorflow as tf
        import keras
        description.update(tensorflow=tf.__version__, keras=keras.__version__,
                           gpus=[d.name for d in tf.config.list_physical_devices('GPU')],
                           intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
                           inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads())
    except ImportError:
        pass
    return description


def machine_line(description):
    return ('%s, %d usable cores, %s GB RAM, TF %s / Keras %s, load average %s'
            % (description['cpu'], description['cores_usable'], description['memory_gb'],
               description.get('tensorflow'), description.get('keras'), description['load_average_1_5_15']))


# ---- timing ------------------------------------------------------------------------------------

def time_calls(function, repeats, warmup=1):
    """Seconds of each of ``repeats`` calls of ``function()`` after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def summary(times):
    return {'median_s': statistics.median(times), 'min_s': min(times), 'max_s': max(times), 'times_s': times}


def matmul_rate(size=2048, repeats=7):
    """The machine's float32 matrix-multiply rate in GFLOP/s (TensorFlow, size x size), median of
    ``repeats`` products after a warm-up: the yardstick the training step is compared with."""
    import tensorflow as tf
    a = tf.random.normal((size, size), seed=1)
    b = tf.random.normal((size, size), seed=2)

    def product():
        tf.linalg.matmul(a, b).numpy()
    times = time_calls(product, repeats, warmup=2)
    flops = 2.0 * size ** 3
    return {'size': size, 'gflops_median': flops / statistics.median(times) / 1e9,
            'gflops_best': flops / min(times) / 1e9, 'times_s': times}


# ---- floating-point work of a Keras model ------------------------------------------------------

def _source_layers(tensor):
    history = getattr(tensor, '_keras_history', None)
    return [] if history is None else [history.operation]


def _needs_input_gradient(layer, memo):
    """True when a gradient must flow into ``layer``'s input during the generator's own backward
    pass: some layer upstream has trainable weights. The convolutions fed by the model inputs only
    (the generator's level-0 convolutions) need weight gradients but no input gradient."""
    if layer.name in memo:
        return memo[layer.name]
    needs = False
    for node in layer._inbound_nodes:
        for tensor in node.input_tensors:
            for upstream in _source_layers(tensor):
                if upstream.trainable_weights or _needs_input_gradient(upstream, memo):
                    needs = True
    memo[layer.name] = needs
    return needs


def convolution_flops(model):
    """Per-sample forward FLOPs (multiply and add counted as 2) of every Conv2D and Conv2DTranspose.

    Conv2D: 2 * H_out * W_out * K_h * K_w * C_in * C_out.
    Conv2DTranspose: 2 * H_in * W_in * K_h * K_w * C_in * C_out (every input pixel scatters a
    K x K x C_out patch; the 1-px crop after it is not subtracted: the work is done anyway).
    Returns a list of dicts: name, kind, flops, input_gradient (see ``_needs_input_gradient``).
    """
    import keras
    layers = []
    memo = {}
    for layer in model.layers:
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            continue
        kernel_h, kernel_w, c_in, c_out = layer.kernel.shape
        if isinstance(layer, keras.layers.Conv2DTranspose):
            c_in, c_out = layer.kernel.shape[3], layer.kernel.shape[2]   # kernel is (kh, kw, out, in)
            _, height, width, _ = layer.input.shape
            kind = 'conv_transpose'
        else:
            _, height, width, _ = layer.output.shape
            kind = 'conv'
        flops = 2.0 * height * width * kernel_h * kernel_w * c_in * c_out
        layers.append({'name': layer.name, 'kind': kind, 'flops': flops,
                       'input_gradient': _needs_input_gradient(layer, memo)})
    return layers


def training_step_flops(generator, discriminator):
    """FLOPs per pair of one training step (one discriminator update, then one generator update, as
    gan/base_gan.py does them), counting convolutions and transposed convolutions only.

    Rule: a layer's backward pass costs its forward FLOPs once for the weight gradient and once more
    for the input gradient when one is needed.
      discriminator update: G forward (fakes, no gradient) + D forward on real and fake + D backward
        on both (weight gradients; input gradients except D's first layer);
      generator update: G forward + D forward on the fake + D backward (input gradients only, the
        first layer included: they reach the generated image) + G backward (weight gradients;
        input gradients except the level-0 convolutions fed by the inputs).
    Total = 4 F_G - G_first + 8 F_D - 2 D_first.
    """
    g_layers, d_layers = convolution_flops(generator), convolution_flops(discriminator)
    f_g = sum(layer['flops'] for layer in g_layers)
    f_d = sum(layer['flops'] for layer in d_layers)
    g_first = sum(layer['flops'] for layer in g_layers if not layer['input_gradient'])
    d_first = sum(layer['flops'] for layer in d_layers if not layer['input_gradient'])
    d_update = f_g + 2 * f_d + 2 * f_d + 2 * (f_d - d_first)
    g_update = f_g + f_d + f_d + f_g + (f_g - g_first)
    return {'generator_forward': f_g, 'discriminator_forward': f_d,
            'generator_forward_transposed': sum(l['flops'] for l in g_layers if l['kind'] == 'conv_transpose'),
            'generator_no_input_gradient': g_first, 'discriminator_no_input_gradient': d_first,
            'discriminator_update': d_update, 'generator_update': g_update, 'step': d_update + g_update,
            'generator_layers': g_layers, 'discriminator_layers': d_layers}
