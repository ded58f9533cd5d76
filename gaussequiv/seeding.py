"""The one way randomness enters gaussequiv: a seed normaliser and independent streams per kind of object.

Every function that draws takes ``seed``: an int ``>= 0``, a :class:`numpy.random.SeedSequence` or a
:class:`numpy.random.Generator`. ``None`` is refused (runs must be reproducible); a negative int is refused
(numpy's ``SeedSequence`` rejects it too).

Objects of different kinds built from the same seed must not share a stream: ``SingleLayer(D, N, seed=0)``
and ``LinearTeacher.random(D, seed=0)`` would otherwise draw the same numbers, and the teacher would equal a
row of the generator's weights. :func:`stream` therefore tags the seed with the kind of object (a fixed
integer per kind, appended to the spawn key), so the same user seed gives statistically independent streams
for a generator, a teacher, a feature map, a student, ... while staying reproducible.
"""

from __future__ import annotations

import numbers
import zlib

import numpy as np

__all__ = ["SeedLike", "seed_sequence", "stream", "rng"]

SeedLike = int | np.integer | np.random.Generator | np.random.SeedSequence


def seed_sequence(seed: SeedLike, name: str = "seed") -> np.random.SeedSequence:
    """A :class:`numpy.random.SeedSequence` from an int ``>= 0``, a ``Generator`` or a ``SeedSequence``.

    A ``Generator`` is consumed (four 63-bit draws), so passing the same ``Generator`` twice gives two
    different but reproducible streams, as numpy users expect. A ``SeedSequence`` is returned as is.

    Raises
    ------
    TypeError
        ``seed`` is None, a bool, a float or another type.
    ValueError
        ``seed`` is a negative int.

    Examples
    --------
    >>> seed_sequence(3).entropy
    3
    >>> seed_sequence(-1)
    Traceback (most recent call last):
    ...
    ValueError: seed must be an int >= 0, got -1
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4).tolist())
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        got = "None" if seed is None else type(seed).__name__
        raise TypeError(f"{name} must be an int >= 0, a numpy.random.SeedSequence or a numpy.random.Generator, "
                        f"got {got} (pass an explicit seed: runs must be reproducible)")
    if seed < 0:
        raise ValueError(f"{name} must be an int >= 0, got {seed}")
    return np.random.SeedSequence(int(seed))


def _kind_tag(kind: str) -> int:
    """A fixed 32-bit integer per kind name (CRC-32: stable across processes and Python versions)."""
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"kind must be a non-empty string, got {kind!r}")
    return zlib.crc32(kind.encode("utf-8"))


def stream(seed: SeedLike, kind: str, name: str = "seed") -> np.random.SeedSequence:
    """The seed sequence of one kind of object (``"generator"``, ``"teacher"``, ``"features"``, ...).

    ``stream(s, "teacher")`` and ``stream(s, "generator")`` are independent for every seed ``s``, and each
    is reproducible. Children of the result (``.spawn``) stay inside that kind's stream.

    Examples
    --------
    >>> a = np.random.default_rng(stream(0, "generator")).standard_normal(3)
    >>> b = np.random.default_rng(stream(0, "teacher")).standard_normal(3)
    >>> bool(np.any(a != b))
    True
    >>> bool(np.all(a == np.random.default_rng(stream(0, "generator")).standard_normal(3)))
    True
    """
    ss = seed_sequence(seed, name)
    return np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, _kind_tag(kind)),
                                  pool_size=ss.pool_size)


def rng(seed: SeedLike, kind: str, name: str = "seed") -> np.random.Generator:
    """``numpy.random.default_rng(stream(seed, kind))``: a Generator for one kind of object."""
    return np.random.default_rng(stream(seed, kind, name))
