"""Subcommands of the replica package (filled in by the replica engine)."""


def register(sub) -> None:  # noqa: D103
    return None
