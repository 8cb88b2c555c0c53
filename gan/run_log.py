"""What a person reads of a run: a CSV row per epoch, TensorBoard scalars and images, a loss-curve PNG,
and the sample sheets the caller draws.

The TensorBoard events are written with the tensorboard package's record writer and protocol buffers,
which need no TensorFlow (tf.summary would import it on every backend): one event file per RunLog, the
records TensorBoard reads (a file-version event, then one scalar event per loss and epoch, one image
event per sheet). Without the tensorboard package (a machine with only keras and jax) no event file is
written, and the run says so once."""
import csv
import io
import os
import socket
import time

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

try:   # TensorBoard's files need its package (pure Python); without it the CSV and the PNGs remain
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter
except ImportError:
    event_pb2 = None

from gan import atomic
from gan.checkpoints import writing

CSV_NAME = 'training_log.csv'
CURVES_NAME = 'loss_curves.png'
NOT_CURVES = ('seconds',)   # logged per epoch, but not a loss
# The loss curves are drawn again at most this often, and when the run ends or stops: a drawing takes
# about 0.6 s of 2 CPU cores, which short epochs (a CPU run, the tests) would pay at every epoch.
CURVES_EVERY_SECONDS = 60


def _atomic_write_bytes(path, data):
    with writing(path):
        atomic.write_bytes(path, data)


def save_png(path, image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='PNG')
    _atomic_write_bytes(path, buffer.getvalue())


class RunLog:
    """CSV (``training_log.csv``), TensorBoard events and ``loss_curves.png`` in ``log_dir`` (drawn
    at most every CURVES_EVERY_SECONDS while the run goes on, and by draw_curves at its end)."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.undrawn_rows = None   # the CSV rows, when loss_curves.png does not show them all yet
        self.curves_drawn = time.monotonic()
        self.csv_path = os.path.join(log_dir, CSV_NAME)
        self.tensorboard_dir = os.path.join(log_dir, 'tensorboard')
        with writing(self.tensorboard_dir):
            os.makedirs(log_dir, exist_ok=True)
        self.events_path = None
        if event_pb2 is None:
            print('the tensorboard package is not installed: no TensorBoard events (the CSV and the loss '
                  'curves are written)', flush=True)
            return
        with writing(self.tensorboard_dir):
            os.makedirs(self.tensorboard_dir, exist_ok=True)
        self.events_path = os.path.join(self.tensorboard_dir, 'events.out.tfevents.%d.%s.%d'
                                        % (time.time(), socket.gethostname(), os.getpid()))
        self._write_event(event_pb2.Event(file_version='brain.Event:2'))

    def _write_event(self, event):
        """Appends one record to the event file (opened for each write: an epoch writes a few)."""
        event.wall_time = event.wall_time or time.time()
        with writing(self.tensorboard_dir), open(self.events_path, 'ab') as f:
            RecordWriter(f).write(event.SerializeToString())

    def _write_summary(self, epoch, values):
        if self.events_path is None:
            return
        self._write_event(event_pb2.Event(step=int(epoch), summary=summary_pb2.Summary(value=values)))

    def read_rows(self):
        if not os.path.exists(self.csv_path):
            return []
        with open(self.csv_path, newline='') as f:
            return list(csv.DictReader(f))

    def log_epoch(self, epoch, values):
        """One row per epoch; rows of this epoch or later (a run resumed after a stop) are replaced."""
        rows = [row for row in self.read_rows() if int(row['epoch']) < epoch]
        rows.append(dict({'epoch': epoch}, **{k: '%.6g' % float(v) for k, v in values.items()}))
        names = ['epoch'] + sorted({k for row in rows for k in row if k != 'epoch'})
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=names, restval='')
        writer.writeheader()
        writer.writerows(rows)
        _atomic_write_bytes(self.csv_path, text.getvalue().encode())
        if self.events_path is not None:
            self._write_summary(epoch, [summary_pb2.Summary.Value(tag=name, simple_value=float(value))
                                        for name, value in values.items()])
        self.undrawn_rows = rows
        if time.monotonic() - self.curves_drawn >= CURVES_EVERY_SECONDS:
            self.draw_curves()

    def log_image(self, epoch, name, image):
        if self.events_path is None:
            return
        image = np.asarray(image)
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format='PNG')
        encoded = summary_pb2.Summary.Image(height=image.shape[0], width=image.shape[1], colorspace=image.shape[2],
                                            encoded_image_string=buffer.getvalue())
        self._write_summary(epoch, [summary_pb2.Summary.Value(tag=name, image=encoded)])

    def draw_curves(self):
        """loss_curves.png of every epoch logged, unless it shows them already."""
        if self.undrawn_rows is None:
            return
        buffer = io.BytesIO()
        curves_figure(self.undrawn_rows).savefig(buffer, format='png')
        _atomic_write_bytes(os.path.join(self.log_dir, CURVES_NAME), buffer.getvalue())
        self.undrawn_rows, self.curves_drawn = None, time.monotonic()


def curves_figure(rows):
    """One panel per loss column of the CSV rows, against whole epochs."""
    names = sorted({k for row in rows for k in row if k != 'epoch' and k not in NOT_CURVES})
    figure = Figure(figsize=(10, 3 * ((len(names) + 2) // 3)), dpi=80)
    FigureCanvasAgg(figure)
    for i, name in enumerate(names):
        points = [(int(r['epoch']), float(r[name])) for r in rows if r.get(name) not in (None, '')]
        axis = figure.add_subplot((len(names) + 2) // 3, 3, i + 1)
        axis.plot([p[0] for p in points], [p[1] for p in points], marker='o', markersize=3)
        axis.set_title(name)
        axis.set_xlabel('epoch')
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return figure
