"""Where sweep points are evaluated: local processes (default) or a Ray cluster.

Tasks carry their own draws, so every executor returns the same numbers for the same seed.
Workers load the shipped catalog themselves (it is cached per process).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from swarmscale.catalog import default_catalog
from swarmscale.sweep.scenarios import PointTask, evaluate_task


def _evaluate(task: PointTask) -> dict[str, Any]:
    return evaluate_task(default_catalog(), task)


def run_local(
    tasks: list[PointTask], workers: int = 2, progress: Callable[[int], None] | None = None
) -> list[dict[str, Any]]:
    """Evaluate on a local process pool (in-process when there is one task or one worker)."""
    if workers <= 1 or len(tasks) <= 1:
        results = []
        for done, task in enumerate(tasks, start=1):
            results.append(_evaluate(task))
            if progress:
                progress(done)
        return results
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = []
        for done, result in enumerate(pool.map(_evaluate, tasks), start=1):
            results.append(result)
            if progress:
                progress(done)
        return results


def run_ray(
    tasks: list[PointTask],
    address: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Evaluate as Ray tasks (`pip install swarmscale[ray]`); a local Ray instance by default."""
    try:
        import ray
    except ImportError as exc:
        raise ValueError("--ray needs Ray: pip install 'swarmscale[ray]'") from exc
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            num_cpus=None if address else 2,
        )
    try:
        remote = ray.remote(_evaluate)
        futures = [remote.remote(task) for task in tasks]
        results = []
        for done, future in enumerate(futures, start=1):
            results.append(ray.get(future))
            if progress:
                progress(done)
        return results
    finally:
        if started_here:
            ray.shutdown()
