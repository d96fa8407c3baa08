"""Training on a mixed fleet: several chip kinds, each running its own replicas of the model.

Heterogeneous data parallelism: every kind gets a share of the global batch and its own
parallel plan (so a kind with less memory can use deeper pipelines); shares are set so that
all kinds finish their part of a step together. After each kind has reduced its gradients
internally, the kinds exchange them over the slowest link they share: the smallest kind's
chips each hold 1/n of the gradients and pass them round a ring of kinds through their NICs.
The step is the slowest kind's time plus that exchange, so a mixed fleet can never beat the
sum of its parts running alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from swarmscale.hardware import Cluster

GRAD_BYTES = 4.0  # fp32 gradients, as the homogeneous model reduces them


@dataclass(frozen=True)
class KindShare:
    """One chip kind's part of a mixed job."""

    chip: str
    chips: int
    batch: int
    plan: str
    step_s: float
    memory_bytes: float

    @property
    def sequences_per_s(self) -> float:
        return self.batch / self.step_s


def cross_kind_sync_s(params: float, kinds: list[tuple[Cluster, int]]) -> float:
    """Seconds to all-reduce the gradients across chip kinds (ring of kinds, slowest NIC).

    `kinds` pairs each kind's cluster with the chips it uses; with one kind there is nothing
    to exchange.
    """
    if len(kinds) < 2:
        return 0.0
    members = float(len(kinds))
    smallest = min(chips for _, chips in kinds)
    rates = []
    for cluster, _ in kinds:
        if cluster.scale_out_bw is None:
            return float("inf")
        rates.append(cluster.scale_out_bw * cluster.efficiency.scale_out.require())
    latency = max(cluster.efficiency.scale_out_latency.require() for cluster, _ in kinds)
    shard_bytes = params * GRAD_BYTES / smallest
    return (
        2.0 * (members - 1.0) / members * shard_bytes / min(rates) + 2.0 * (members - 1.0) * latency
    )


def balanced_shares(global_batch: int, rates: list[float], unit: int = 1) -> list[int]:
    """Split `global_batch` in proportion to `rates` in multiples of `unit` (largest-remainder
    rounding); what does not divide into units goes to the fastest kind."""
    total = sum(rates)
    if total <= 0:
        raise ValueError("no chip kind can train this model")
    units = global_batch // unit
    exact = [units * rate / total for rate in rates]
    shares = [int(value) for value in exact]
    by_remainder = sorted(range(len(rates)), key=lambda i: exact[i] - shares[i], reverse=True)
    for index in by_remainder[: units - sum(shares)]:
        shares[index] += 1
    shares = [share * unit for share in shares]
    fastest = max(range(len(rates)), key=lambda index: rates[index])
    shares[fastest] += global_batch - sum(shares)
    return shares
