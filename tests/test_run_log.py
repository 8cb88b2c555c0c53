"""The TensorBoard events the run log writes without TensorFlow, read back by TensorBoard's own loader."""
import numpy as np

from gan.run_log import RunLog


def test_tensorboard_reads_the_scalars_and_the_sheet(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    log = RunLog(str(tmp_path))
    log.log_epoch(0, {'G_total': 2.5, 'D_total': 1.25})
    log.log_epoch(1, {'G_total': 2.0, 'D_total': 1.5})
    sheet = np.zeros((8, 12, 3), np.uint8)
    sheet[2:4, 5:9] = (255, 128, 0)
    log.log_image(1, 'samples', sheet)
    events = EventAccumulator(str(tmp_path / 'tensorboard'))
    events.Reload()
    assert sorted(events.Tags()['scalars']) == ['D_total', 'G_total']
    assert [(e.step, e.value) for e in events.Scalars('G_total')] == [(0, 2.5), (1, 2.0)]
    image, = events.Images('samples')
    assert (image.step, image.width, image.height) == (1, 12, 8)
    from io import BytesIO

    from PIL import Image
    assert np.array_equal(np.asarray(Image.open(BytesIO(image.encoded_image_string))), sheet)
    assert (tmp_path / 'training_log.csv').read_text().splitlines()[0] == 'epoch,D_total,G_total'


def test_loss_curves_are_drawn_at_most_once_a_minute_and_at_the_end(tmp_path, monkeypatch):
    import time
    import types

    from gan import run_log
    clock = [1000.0]
    monkeypatch.setattr(run_log, 'time', types.SimpleNamespace(monotonic=lambda: clock[0], time=time.time))
    curves = tmp_path / run_log.CURVES_NAME
    log = RunLog(str(tmp_path))
    log.log_epoch(0, {'G_total': 2.5})
    assert not curves.exists()                   # less than a minute since the run started logging
    clock[0] += run_log.CURVES_EVERY_SECONDS
    log.log_epoch(1, {'G_total': 2.0})
    first = curves.read_bytes()                  # a minute later: epochs 0 and 1
    log.log_epoch(2, {'G_total': 1.5})
    assert curves.read_bytes() == first
    log.draw_curves()                            # the run's end: epoch 2 too
    assert curves.read_bytes() != first
    curves.unlink()
    log.draw_curves()                            # nothing new to draw
    assert not curves.exists()
