"""benchmarks/gpu.py's peak table, batch plan and tables, on results made up here (the measurement
itself needs a GPU: benchmarks/README.md, section 6)."""
from benchmarks import gpu


def test_device_names_find_their_data_sheet_peaks():
    assert gpu.device_peaks('NVIDIA H100 80GB HBM3') == ('H100', gpu.PEAKS_TFLOPS[2][1])
    assert gpu.device_peaks('NVIDIA H100 PCIe')[1]['bfloat16'] == 756.0
    assert gpu.device_peaks('NVIDIA H100 NVL')[1]['float16'] == 835.5
    assert gpu.device_peaks('NVIDIA H200')[1]['tf32'] == 494.7
    assert gpu.device_peaks('cpu') == (None, {})


def test_batches_double_from_four_up_to_the_cap():
    assert gpu.doubling(gpu.parse(['--max_batch', '100'])) == [4, 8, 16, 32, 64]
    assert gpu.doubling(gpu.parse(['--max_batch', '4'])) == [4]


def test_tables_give_the_largest_batch_run_and_what_was_not_measured():
    def ok(precision, batch, pairs_per_s):
        return {'precision': precision, 'batch_size': batch, 'status': 'ok', 'step_s': batch / pairs_per_s,
                'pairs_per_s': pairs_per_s, 'of_peak': 0.1, 'finite': True, 'compile_s': 20.0}
    results = {'environment': {'devices': ['cuda:0'], 'device_kind': 'NVIDIA H100 80GB HBM3',
                               'peak_table_entry': 'H100', 'peak_tflops': {'tf32': 494.7}, 'jax': '0.11.2',
                               'keras': '3.15.1', 'python': '3.12.3', 'cpu': 'x', 'cores_usable': 16},
               'options': {'width_factor': 1.0, 'steps': 20, 'warmup': 3},
               'probes': [ok('float32', 4, 100.0), ok('float32', 128, 900.0),
                          {'precision': 'float32', 'batch_size': 256, 'status': 'out_of_memory'},
                          ok('mixed_float16', 4, 120.0)],
               'skipped': [{'precision': 'mixed_float16', 'batch_size': 256}],
               'train_py': {'status': 'ok', 'batch_size': 4, 'batches_per_epoch': 100, 'step_s': 0.05,
                            'pairs_per_s': 80.0}}
    text = gpu.markdown(results)
    largest = text.split('**Largest batch run per precision**')[1].split('**')[0]
    assert '| float32       | 128               | 256                    | 900' in largest
    assert '| mixed_float16 | 4                 |' in largest
    not_measured = text.split('**Not measured**')[1].split('**')[0]
    assert 'out_of_memory' in not_measured and 'skipped (budget)' in not_measured
    assert 'train.py end to end' in text and 'NVIDIA H100 80GB HBM3' in text


def test_each_precision_has_its_flags_and_peak():
    options = gpu.parse(['--data_root', '/data'])
    flags = {precision: gpu.training_flags(options, precision, 4) for precision in gpu.PRECISIONS}

    def value(precision, flag):
        return flags[precision][flags[precision].index(flag) + 1]
    assert [value(p, '--tf32') for p in gpu.PRECISIONS] == ['0', '1', '0', '0']
    assert [value(p, '--mixed_precision') for p in gpu.PRECISIONS] == ['0', '0', '1', '0']
    peaks = gpu.device_peaks('NVIDIA H100 80GB HBM3')[1]
    assert [peaks[gpu.PEAK_KIND[p]] for p in gpu.PRECISIONS] == [66.9, 494.7, 989.4, 989.4]
    assert sorted(gpu.LARGEST_BATCH_ORDER) == sorted(gpu.PRECISIONS)
