"""gaussequiv: the command line (``gaussequiv --help``), the demo, and the conventions shared by every package.

* :mod:`gaussequiv.checks` -- argument checks (one wording, one behaviour);
* :mod:`gaussequiv.seeding` -- the one way to take randomness, with independent streams per kind of object;
* :mod:`gaussequiv.integrity` -- detects a foreign package shadowing one of ours.

``__version__`` below is the package's only version string (setup.cfg reads it).
"""

__version__ = "0.1.0"
