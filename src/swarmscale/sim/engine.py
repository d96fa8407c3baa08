"""Discrete-event simulation of a network of sites running a stream of training jobs.

The engine is small and exact: a heap of (time, sequence, event) where events are arrivals
and completions. After each event it asks the scheduler for placements; a placement starts a
job on `gpus` chips of one kind at one site, which then finishes at
now + tokens / (that kind's tokens/s for the job). Chips are freed at completion. Each start is
checked against the site's policy (chip bans, domestic share of busy chips) and counted as a
violation if it breaks one; policy-aware scheduling never makes such starts.

Schedulers are clients: they see the queue and a `NetworkState` and return placements.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from swarmscale.catalog import Catalog, Network, Policy
from swarmscale.catalog.schemas import ForbidRule, MinDomesticShare
from swarmscale.hardware import build_cluster
from swarmscale.sim.jobs import RateTable, SimJob

DOMESTIC_COUNTRY = "CN"


@dataclass(frozen=True)
class Placement:
    job: SimJob
    site: int
    kind: str


@dataclass
class SiteState:
    """Chips of each kind at one site: total and free, with the figures schedulers weigh."""

    id: str
    total: dict[str, int]
    free: dict[str, int]
    pue: float
    prices: tuple[float, ...]
    carbon_g_per_kwh: float
    policy: Policy | None
    busy_domestic: int = 0
    busy_foreign: int = 0

    def price_at(self, time_s: float) -> float:
        if len(self.prices) == 1:
            return self.prices[0]
        return self.prices[int(time_s // 3600) % 24]

    def energy_cost_per_kwh(self, start_s: float, end_s: float) -> float:
        """Mean price over [start, end): flat, or the 24-hour profile integrated."""
        if len(self.prices) == 1 or end_s <= start_s:
            return self.price_at(start_s)
        hours = (end_s - start_s) / 3600.0
        return (_price_integral(self.prices, end_s) - _price_integral(self.prices, start_s)) / hours


def _price_integral(prices: tuple[float, ...], time_s: float) -> float:
    """Integral of an hourly price profile (repeating daily) from 0 to `time_s`, in $.h/kWh."""
    day = sum(prices)
    days, rest = divmod(time_s / 3600.0, 24.0)
    hours = int(rest)
    return days * day + sum(prices[:hours]) + prices[hours % 24] * (rest - hours)


@dataclass
class NetworkState:
    """What schedulers see: sites, free chips, job speeds, and policy checks."""

    sites: list[SiteState]
    rates: RateTable
    domestic: dict[str, bool]
    power_w: dict[str, float]
    policy_aware: bool = False

    def rate(self, job: SimJob, kind: str) -> float:
        if job.allowed is not None and kind not in job.allowed:
            return 0.0
        return self.rates.tokens_per_s(job.model, kind, job.gpus)

    def violation(self, job: SimJob, site: int, kind: str) -> str | None:
        """The site rule a start would break, or None."""
        state = self.sites[site]
        policy = state.policy
        if policy is None:
            return None
        for rule in policy.rules:
            if (
                isinstance(rule, ForbidRule)
                and kind in rule.chips
                and "training" in (rule.workloads)
            ):
                return f"{policy.id}:{rule.id}"
            if isinstance(rule, MinDomesticShare) and not self.domestic[kind]:
                busy = state.busy_domestic + state.busy_foreign + job.gpus
                if state.busy_domestic < rule.share * busy - 1e-9:
                    return f"{policy.id}:{rule.id}"
        return None

    def largest_free(self) -> int:
        return max((free for site in self.sites for free in site.free.values()), default=0)

    def book(self, placement: Placement) -> None:
        """Take the chips of a placement (the engine then starts the job on them)."""
        job, site, kind = placement.job, self.sites[placement.site], placement.kind
        site.free[kind] -= job.gpus
        if self.domestic[kind]:
            site.busy_domestic += job.gpus
        else:
            site.busy_foreign += job.gpus

    def can_place(self, job: SimJob, site: int, kind: str) -> bool:
        state = self.sites[site]
        if state.free.get(kind, 0) < job.gpus or self.rate(job, kind) <= 0:
            return False
        return not (self.policy_aware and self.violation(job, site, kind))


class JobQueue:
    """Waiting jobs in buckets by GPU count, each a heap by the scheduler's priority, so that a
    scheduling pass only looks at bucket heads that could fit (cheap with long queues)."""

    def __init__(self, priority: Callable[[SimJob], float]) -> None:
        self.priority = priority
        self.buckets: dict[int, list[tuple[float, int, SimJob]]] = {}
        self.size = 0
        self.gpus = 0

    def push(self, job: SimJob) -> None:
        heapq.heappush(self.buckets.setdefault(job.gpus, []), (self.priority(job), job.id, job))
        self.size += 1
        self.gpus += job.gpus

    def __len__(self) -> int:
        return self.size

    def head(self, limit: int) -> list[SimJob]:
        """Up to `limit` jobs in priority order across buckets (for whole-queue decisions)."""
        merged = heapq.nsmallest(
            limit, (entry for bucket in self.buckets.values() for entry in bucket)
        )
        return [job for _, _, job in merged]

    def take(
        self, choose: Callable[[SimJob], Placement | None], state: NetworkState
    ) -> list[Placement]:
        """Start jobs in priority order while any bucket head can be placed; a head that cannot
        be placed blocks its bucket for this pass (same-size jobs queue behind it)."""
        placements: list[Placement] = []
        blocked: set[int] = set()
        while True:
            room = state.largest_free()
            heads = [
                (bucket[0], gpus)
                for gpus, bucket in self.buckets.items()
                if bucket and gpus <= room and gpus not in blocked
            ]
            if not heads:
                return placements
            (_, _, job), gpus = min(heads, key=lambda head: head[0][:2])
            placement = choose(job)
            if placement is None:
                blocked.add(gpus)
                continue
            heapq.heappop(self.buckets[gpus])
            self.size -= 1
            self.gpus -= job.gpus
            state.book(placement)
            placements.append(placement)


class Scheduler:
    """Decides which queued jobs start where. Subclasses implement `schedule`; `priority`
    orders the queue (arrival time unless a scheduler says otherwise)."""

    name = "base"

    def priority(self, job: SimJob, state: NetworkState) -> float:
        return job.arrival_s

    def schedule(self, now: float, queue: JobQueue, state: NetworkState) -> list[Placement]:
        raise NotImplementedError


@dataclass
class SimResult:
    """Every job's outcome and the network's accumulated figures."""

    jobs: list[SimJob]
    busy_chip_s: dict[tuple[str, str], float]
    capacity: dict[tuple[str, str], int]
    energy_kwh: float
    energy_cost_usd: float
    carbon_kg: float
    domestic_chip_s: float
    violations: int
    timeline: list[tuple[float, int]] = field(default_factory=list)
    events: int = 0
    end_s: float = 0.0


def network_state(
    catalog: Catalog, network: Network, rates: RateTable, policy_aware: bool
) -> NetworkState:
    sites = []
    kinds: set[str] = set()
    for site in network.sites:
        prices = site.power_price_usd_per_kwh
        price_tuple = prices if isinstance(prices, tuple) else (prices,)
        policy = catalog.policy(site.policy) if site.policy else None
        inventory = {catalog.chip(chip).id: count for chip, count in site.inventory.items()}
        kinds.update(inventory)
        sites.append(
            SiteState(
                site.id,
                dict(inventory),
                dict(inventory),
                site.pue,
                price_tuple,
                site.carbon_g_per_kwh,
                policy,
            )
        )
    domestic = {k: catalog.chip(k).design_country == DOMESTIC_COUNTRY for k in kinds}
    power = {k: build_cluster(catalog, k, 8).it_power_per_chip_w for k in kinds}
    return NetworkState(sites, rates, domestic, power, policy_aware)


def simulate(
    catalog: Catalog,
    network: Network,
    jobs: list[SimJob],
    scheduler: Scheduler,
    rates: RateTable,
    policy_aware: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SimResult:
    """Run every job through the network; jobs that can never start are left unfinished."""
    state = network_state(catalog, network, rates, policy_aware)
    events: list[tuple[float, int, int, int]] = []  # (time, kind 0=finish 1=arrival, seq, job)
    for job in jobs:
        heapq.heappush(events, (job.arrival_s, 1, job.id, job.id))
    by_id = {job.id: job for job in jobs}
    queue = JobQueue(lambda job: scheduler.priority(job, state))
    busy: dict[tuple[str, str], float] = {}
    capacity = {(s.id, k): n for s in state.sites for k, n in s.total.items()}
    totals = {"energy_kwh": 0.0, "cost": 0.0, "carbon_kg": 0.0, "domestic": 0.0}
    violations = 0
    timeline: list[tuple[float, int]] = []
    in_use = 0
    processed = 0
    now = 0.0
    while events:
        now, kind, _, job_id = heapq.heappop(events)
        processed += 1
        job = by_id[job_id]
        if kind == 1:
            queue.push(job)
        else:
            site = state.sites[job.site]
            site.free[job.kind] += job.gpus
            in_use -= job.gpus
            if state.domestic[job.kind]:
                site.busy_domestic -= job.gpus
            else:
                site.busy_foreign -= job.gpus
        if events and events[0][0] == now:
            continue  # gather simultaneous events before scheduling
        for placement in scheduler.schedule(now, queue, state) if len(queue) else []:
            job, site_index, chip = placement.job, placement.site, placement.kind
            site = state.sites[site_index]
            # The chips are booked already; check the start against the site's rules as the
            # booking left them (this start included).
            violations += _breaks_rule(state, job, site_index, chip)
            in_use += job.gpus
            duration = job.tokens / state.rate(job, chip)
            job.start_s, job.finish_s, job.site, job.kind = now, now + duration, site_index, chip
            chip_s = job.gpus * duration
            busy[(site.id, chip)] = busy.get((site.id, chip), 0.0) + chip_s
            kwh = chip_s * state.power_w[chip] * site.pue / 3.6e6
            totals["energy_kwh"] += kwh
            totals["cost"] += kwh * site.energy_cost_per_kwh(now, now + duration)
            totals["carbon_kg"] += kwh * site.carbon_g_per_kwh / 1e3
            totals["domestic"] += chip_s if state.domestic[chip] else 0.0
            heapq.heappush(events, (job.finish_s, 0, job.id, job.id))
        timeline.append((now, in_use))
        if progress is not None and processed % 1000 == 0:
            progress(processed)
    return SimResult(
        jobs,
        busy,
        capacity,
        totals["energy_kwh"],
        totals["cost"],
        totals["carbon_kg"],
        totals["domestic"],
        violations,
        timeline,
        processed,
        now,
    )


def _breaks_rule(state: NetworkState, job: SimJob, site_index: int, kind: str) -> bool:
    """Whether a start just booked breaks its site's rules (undo the booking to ask)."""
    site = state.sites[site_index]
    counter = "busy_domestic" if state.domestic[kind] else "busy_foreign"
    setattr(site, counter, getattr(site, counter) - job.gpus)
    broken = state.violation(job, site_index, kind) is not None
    setattr(site, counter, getattr(site, counter) + job.gpus)
    return broken


def run_time_s(result: SimResult) -> float:
    finished = [job.finish_s for job in result.jobs if job.started]
    return max(finished) if finished else 0.0


def utilisation(result: SimResult) -> dict[str, float]:
    """Busy chip-seconds / available chip-seconds, per site:kind, over the makespan."""
    span = run_time_s(result) - min((job.arrival_s for job in result.jobs), default=0.0)
    if span <= 0:
        return {f"{site}:{kind}": 0.0 for site, kind in result.capacity}
    return {
        f"{site}:{kind}": float(
            np.clip(result.busy_chip_s.get((site, kind), 0.0) / (count * span), 0.0, 1.0)
        )
        for (site, kind), count in result.capacity.items()
        if count
    }
