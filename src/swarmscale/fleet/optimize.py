"""What to buy: the cheapest (or fastest, or least energy) fleet that does a workload under a
sourcing policy, as a mixed-integer linear programme solved by HiGHS (scipy.optimize.milp).

Decision: u[k, s], whole units (a node of 8, or one serving replica) of chip kind k at site s.
  minimise   sum c[k, s] u[k, s]                 (cost, or energy, per unit over the project)
  subject to sum w[k] u[k, s] >= W               (work: training tokens, or serving tokens/s)
             sum_s u[k, s] <= available[k]       (supply)
             power, budget, rack and chip caps   (policy caps and site power caps)
             sum (d[k] - share) m[k] u[k, s] >= 0 for each domestic-share rule, where m is
             the rule's measure per unit (chips, peak FLOP/s or price) and d[k] = 1 for
             domestic chips: sum_domestic m u >= share x sum m u, linear in u
             u[k, s] = 0 where a policy forbids kind k (export control by date, distrust).
Training replaces w u by a throughput t[k] (tokens/s) per kind under every line of its
concave envelope (t[k] <= a x chips + b), and the work row, divided by the project seconds
to keep HiGHS well scaled, reads sum t[k] (hours - lead[k]) / hours >= W / (3600 hours).
`lower_bound` solves the LP relaxation; the training refinement (`fleet.workloads`) uses it
to end its search.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from swarmscale.catalog import Catalog, Policy, UnknownValueError
from swarmscale.catalog.schemas import CapRule, MinDomesticShare
from swarmscale.hardware import Cluster, build_cluster
from swarmscale.policy.rules import FleetFigures, FleetItem, eligibility, is_domestic

FleetObjective = Literal["cost", "energy"]
TIME_LIMIT_S = 10.0


class InfeasibleFleetError(ValueError):
    """No fleet satisfies every constraint; the message names the conflicting rules.
    `problem` is a problem the MILP cannot solve (for training, at a work target the deadline
    needs or beyond what the fleets reach); `deadline_days`, a deadline the optimiser meets."""

    def __init__(
        self,
        message: str,
        problem: FleetProblem | None = None,
        deadline_days: float | None = None,
    ) -> None:
        super().__init__(message)
        self.problem = problem
        self.deadline_days = deadline_days


@dataclass(frozen=True)
class Offer:
    """Chips on sale: how many, at what price (None: the catalog's), arriving when."""

    chip: str
    available: int | None = None
    price_usd: float | None = None
    lead_time_days: float = 0.0
    system: str | None = None


@dataclass(frozen=True)
class Site:
    """Where chips go: a power cap, local power price and PUE, and the site's own policies."""

    id: str = "default"
    power_cap_mw: float | None = None
    energy_price_usd_per_kwh: float | None = None
    pue: float | None = None
    policies: tuple[str, ...] = ()


@dataclass(frozen=True)
class KindRate:
    """One chip kind's contribution per unit, from the performance model."""

    chip: str
    unit_chips: int
    rate_per_unit: float  # tokens/s a unit trains, or output tokens/s it serves within SLOs
    lead_hours: float
    power_w_per_chip: float
    price_usd_per_chip: float | None
    price_per_chip_hour: float | None
    peak_flops: float
    racks_per_chip: float
    note: str = ""
    # Training: (chips, tokens/s) of this kind alone at several sizes; the MILP uses their
    # concave envelope, since throughput per chip falls with scale and stops at the batch limit.
    curve: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class FleetProblem:
    """Everything the optimiser needs, already reduced to numbers per kind and site."""

    kinds: list[KindRate]
    offers: dict[str, Offer]
    sites: list[Site]
    policy: Policy
    site_policies: dict[str, list[Policy]]
    work: float
    hours: float
    workload: Literal["training", "inference"]
    objective: FleetObjective = "cost"
    dropped_rules: frozenset[str] = frozenset()
    unusable: dict[str, str] = field(default_factory=dict)
    cost_cap: float | None = None  # an upper bound on the objective's own cost (time objective)


@dataclass
class FleetSolution:
    """The chosen fleet and what it costs."""

    counts: dict[tuple[str, str], int]
    cost_usd: float
    energy_mwh: float
    power_mw: float
    work: float
    forbidden: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[FleetItem]:
        return [
            FleetItem(chip, count, site) for (chip, site), count in self.counts.items() if count > 0
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "fleet": [{"chip": i.chip, "site": i.site, "chips": i.count} for i in self.items],
            "chips": sum(i.count for i in self.items),
            "cost_usd": self.cost_usd,
            "energy_mwh": self.energy_mwh,
            "power_mw": self.power_mw,
            "forbidden": self.forbidden,
            "notes": self.notes,
        }


def figures_of(kinds: list[KindRate]) -> FleetFigures:
    return FleetFigures(
        peak_flops={k.chip: k.peak_flops for k in kinds},
        price_usd={k.chip: k.price_usd_per_chip for k in kinds},
        power_w={k.chip: k.power_w_per_chip for k in kinds},
        racks_per_chip={k.chip: k.racks_per_chip for k in kinds},
    )


def kind_rate(
    catalog: Catalog, cluster: Cluster, unit: int, rate_per_unit: float, offer: Offer
) -> KindRate:
    """Per-unit figures of one kind from its cluster (power, prices, racks)."""
    price = offer.price_usd if offer.price_usd is not None else cluster.purchase_price_usd
    hours = cluster.assumptions.amortisation.require() / 3600.0
    per_hour = price / hours if price is not None else cluster.price_per_chip_hour_usd
    power = cluster.it_power_per_chip_w
    racks = power / cluster.assumptions.rack_power.require()
    if cluster.system is not None and cluster.system.racks_per_unit is not None:
        racks = cluster.system.racks_per_unit.require() / cluster.system.chips_per_unit
    return KindRate(
        cluster.chip.id,
        unit,
        rate_per_unit,
        offer.lead_time_days * 24.0,
        power,
        price,
        per_hour,
        cluster.chip.peak_flops("bf16"),
        racks,
    )


def _site_value(site: Site, catalog: Catalog, name: str) -> float:
    assumptions = catalog.assumptions
    if name == "pue":
        return site.pue if site.pue is not None else assumptions.pue.require()
    return (
        site.energy_price_usd_per_kwh
        if site.energy_price_usd_per_kwh is not None
        else assumptions.energy_price.require()
    )


@dataclass
class _Model:
    """The MILP in SciPy's form: units u[k, s] first, then (training) throughput t[k]."""

    problem: FleetProblem
    n_units: int
    upper: np.ndarray  # variable upper bounds
    forbidden: dict[str, str]
    money: np.ndarray  # per unit: project cost, energy (kWh) and facility power (MW)
    energy_kwh: np.ndarray
    power_mw: np.ndarray
    work: np.ndarray  # per variable: the work row (tokens, or output tokens/s)
    rows: list[np.ndarray] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    higher: list[float] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def var(self, k: int, s: int) -> int:
        return _unit_index(len(self.problem.sites), k, s)

    def add(self, row: np.ndarray, lo: float, hi: float, name: str) -> None:
        self.rows.append(np.pad(row, (0, self.upper.shape[0] - row.shape[0])))
        self.lower.append(lo)
        self.higher.append(hi)
        self.names.append(name)

    def unit_row(self, weights: list[float], site_index: int | None = None) -> np.ndarray:
        """Each kind's weight at every site in scope (one, or all)."""
        row = np.zeros(self.n_units)
        for k, weight in enumerate(weights):
            for s in range(len(self.problem.sites)):
                if site_index is None or s == site_index:
                    row[self.var(k, s)] = weight
        return row

    @property
    def objective(self) -> np.ndarray:
        cost = self.energy_kwh if self.problem.objective == "energy" else self.money
        return np.pad(cost, (0, self.upper.shape[0] - self.n_units))


def solve(catalog: Catalog, problem: FleetProblem) -> FleetSolution:
    """The optimal fleet for `problem`; raises InfeasibleFleetError naming the rules."""
    model = _build(catalog, problem)
    result = _run(model, integral=True)
    if result.status != 0 or result.x is None:
        raise InfeasibleFleetError(
            "no fleet satisfies every constraint"
            if result.status == 2
            else f"the solver stopped without a solution ({result.message})"
        )
    units = np.rint(result.x[: model.n_units]).astype(int)
    kinds, sites = problem.kinds, problem.sites
    counts = {
        (kinds[k].chip, sites[s].id): int(units[model.var(k, s)] * kinds[k].unit_chips)
        for k in range(len(kinds))
        for s in range(len(sites))
    }
    return FleetSolution(
        counts,
        float(model.money @ units),
        float(model.energy_kwh @ units) / 1e3,
        float(model.power_mw @ units),
        float(model.work @ result.x),
        model.forbidden,
    )


def lower_bound(catalog: Catalog, problem: FleetProblem) -> float | None:
    """The LP relaxation's objective (no fleet of `problem` costs less), or None when even
    fractional fleets cannot meet the constraints; 0 (still a bound) if the LP fails."""
    result = _run(_build(catalog, problem), integral=False)
    if result.status == 2:
        return None
    return float(result.fun) if result.status == 0 else 0.0


def _build(catalog: Catalog, problem: FleetProblem) -> _Model:
    n_units = len(problem.kinds) * len(problem.sites)
    curved = problem.workload == "training" and any(kind.curve for kind in problem.kinds)
    n_total = n_units + (len(problem.kinds) if curved else 0)
    var = functools.partial(_unit_index, len(problem.sites))
    money, energy_kwh, power_mw = unit_rows(catalog, problem, var, n_units)
    upper = np.full(n_total, np.inf)
    model = _Model(problem, n_units, upper, {}, money, energy_kwh, power_mw, np.zeros(n_total))
    _bound_units(catalog, model)
    _work_rows(model, curved)
    _budget_row(model)
    _supply_rows(model)
    _site_power_rows(catalog, model)
    _policy_rows(catalog, model)
    return model


def _unit_index(n_sites: int, k: int, s: int) -> int:
    return k * n_sites + s


def _run(model: _Model, integral: bool) -> Any:
    n_total = model.upper.shape[0]
    integrality = np.zeros(n_total)
    if integral:
        integrality[: model.n_units] = 1
    with _native_stdout_silenced():
        return milp(
            model.objective,
            constraints=LinearConstraint(
                np.vstack(model.rows), np.asarray(model.lower), np.asarray(model.higher)
            ),
            integrality=integrality,
            bounds=Bounds(np.zeros(n_total), model.upper),
            options={"time_limit": TIME_LIMIT_S},
        )


def _bound_units(catalog: Catalog, model: _Model) -> None:
    """u[k, s] = 0 where a policy forbids kind k, where it does no work, or (cost objective)
    where it has no price."""
    problem = model.problem
    kinds, sites = problem.kinds, problem.sites
    for _, policy, site_index in _scoped_policies(problem):
        kept = _kept_rules(policy, problem.dropped_rules)
        allowed = eligibility(catalog, kept, problem.workload, [k.chip for k in kinds])
        where = "" if site_index is None else f" at {sites[site_index].id}"
        for k, kind in enumerate(kinds):
            if kind.chip in allowed.forbidden:
                model.forbidden[kind.chip + where] = allowed.forbidden[kind.chip]
                _forbid(model, k, site_index)
    for k, kind in enumerate(kinds):
        if work_of(kind, problem) <= 0:
            _forbid(model, k, None)
        if kind.price_per_chip_hour is None and problem.objective == "cost":
            _forbid(model, k, None)
            model.forbidden.setdefault(kind.chip, "no price in the catalog or the offer")


def _forbid(model: _Model, k: int, site_index: int | None) -> None:
    for s in range(len(model.problem.sites)):
        if site_index is None or s == site_index:
            model.upper[model.var(k, s)] = 0


def _kept_rules(policy: Policy, dropped: frozenset[str]) -> Policy:
    """The policy without the rules a relaxation drops (named `policy:rule`)."""
    kept = tuple(rule for rule in policy.rules if f"{policy.id}:{rule.id}" not in dropped)
    return policy if len(kept) == len(policy.rules) else policy.model_copy(update={"rules": kept})


def _work_rows(model: _Model, curved: bool) -> None:
    """sum w u >= W; training follows each kind's concave envelope: t[k] sits under every
    line of it, and the work row is divided by the project seconds (tokens/s, well scaled)."""
    problem = model.problem
    if not curved:
        for k, kind in enumerate(problem.kinds):
            for s in range(len(problem.sites)):
                model.work[model.var(k, s)] = work_of(kind, problem)
        model.add(model.work, problem.work, np.inf, "workload:deadline")
        return
    for k, kind in enumerate(problem.kinds):
        model.work[model.n_units + k] = max(problem.hours - kind.lead_hours, 0.0) * 3600.0
        for slope, intercept in concave_lines(kind.curve):
            row = np.zeros(model.n_units + k + 1)
            row[model.n_units + k] = 1.0
            for s in range(len(problem.sites)):
                row[model.var(k, s)] = -slope * kind.unit_chips
            model.add(row, -np.inf, intercept, f"scaling:{kind.chip}")
    seconds = max(problem.hours * 3600.0, 1.0)
    model.add(model.work / seconds, problem.work / seconds, np.inf, "workload:deadline")


def _budget_row(model: _Model) -> None:
    """money u <= cap, divided by the cap (HiGHS fails on some badly scaled budget rows)."""
    cap = model.problem.cost_cap
    if cap is not None and "budget" not in model.problem.dropped_rules:
        scale = max(abs(cap), 1.0)
        model.add(model.money / scale, -np.inf, cap / scale, "budget")


def _supply_rows(model: _Model) -> None:
    problem = model.problem
    if "supply" in problem.dropped_rules:
        return
    for k, kind in enumerate(problem.kinds):
        available = problem.offers.get(kind.chip, Offer(kind.chip)).available
        if available is not None:
            weights = [1.0 if j == k else 0.0 for j in range(len(problem.kinds))]
            units = math.floor(available / kind.unit_chips)
            model.add(model.unit_row(weights), -np.inf, units, f"supply:{kind.chip}")


def _site_power_rows(catalog: Catalog, model: _Model) -> None:
    problem = model.problem
    for s, site in enumerate(problem.sites):
        name = f"site:{site.id}:power"
        if site.power_cap_mw is None or name in problem.dropped_rules:
            continue
        pue = _site_value(site, catalog, "pue")
        weights = [k.unit_chips * k.power_w_per_chip * pue / 1e6 for k in problem.kinds]
        model.add(model.unit_row(weights, s), -np.inf, site.power_cap_mw, name)


def _policy_rows(catalog: Catalog, model: _Model) -> None:
    """Domestic-share and cap rules of every policy in its scope (the fleet, or one site)."""
    problem = model.problem
    for _, policy, site_index in _scoped_policies(problem):
        for rule in policy.rules:
            key = f"{policy.id}:{rule.id}"
            if key in problem.dropped_rules:
                continue
            if isinstance(rule, MinDomesticShare):
                weights = [_share_weight(catalog, rule, policy, kind) for kind in problem.kinds]
                model.add(model.unit_row(weights, site_index), 0.0, np.inf, key)
            elif isinstance(rule, CapRule):
                _cap_row(model, rule, key, site_index)


def _cap_row(model: _Model, rule: CapRule, key: str, site_index: int | None) -> None:
    """sum weight u <= cap; a spend cap keeps out the kinds whose purchase price is unknown
    (an infinite weight would make the whole programme unsolvable)."""
    weights = []
    for k, kind in enumerate(model.problem.kinds):
        weight = _cap_weight(rule, kind)
        if math.isinf(weight):
            _forbid(model, k, site_index)
            model.forbidden.setdefault(kind.chip, f"no purchase price to hold to {key}")
            weight = 0.0
        weights.append(weight)
    model.add(model.unit_row(weights, site_index), -np.inf, rule.value, key)


@contextlib.contextmanager
def _native_stdout_silenced() -> Iterator[None]:
    """HiGHS's C++ core can print diagnostics straight to file descriptor 1, which would
    corrupt `--json` output; point it at /dev/null while the solver runs."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def unit_rows(
    catalog: Catalog, problem: FleetProblem, var: Any, n_vars: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit of each kind at each site: project cost (chips over the hours plus energy),
    energy (kWh) and facility power (MW)."""
    money, energy, power = np.zeros(n_vars), np.zeros(n_vars), np.zeros(n_vars)
    for k, kind in enumerate(problem.kinds):
        for s, site in enumerate(problem.sites):
            watts = kind.unit_chips * kind.power_w_per_chip * _site_value(site, catalog, "pue")
            energy[var(k, s)] = watts * problem.hours / 1e3
            chip_cost = (kind.price_per_chip_hour or 0.0) * kind.unit_chips * problem.hours
            money[var(k, s)] = chip_cost + energy[var(k, s)] * _site_value(site, catalog, "price")
            power[var(k, s)] = watts / 1e6
    return money, energy, power


def fastest_hours(
    catalog: Catalog,
    problem: FleetProblem,
    cost_cap: float,
    low: float = 1.0,
    high: float = 24.0 * 3650,
) -> float | None:
    """Shortest project (hours) a fleet within `cost_cap` can finish the training work in,
    by bisection on the MILP's feasibility; None when even `high` hours is not enough."""

    def feasible(hours: float) -> bool:
        kept = problem.dropped_rules - {"budget"}  # the cap here is `cost_cap`, always kept
        trial = dataclasses.replace(problem, hours=hours, cost_cap=cost_cap, dropped_rules=kept)
        try:
            solve(catalog, trial)
        except InfeasibleFleetError:
            return False
        return True

    if not feasible(high):
        return None
    for _ in range(30):
        middle = (low * high) ** 0.5
        low, high = (low, middle) if feasible(middle) else (middle, high)
        if high / low < 1.005:
            break
    return high


def concave_lines(curve: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
    """Lines (slope, intercept) of the upper concave envelope of (0, 0) and `curve`, ending
    flat at its highest throughput: t <= min over lines of slope x chips + intercept."""
    points = sorted({(0.0, 0.0), *curve})
    hull: list[tuple[float, float]] = []
    for point in points:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (point[0] - x1) <= (point[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(point)
    lines = []
    for (x1, y1), (x2, y2) in itertools.pairwise(hull):
        if x2 > x1 and y2 > y1:
            slope = (y2 - y1) / (x2 - x1)
            lines.append((slope, y1 - slope * x1))
    lines.append((0.0, max(y for _, y in hull)))
    return lines


def envelope_tokens_per_s(kind: KindRate, chips: float) -> float:
    """The throughput the MILP credits `chips` of one kind with: its concave envelope there."""
    return min(slope * chips + intercept for slope, intercept in concave_lines(kind.curve))


def work_of(kind: KindRate, problem: FleetProblem) -> float:
    """What one unit contributes: tokens over the project for training (from the day it
    arrives), output tokens/s for serving."""
    if problem.workload == "inference":
        return kind.rate_per_unit
    return kind.rate_per_unit * max(problem.hours - kind.lead_hours, 0.0) * 3600.0


def _scoped_policies(problem: FleetProblem) -> list[tuple[str, Policy, int | None]]:
    scoped: list[tuple[str, Policy, int | None]] = [("fleet", problem.policy, None)]
    for s, site in enumerate(problem.sites):
        for policy in problem.site_policies.get(site.id, []):
            scoped.append((site.id, policy, s))
    return scoped


def _measure_per_unit(rule: MinDomesticShare, kind: KindRate) -> float:
    if rule.measure == "count":
        return float(kind.unit_chips)
    if rule.measure == "compute":
        return kind.unit_chips * kind.peak_flops / 1e15
    if kind.price_usd_per_chip is None:
        raise InfeasibleFleetError(f"rule {rule.id} measures spend, but {kind.chip} has no price")
    return kind.unit_chips * kind.price_usd_per_chip / 1e6


def _share_weight(
    catalog: Catalog, rule: MinDomesticShare, policy: Policy, kind: KindRate
) -> float:
    """One unit's term in `sum (domestic - share) x measure >= 0`."""
    country = rule.country or policy.jurisdiction
    domestic = 1.0 if is_domestic(catalog.chip(kind.chip), country, rule.domestic_by) else 0.0
    return (domestic - rule.share) * _measure_per_unit(rule, kind)


def _cap_weight(rule: CapRule, kind: KindRate) -> float:
    """What one unit of `kind` adds to the capped quantity."""
    if rule.what == "chips":
        return float(kind.unit_chips)
    if rule.what == "power_mw":
        return kind.unit_chips * kind.power_w_per_chip / 1e6
    if rule.what == "racks":
        return kind.unit_chips * kind.racks_per_chip
    return kind.unit_chips * (kind.price_usd_per_chip or math.inf)


def build_kinds(
    catalog: Catalog, offers: list[Offer], rate_of: Any
) -> tuple[list[KindRate], dict[str, str]]:
    """KindRate per offer, and the offers that cannot be modelled (a spec the model needs is
    unknown in the catalog); `rate_of(cluster)` gives (unit chips, tokens/s per unit, note,
    and the training throughput curve)."""
    kinds: list[KindRate] = []
    unusable: dict[str, str] = {}
    for offer in offers:
        try:
            cluster = build_cluster(catalog, offer.chip, 1024, offer.system)
            unit, rate_per_unit, note, curve = rate_of(cluster)
            rate = kind_rate(catalog, cluster, unit, rate_per_unit, offer)
        except UnknownValueError as exc:
            unusable[catalog.chip(offer.chip).id] = str(exc)
            continue
        kinds.append(dataclasses.replace(rate, note=note, curve=curve))
    return kinds, unusable
