"""Collective communication on a two-level network: scale-up domain and scale-out NICs.

Ring algorithms move `2(n-1)/n` of the buffer per chip for all-reduce and `(n-1)/n` for
all-gather, reduce-scatter and all-to-all (Patarasuk and Yuan, J. Parallel Distrib. Comput.
2009; NCCL's "bus bandwidth" convention). Latency grows with log2(n) as NCCL switches to trees
for large groups. A group whose members all sit in one scale-up domain uses that domain's
links; a group across domains runs rail rings whose bus bandwidth is the NICs of its members
in one domain together (`group_links`), and an all-to-all sends its off-domain share through
each member's own NIC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swarmscale.hardware import Cluster
from swarmscale.perf.compute import ArrayLike, FloatArray


@dataclass(frozen=True)
class Links:
    """What one process group's collectives run over, efficiency applied: the ring bus
    bandwidth per member (bytes/s, one direction) and per-hop latency; for all-to-all, the
    scale-up bandwidth, each member's share of the scale-out network, and how many members
    share a scale-up domain."""

    bw: FloatArray
    latency_s: FloatArray
    up_bw: FloatArray
    out_bw: FloatArray
    members_per_domain: FloatArray


def group_links(cluster: Cluster, size: ArrayLike, stride: ArrayLike) -> Links:
    """Links a process group of `size` members, `stride` ranks apart, communicates over.

    Ranks are laid out with the fastest-varying group innermost, so a group stays inside one
    scale-up domain when `size * stride` chips fit in it. A group that leaves the domain runs
    NCCL-style rail rings: one ring channel per member of a domain, each crossing domains
    through a different member's NIC, so its bus bandwidth is the NICs of the members in one
    domain together (never more than the scale-up links), divided by the oversubscription of
    the widest fabric tier it spans (Llama 3's fabric: full bisection within 3,072-GPU pods,
    1:7 between them). A group with one member per domain (data parallelism across 8-GPU
    nodes at TP 8) gets one NIC: the common NIC-bound case.
    """
    size_f = np.asarray(size, dtype=float)
    stride_f = np.asarray(stride, dtype=float)
    span = size_f * stride_f
    inside = span <= cluster.domain_size
    eff = cluster.efficiency
    up_bw = cluster.scale_up_bw * eff.scale_up.require()
    if cluster.scale_out_bw is None:
        # Unknown NIC: a group that leaves the domain cannot be timed (its bandwidth is 0, so
        # its time is infinite and the plan is reported as needing the NIC rate).
        nic = 0.0
    else:
        nic = min(cluster.scale_out_bw * eff.scale_out.require(), up_bw)
    members = np.where(
        inside, size_f, np.clip(np.floor(cluster.domain_size / stride_f), 1.0, size_f)
    )
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
    ring_out = np.minimum(members * out_bw, up_bw)
    bw = np.where(inside, up_bw, ring_out)
    latency = np.where(inside, eff.scale_up_latency.require(), out_latency)
    return Links(
        bw=np.asarray(bw, dtype=float),
        latency_s=np.asarray(latency, dtype=float),
        up_bw=np.full_like(span, up_bw),
        out_bw=np.asarray(np.where(inside, up_bw, out_bw), dtype=float),
        members_per_domain=np.asarray(members, dtype=float),
    )


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
    """All-to-all where each member holds `send_bytes` and keeps 1/n of it: what goes to peers
    in its own domain crosses the scale-up links, what goes beyond crosses its own NIC, both
    at once."""
    members = np.asarray(n, dtype=float)
    local = np.minimum(links.members_per_domain, members)
    inside = (local - 1.0) / members * send_bytes
    outside = (members - local) / members * send_bytes
    return _exchange_time(inside, outside, members, links, all_to_all_efficiency)


def expert_dispatch_time(
    token_bytes: ArrayLike,
    copies: float,
    n: ArrayLike,
    links: Links,
    all_to_all_efficiency: float,
    node_limit: float | None = None,
) -> FloatArray:
    """MoE dispatch (or combine) of one token's `token_bytes` to `copies` experts spread over
    `n` members, per token of a member. Within a domain every copy crosses the scale-up links;
    across domains a token crosses each remote domain's network once and is forwarded there
    over scale-up links (DeepEP's normal kernels, arXiv:2412.19437 section 3.2.2), so the NIC
    carries the expected number of distinct remote domains among its experts, at most
    `node_limit` domains under node-limited routing."""
    members = np.asarray(n, dtype=float)
    local = np.minimum(links.members_per_domain, members)
    domains = members / local
    remote = (domains - 1.0) * (1.0 - (1.0 - 1.0 / domains) ** copies)
    if node_limit is not None:
        remote = np.minimum(remote, node_limit * (domains - 1.0) / domains)
    inside = copies * (local - 1.0) / local * np.asarray(token_bytes)
    outside = remote * np.asarray(token_bytes)
    return _exchange_time(inside, outside, members, links, all_to_all_efficiency)


def _exchange_time(
    inside: ArrayLike,
    outside: ArrayLike,
    members: FloatArray,
    links: Links,
    all_to_all_efficiency: float,
) -> FloatArray:
    """An all-to-all style exchange sending `inside` bytes over the scale-up links and
    `outside` bytes through each member's NIC at the same time, plus its hop latencies."""
    seconds = np.maximum(
        _transfer(inside, links.up_bw * all_to_all_efficiency),
        _transfer(outside, links.out_bw * all_to_all_efficiency),
    )
    hops = np.where(members > 1, 1.0, 0.0) * (1.0 + _hops(members))
    return np.asarray(seconds + hops * links.latency_s)


def p2p_time(message_bytes: ArrayLike, links: Links) -> FloatArray:
    """One point-to-point transfer (pipeline activations or their gradients)."""
    return np.asarray(_transfer(message_bytes, links.bw) + links.latency_s)
