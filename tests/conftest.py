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
