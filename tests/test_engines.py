"""What the engines read from the environment: the process numbers of a jax.distributed run."""
import pytest

pytest.importorskip('jax')
from gan.engines.jax_engine import process_numbers  # noqa: E402


def test_process_numbers_are_read_from_the_environment():
    assert process_numbers({'JAX_NUM_PROCESSES': '2', 'JAX_PROCESS_ID': '1'}) == (2, 1)
    assert process_numbers({'JAX_NUM_PROCESSES': ' 4 ', 'JAX_PROCESS_ID': '0'}) == (4, 0)


@pytest.mark.parametrize('environ, message', [
    ({'JAX_PROCESS_ID': '0'}, 'JAX_COORDINATOR_ADDRESS is set, so JAX_NUM_PROCESSES must be set too'),
    ({'JAX_NUM_PROCESSES': '2'}, 'JAX_COORDINATOR_ADDRESS is set, so JAX_PROCESS_ID must be set too'),
    ({'JAX_NUM_PROCESSES': 'two', 'JAX_PROCESS_ID': '0'}, "JAX_NUM_PROCESSES must be a whole number of at least 1, got 'two'"),
    ({'JAX_NUM_PROCESSES': '0', 'JAX_PROCESS_ID': '0'}, "JAX_NUM_PROCESSES must be a whole number of at least 1, got '0'"),
    ({'JAX_NUM_PROCESSES': '2', 'JAX_PROCESS_ID': '-1'}, "JAX_PROCESS_ID must be a whole number of at least 0, got '-1'"),
    ({'JAX_NUM_PROCESSES': '2', 'JAX_PROCESS_ID': '1.5'}, "JAX_PROCESS_ID must be a whole number of at least 0, got '1.5'"),
    ({'JAX_NUM_PROCESSES': '2', 'JAX_PROCESS_ID': '2'}, 'JAX_PROCESS_ID=2 names no process of JAX_NUM_PROCESSES=2 '
                                                        '(they are numbered 0 to 1)'),
])
def test_bad_process_numbers_are_named(environ, message):
    with pytest.raises(ValueError) as error:
        process_numbers(environ)
    assert str(error.value).startswith(message), str(error.value)
