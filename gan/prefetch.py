"""``OrderedPrefetcher``: ``function(task)`` of every task, computed ahead in worker processes and
yielded in task order. Imports neither keras nor tensorflow; a worker imports only what unpickling
``function`` needs.

Why not Keras' own workers: the ordered multi-process iteration of a ``keras.utils.PyDataset`` (its
enqueuer) is not public, it is reached only through ``Model.fit``, whose loop the project does not use,
and it sends the PyDataset itself to the workers, so every worker would import keras and its backend
(seconds and hundreds of MB each). Why not ``multiprocessing``: its ``spawn`` and ``forkserver`` start
methods run the main script again in every worker (a script without a ``__main__`` guard starts
itself over), and ``fork`` copies a process that runs TensorFlow's or JAX's threads. So each worker is
a fresh ``python`` started by ``subprocess``, reading pickled tasks on its stdin and writing pickled
results on its stdout.

Worker k computes tasks k, k + n, k + 2n, ..., so the results come back in order with no reordering
buffer; at most ``depth`` tasks per worker are handed out ahead of the consumer (bounded memory). A
worker ignores SIGINT (the consumer decides what an interrupt stops) and ends when its stdin closes:
on ``close()``, when the prefetcher is collected or the interpreter exits, and when the consumer's
process dies, even by SIGKILL (the pipe closes with it). Ended workers are waited for (no zombies).
"""
import os
import pickle
import signal
import subprocess
import sys
import weakref

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_WORKER_COMMAND = 'import sys; sys.path.insert(0, %r); from gan.prefetch import _serve; _serve()' % _PACKAGE_ROOT
# One thread per worker for numpy's BLAS: the workers are the parallelism.
_WORKER_THREADS = {name: '1' for name in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')}


def _serve():
    """A worker's loop: sys.path, then the function, then (index, task) messages until None or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tasks = sys.stdin.buffer
    results = os.fdopen(os.dup(1), 'wb')
    os.dup2(2, 1)   # stray prints go to stderr, not into the results
    try:
        sys.path[:] = pickle.load(tasks)
        function = pickle.load(tasks)
        while True:
            task = pickle.load(tasks)
            if task is None:
                return
            index, argument = task
            try:
                result = (index, True, function(argument))
            except Exception as error:   # raised by the consumer at this task's place
                result = (index, False, error)
            try:
                data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as error:   # e.g. an exception that cannot be pickled
                data = pickle.dumps((index, False, RuntimeError('%s: %s' % (type(error).__name__, error))))
            results.write(data)
            results.flush()
    except (EOFError, BrokenPipeError, OSError):   # the consumer closed the pipes or died
        return


def _stop(processes):
    for process in processes:
        # EOF ends a worker waiting for a task; a closed result pipe ends one writing a result.
        for pipe in (process.stdin, process.stdout):
            try:
                pipe.close()
            except OSError:
                pass
    for process in processes:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class OrderedPrefetcher:
    """Iterator of ``function(task)`` for ``task`` in ``tasks``, in order, made by ``workers``
    processes (at least 1, at most one per task; none without tasks) with at most ``depth`` tasks per worker handed out
    ahead. ``function`` and the tasks must pickle, and ``function``'s module must import without the
    caller's main script. A task's exception is raised by ``next()`` at its place in the order.
    ``close()`` (or leaving the ``with`` block) stops the workers; an exhausted or failed iterator
    closes itself."""

    def __init__(self, function, tasks, workers, depth=2):
        self.tasks = list(tasks)
        self.workers = max(1, min(int(workers), len(self.tasks))) if self.tasks else 0
        self.depth = max(1, int(depth))
        preamble = pickle.dumps(list(sys.path)) + pickle.dumps(function, protocol=pickle.HIGHEST_PROTOCOL)
        self.processes = []
        self._finalizer = weakref.finalize(self, _stop, self.processes)
        environment = {**_WORKER_THREADS, **os.environ}
        for _ in range(self.workers):
            self.processes.append(subprocess.Popen([sys.executable, '-c', _WORKER_COMMAND], env=environment,
                                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE))
        for process in self.processes:   # all started first: each reads its preamble while it starts
            self._send(process, preamble)
        self.handed_out = 0
        self.next_index = 0
        self._hand_out()

    def _send(self, process, data):
        try:
            process.stdin.write(data)
            process.stdin.flush()
        except BrokenPipeError:
            self._worker_ended(process)

    def _worker_ended(self, process):
        process.wait()
        self.close()
        raise RuntimeError('data worker (pid %d) ended with exit code %s while batch %d was due: see its '
                           'message above' % (process.pid, process.returncode, self.next_index)) from None

    def _hand_out(self):
        limit = min(len(self.tasks), self.next_index + self.depth * self.workers)
        while self.handed_out < limit:
            process = self.processes[self.handed_out % self.workers]
            self._send(process, pickle.dumps((self.handed_out, self.tasks[self.handed_out]),
                                             protocol=pickle.HIGHEST_PROTOCOL))
            self.handed_out += 1

    def __iter__(self):
        return self

    def __len__(self):
        return len(self.tasks)

    def __next__(self):
        if self.next_index >= len(self.tasks) or not self._finalizer.alive:
            self.close()
            raise StopIteration
        process = self.processes[self.next_index % self.workers]
        try:
            index, ok, value = pickle.load(process.stdout)
        except (EOFError, pickle.UnpicklingError, OSError):
            self._worker_ended(process)
        if index != self.next_index:
            self.close()
            raise RuntimeError('data worker (pid %d) sent batch %d when %d was due' % (process.pid, index,
                                                                                      self.next_index))
        self.next_index += 1
        if not ok:
            self.close()
            raise value
        self._hand_out()
        return value

    def close(self):
        """Stops the workers and waits for them (idempotent)."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
