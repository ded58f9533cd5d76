"""One BLAS thread for the validation tests: many small matrix products run much faster single-threaded,
and multi-threaded OpenBLAS degrades badly when another process shares the two cores (measured: the
validation tests take 21 s with one thread and over 5 min with two under contention)."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _single_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn in the test extra
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
