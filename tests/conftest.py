"""Shared pytest configuration: a bounded, derandomised hypothesis profile for CI."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# A fresh covariance cache per test session, so that no test reads spectra cached by an earlier run or by the user
# (a CI machine starts empty too); tests that exercise the cache itself point it at their own tmp_path.
if "GAUSSEQUIV_TEST_KEEP_CACHE" not in os.environ:
    import tempfile

    os.environ["GAUSSEQUIV_CACHE"] = tempfile.mkdtemp(prefix="gaussequiv-test-cache-")

# linecache.checkcache (called by doctest's debugger at every example) lists the cache's keys, then reads each
# entry; sympy.lambdify's entries are removed by weakref finalizers, so a garbage collection between the two
# steps raised KeyError in whichever doctest ran then (seen once, in a clean-clone run of the suite). The
# library's functions carry no entry (replica._symbolic.lambdify); the tests' own sp.lambdify functions do, so
# a walk that meets a vanished entry is simply repeated on what is left.
import linecache  # noqa: E402

_checkcache = linecache.checkcache


def _checkcache_tolerant(filename=None):
    for _ in range(10):
        try:
            return _checkcache(filename)
        except KeyError:  # an entry removed while it was being checked: walk the remaining ones again
            continue
    return _checkcache(filename)


linecache.checkcache = _checkcache_tolerant
