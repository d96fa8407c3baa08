"""Collective communication on a two-level network: scale-up domain and scale-out NICs.

Ring algorithms move `2(n-1)/n` of the buffer per chip for all-reduce and `(n-1)/n` for
all-gather, reduce-scatter and all-to-all (Patarasuk and Yuan, J. Parallel Distrib. Comput.
2009; NCCL's "bus bandwidth" convention). Latency grows with log2(n) as NCCL switches to trees
for large groups. A group whose members all sit in one scale-up domain uses that domain's
links; otherwise every member sends through its own NIC, which is the bottleneck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swarmscale.hardware import Cluster
from swarmscale.perf.compute import ArrayLike, FloatArray


@dataclass(frozen=True)
class Links:
    """Per-member bandwidth (bytes/s, one direction, efficiency applied) and per-hop latency."""

    bw: FloatArray
    latency_s: FloatArray


def group_links(cluster: Cluster, size: ArrayLike, stride: ArrayLike) -> Links:
    """Links a process group of `size` members, `stride` ranks apart, communicates over.

    Ranks are laid out with the fastest-varying group innermost, so a group stays inside one
    scale-up domain when `size * stride` chips fit in it. A group that leaves the domain sends
    through each member's NIC, divided by the oversubscription of the widest fabric tier it
    spans (Llama 3's fabric: full bisection within 3,072-GPU pods, 1:7 between them).
    """
    span = np.asarray(size, dtype=float) * np.asarray(stride, dtype=float)
    inside = span <= cluster.domain_size
    eff = cluster.efficiency
    up_bw = cluster.scale_up_bw * eff.scale_up.require()
    if cluster.scale_out_bw is None:
        # Unknown NIC: a group that leaves the domain cannot be timed (its bandwidth is 0, so
        # its time is infinite and the plan is reported as needing the NIC rate).
        nic = 0.0
    else:
        nic = min(cluster.scale_out_bw * eff.scale_out.require(), up_bw)
    out_bw = np.full_like(span, nic)
    out_latency = np.full_like(span, eff.scale_out_latency.require())
    tiers = cluster.assumptions.fabric
    claimed = np.zeros_like(span, dtype=bool)
    for tier in tiers:
        within = (span <= tier.chips.require()) & ~claimed
        out_bw = np.where(within, nic / tier.oversubscription.require(), out_bw)
        out_latency = np.where(within, np.maximum(out_latency, tier.latency.require()), out_latency)
        claimed |= within
    widest = tiers[-1]
    out_bw = np.where(claimed, out_bw, nic / widest.oversubscription.require())
    out_latency = np.where(claimed, out_latency, widest.latency.require())
    bw = np.where(inside, up_bw, out_bw)
    latency = np.where(inside, eff.scale_up_latency.require(), out_latency)
    return Links(bw=np.asarray(bw, dtype=float), latency_s=np.asarray(latency, dtype=float))


def _hops(n: FloatArray) -> FloatArray:
    return np.where(n > 1, np.ceil(np.log2(np.maximum(n, 2.0))), 0.0)


def _transfer(volume: ArrayLike, bw: FloatArray) -> FloatArray:
    """volume / bw, with nothing to send costing nothing and an unknown link (bw 0) infinite."""
    with np.errstate(divide="ignore", invalid="ignore"):
        seconds = np.asarray(volume, dtype=float) / bw
    return np.where(np.asarray(volume) == 0, 0.0, seconds)


def all_reduce_time(buffer_bytes: ArrayLike, n: ArrayLike, links: Links) -> FloatArray:
    """Ring all-reduce of `buffer_bytes` over `n` members; zero when n == 1."""
    members = np.asarray(n, dtype=float)
    volume = 2.0 * (members - 1.0) / members * buffer_bytes
    return np.asarray(_transfer(volume, links.bw) + 2.0 * _hops(members) * links.latency_s)


def all_gather_time(buffer_bytes: ArrayLike, n: ArrayLike, links: Links) -> FloatArray:
    """All-gather (or reduce-scatter) whose full result is `buffer_bytes`."""
    members = np.asarray(n, dtype=float)
    volume = (members - 1.0) / members * buffer_bytes
    return np.asarray(_transfer(volume, links.bw) + _hops(members) * links.latency_s)


def all_to_all_time(
    send_bytes: ArrayLike, n: ArrayLike, links: Links, all_to_all_efficiency: float
) -> FloatArray:
    """All-to-all where each member holds `send_bytes` and keeps 1/n of it."""
    members = np.asarray(n, dtype=float)
    volume = (members - 1.0) / members * send_bytes
    hops = np.where(members > 1, 1.0, 0.0) * (1.0 + _hops(members))
    return np.asarray(_transfer(volume, links.bw * all_to_all_efficiency) + hops * links.latency_s)


def p2p_time(message_bytes: ArrayLike, links: Links) -> FloatArray:
    """One point-to-point transfer (pipeline activations or their gradients)."""
    return np.asarray(_transfer(message_bytes, links.bw) + links.latency_s)
