r"""Streaming Monte Carlo estimation of the feature covariances of a generator (theory §3.1).

Latents ``c ~ N(0, I_D)`` are drawn in batches; batch ``j`` uses child ``j`` of the estimator's own seed
stream, ``gaussequiv.seeding.stream(seed, "estimate.latents")``, so any subset of batches can be computed
anywhere (another process, a resumed run, a dask worker) and gives the same numbers. The student features are
``v = features(G(c))`` and the teacher features are the latents ``u = c`` (``k = D``, ``Psi ~ I_D``) unless
``teacher_features`` is given.

Each batch is reduced to its size, means and centred cross-products, which are added to one of ``groups``
accumulators (batch ``j`` goes to group ``j % groups``) with the exact pooled (Chan) update. The estimate
pools the groups; the spread of the group estimates gives batch-means standard errors of every entry and of
the leading eigenvalues. Covariances are normalised by ``n`` (the maximum-likelihood form of theory §3.1).

The work is split by job:

* :mod:`spectra.estimate.moments`: per-batch moments and the grouped pooled update (:class:`GroupMoments`);
* :mod:`spectra.estimate.fingerprint`: hashes of everything a model computes with (cache/checkpoint keys);
* :mod:`spectra.estimate.storage`: atomic writes, validated reads, cache keys and directories;
* :mod:`spectra.estimate.result`: :class:`CovarianceEstimate` (merge, halves, save/load);
* :mod:`spectra.estimate.driver`: :func:`estimate_covariances` (cache, checkpoint/resume, local run);
* :mod:`spectra.estimate.distributed`: the dask runner (one task per group).
"""

from spectra.estimate.driver import CONFIG_KEYS, SEED_KIND, estimate_covariances
from spectra.estimate.fingerprint import FingerprintError, fingerprint
from spectra.estimate.moments import GroupMoments, batch_moments
from spectra.estimate.result import MERGE_KEYS, CovarianceEstimate
from spectra.estimate.storage import EstimateFileError, StorageWarning, default_cache_dir

__all__ = ["CovarianceEstimate", "estimate_covariances", "default_cache_dir", "fingerprint", "FingerprintError",
           "EstimateFileError", "StorageWarning", "GroupMoments", "batch_moments", "CONFIG_KEYS", "MERGE_KEYS",
           "SEED_KIND"]
