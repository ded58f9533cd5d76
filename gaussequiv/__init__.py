"""gaussequiv: the command line (``gaussequiv --help``), the demo, and the conventions shared by every package.

* :mod:`gaussequiv.checks` -- argument checks (one wording, one behaviour);
* :mod:`gaussequiv.seeding` -- the one way to take randomness, with independent streams per kind of object;
* :mod:`gaussequiv.integrity` -- detects a foreign package shadowing one of ours;
* :mod:`gaussequiv.progress` -- when progress bars are drawn (only on a terminal unless asked);
* :mod:`gaussequiv.tables` -- the one CSV writer (header row, JSON metadata sidecar);
* :mod:`gaussequiv.specs` -- the command line's grammar (generator, features, loss, channel, teacher, grids).

``__version__`` below is the package's only version string (setup.cfg reads it).
"""

__version__ = "0.1.0"
