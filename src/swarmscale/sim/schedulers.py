"""Schedulers for the network simulation, behind one interface and a registry.

- fifo: jobs in arrival order, each on the first site and chip kind with room (later jobs may
  start while an earlier, larger one waits).
- sjf: shortest job first, by its time on the fastest kind it may use.
- hetero: heterogeneity-aware, after Gavel's effective throughput (Narayanan et al., OSDI'20):
  when jobs contend for chips, an LP (HiGHS), re-solved at most once per 6-minute round as in
  Gavel and only when new jobs reach the head of the queue, shares each kind's free chips
  among the first 128 queued jobs to maximise the sum of
  throughputs normalised by each job's best kind; jobs start on the kind the LP gives them most
  of. Without contention (or for jobs the LP has not seen) each takes its fastest free kind.
- energy: like fifo, but each job goes where its tokens cost least in power (price now x PUE x
  chip power / speed), so flexible work moves to cheap-power sites.
Policy awareness is a switch on the network state (`--policy-aware`): every scheduler then
only sees placements that keep each site's rules.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from swarmscale.catalog.schemas import MinDomesticShare
from swarmscale.sim.engine import JobQueue, NetworkState, Placement, Scheduler, SiteState
from swarmscale.sim.jobs import SimJob

LP_QUEUE_LIMIT = 128
FALLBACK_SPEED = 0.5  # slowest kind a job takes, relative to its fastest
ROUND_S = 360.0  # Gavel's round length: the LP reallocates at most this often


def _kinds(state: NetworkState) -> list[str]:
    return sorted({kind for site in state.sites for kind in site.total})


def _usable(state: NetworkState, site: SiteState, kind: str) -> int:
    """Free chips of `kind` at `site` that a start may take: all of them, or under a
    policy-aware run and a domestic-share rule, only as many foreign chips as keep the share."""
    free = site.free.get(kind, 0)
    if not state.policy_aware or site.policy is None or state.domestic[kind]:
        return free
    for rule in site.policy.rules:
        if isinstance(rule, MinDomesticShare) and rule.share > 0:
            busy = site.busy_domestic + site.busy_foreign
            room = int(site.busy_domestic / rule.share) - busy
            free = min(free, max(room, 0))
    return free


def _first_fit(job: SimJob, state: NetworkState, kinds: list[str]) -> Placement | None:
    for index in range(len(state.sites)):
        for kind in kinds:
            if state.can_place(job, index, kind):
                return Placement(job, index, kind)
    return None


class FifoFirstFit(Scheduler):
    name = "fifo"

    def schedule(self, now: float, queue: JobQueue, state: NetworkState) -> list[Placement]:
        kinds = _kinds(state)
        return queue.take(lambda job: _first_fit(job, state, kinds), state)


class ShortestJobFirst(Scheduler):
    name = "sjf"

    def priority(self, job: SimJob, state: NetworkState) -> float:
        """Time on the fastest kind the job may use."""
        fastest = max((state.rate(job, kind) for kind in _kinds(state)), default=0.0)
        return job.tokens / fastest if fastest > 0 else float("inf")

    def schedule(self, now: float, queue: JobQueue, state: NetworkState) -> list[Placement]:
        kinds = _kinds(state)
        return queue.take(lambda job: _first_fit(job, state, kinds), state)


class HeteroAware(Scheduler):
    name = "hetero"

    def __init__(self) -> None:
        self.preferred: dict[int, list[str]] = {}
        self.last_round = -float("inf")

    def schedule(self, now: float, queue: JobQueue, state: NetworkState) -> list[Placement]:
        kinds = _kinds(state)
        if now - self.last_round >= ROUND_S:
            free = {kind: sum(_usable(state, site, kind) for site in state.sites) for kind in kinds}
            if queue.gpus > sum(free.values()):  # contended: share the chips by LP
                waiting = queue.head(LP_QUEUE_LIMIT)
                if any(job.id not in self.preferred for job in waiting):
                    self.preferred = self._by_lp(waiting, state, kinds, free)
                self.last_round = now

        def choose(job: SimJob) -> Placement | None:
            # The LP's kinds (or, for a job it has not seen, all kinds by speed). Under site
            # rules a kind the LP chose may be closed to the job, so other kinds at least half
            # as fast follow; without rules the job rather waits for its kind, as in Gavel.
            preferred = self.preferred.get(job.id) or self._by_speed(job, state, kinds)
            order = list(preferred)
            if state.policy_aware:
                fast = self._by_speed(job, state, kinds)
                floor = FALLBACK_SPEED * state.rate(job, fast[0]) if fast else 0.0
                order += [k for k in fast if k not in order and state.rate(job, k) >= floor]
            for kind in order:
                for index in range(len(state.sites)):
                    if state.can_place(job, index, kind):
                        return Placement(job, index, kind)
            return None

        return queue.take(choose, state)

    @staticmethod
    def _by_speed(job: SimJob, state: NetworkState, kinds: list[str]) -> list[str]:
        return sorted(
            (k for k in kinds if state.rate(job, k) > 0), key=lambda k: -state.rate(job, k)
        )

    @staticmethod
    def _by_lp(
        jobs: list[SimJob], state: NetworkState, kinds: list[str], free: dict[str, int]
    ) -> dict[int, list[str]]:
        """Gavel's max-sum-throughput allocation, x[j, k] in [0, 1]."""
        n_jobs, n_kinds = len(jobs), len(kinds)
        rates = np.asarray([[state.rate(job, kind) for kind in kinds] for job in jobs])
        best = rates.max(axis=1, keepdims=True)
        normalised = np.divide(rates, best, out=np.zeros_like(rates), where=best > 0)
        objective = -normalised.ravel()
        rows, bounds = [], []
        for j in range(n_jobs):  # each job at most one whole allocation
            row = np.zeros(n_jobs * n_kinds)
            row[j * n_kinds : (j + 1) * n_kinds] = 1.0
            rows.append(row)
            bounds.append(1.0)
        for k, kind in enumerate(kinds):  # chips of each kind
            row = np.zeros(n_jobs * n_kinds)
            row[k::n_kinds] = [job.gpus for job in jobs]
            rows.append(row)
            bounds.append(float(free[kind]))
        upper = np.where(rates.ravel() > 0, 1.0, 0.0)
        result = linprog(
            objective,
            A_ub=np.vstack(rows),
            b_ub=np.asarray(bounds),
            bounds=list(zip(np.zeros_like(upper), upper, strict=True)),
            method="highs",
        )
        shares = result.x.reshape(n_jobs, n_kinds) if result.x is not None else normalised
        return {
            job.id: [kinds[k] for k in np.argsort(-shares[j]) if shares[j, k] > 1e-6]
            for j, job in enumerate(jobs)
        }


class EnergyAware(Scheduler):
    name = "energy"

    def schedule(self, now: float, queue: JobQueue, state: NetworkState) -> list[Placement]:
        kinds = _kinds(state)

        def cheapest(job: SimJob) -> Placement | None:
            best: tuple[float, Placement] | None = None
            for index, site in enumerate(state.sites):
                for kind in kinds:
                    if not state.can_place(job, index, kind):
                        continue
                    per_token = (
                        site.price_at(now) * site.pue * state.power_w[kind] / state.rate(job, kind)
                    )
                    if best is None or per_token < best[0]:
                        best = (per_token, Placement(job, index, kind))
            return None if best is None else best[1]

        return queue.take(cheapest, state)


SCHEDULERS: dict[str, type[Scheduler]] = {
    cls.name: cls for cls in (FifoFirstFit, ShortestJobFirst, HeteroAware, EnergyAware)
}


def make_scheduler(name: str) -> Scheduler:
    if name not in SCHEDULERS:
        raise ValueError(f"--scheduler must be one of {', '.join(SCHEDULERS)}, got {name!r}")
    return SCHEDULERS[name]()
