"""``gaussequiv demo``: placeholder replaced by the replica demo."""


def register(sub) -> None:  # noqa: D103
    p = sub.add_parser("demo", help="run the built-in demonstration")
    p.set_defaults(func=lambda args: print("demo"))
