"""The dask runner: one task per batch-means group, on the workers of a ``dask.distributed.Client``.

A group's state depends only on its own batches, in order (:mod:`spectra.estimate.moments`), so the groups
are independent tasks and the result equals the single-process one. A task lost with its worker is
recomputed by dask from the same seed and gives the same numbers.
"""

from __future__ import annotations

from spectra.estimate.moments import GroupMoments, batch_statistics

__all__ = ["group_task", "run_dask"]


def group_task(generator, maps, root, g: int, batches: list[tuple[int, int]], dtype, shape) -> dict:
    """Worker task: the state of group ``g`` over its ``(batch index, size)`` list, in order."""
    state = GroupMoments(1, shape[1], shape[2])
    for j, size in batches:
        state.add(0, *batch_statistics(generator, maps, root, j, size, dtype, shape[1]))
    return state.arrays()


def run_dask(client, generator, maps, root, sizes: dict[int, int], G: int, dtype, shape, progress: bool):
    """Submit one :func:`group_task` per non-empty group and collect the groups as they finish."""
    try:
        from distributed import as_completed
    except ImportError as exc:  # pragma: no cover - only without the extra
        raise ImportError("client= needs dask.distributed: pip install 'gaussequiv[distributed]'") from exc
    from tqdm.auto import tqdm

    from gaussequiv.progress import show as show_progress

    futures = {}
    for g in range(G):
        batches = [(j, s) for j, s in sizes.items() if j % G == g]
        if batches:
            fut = client.submit(group_task, generator, maps, root, g, batches, dtype, shape, pure=False)
            futures[fut] = (g, sum(s for _, s in batches))
    state = GroupMoments(*shape)
    with tqdm(total=sum(sizes.values()), disable=not show_progress(progress), unit="samples",
              desc="covariances") as bar:
        for fut in as_completed(list(futures)):
            g, size = futures[fut]
            part = GroupMoments.from_arrays(fut.result(), where=f"group {g} result")
            if int(part.n[0]) != size:
                raise RuntimeError(f"group {g} came back from its worker with {int(part.n[0])} samples, expected "
                                   f"{size}; the result was not used")
            state.set_group(g, part)
            bar.update(size)
    return state
