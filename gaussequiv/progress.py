"""When progress bars are shown: one rule for every package and every subcommand.

Functions that can show a tqdm bar take ``progress``: ``True`` shows it, ``False`` hides it, and ``None``
(the default everywhere) shows it only where a person is watching: on a terminal (standard error is a TTY)
or in a Jupyter notebook. Output redirected to a file or a pipe (a batch job's log, ``2> log``) therefore
carries no bar lines.
"""

from __future__ import annotations

import sys

__all__ = ["show"]


def _in_notebook() -> bool:
    """True when ``tqdm.auto`` would draw notebook widgets (an IPython kernel, not a terminal)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:  # pragma: no cover - a module named IPython that is not IPython
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def show(progress: bool | None, stream=None) -> bool:
    """Whether to draw a progress bar.

    Parameters
    ----------
    progress : bool or None
        ``True`` or ``False`` decide; ``None`` means: only on a terminal (``stream.isatty()``) or in a notebook.
    stream : file-like, optional
        Where the bar would go (default: ``sys.stderr``, where tqdm writes).

    Returns
    -------
    bool

    Examples
    --------
    >>> import io
    >>> show(None, io.StringIO())   # redirected output: no bar
    False
    >>> show(True, io.StringIO())
    True
    """
    if progress is not None:
        return bool(progress)
    stream = sys.stderr if stream is None else stream
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        tty = False
    return tty or _in_notebook()
