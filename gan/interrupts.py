"""Stopping a run cleanly on Ctrl-C (SIGINT) or SIGTERM (what a cluster scheduler or a preemptible
machine sends before it kills a job).

Inside ``StopRequests`` a signal only records the request: the training loop finishes the step in
progress, writes the resume state at that step and exits with 128 + the signal's number (130 for
SIGINT, 143 for SIGTERM). A second signal while the state is written does not cut the write short:
it is announced and the write finishes, so the state on disk is always whole.
"""
import signal
import sys
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(Exception):
    """The run stopped at a signal after writing its resume state; ``exit_status`` is 128 + signal."""

    def __init__(self, message, signal_number):
        super().__init__(message)
        self.exit_status = 128 + int(signal_number)


class StopRequests:
    """Context manager: records SIGINT / SIGTERM in ``signal_number`` instead of stopping the process
    (main thread only; elsewhere it does nothing, and the default handlers stay)."""

    def __init__(self):
        self.signal_number = None
        self.saving = False
        self._previous = {}

    @property
    def requested(self):
        return self.signal_number is not None

    @property
    def signal_name(self):
        return signal.Signals(self.signal_number).name

    def _handle(self, number, frame):
        if self.saving:
            print('\n%s: the resume state is being written; it finishes first, then the run stops'
                  % signal.Signals(number).name, file=sys.stderr, flush=True)
        elif self.requested:
            print('\n%s again: stopping after the current step, once its state is written'
                  % signal.Signals(number).name, file=sys.stderr, flush=True)
        else:
            print('\n%s: stopping after the current step (the resume state is written there)'
                  % signal.Signals(number).name, file=sys.stderr, flush=True)
        if self.signal_number is None:
            self.signal_number = number

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}
        return False
