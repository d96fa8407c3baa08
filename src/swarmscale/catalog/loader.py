"""The only code that reads catalog files: safe YAML, schema validation, cross-references.

Errors name the file, the entry (its id, or its position when it has none) and the field, so a
user editing a catalog file can find the line to fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from swarmscale.catalog.schemas import (
    EFFICIENCY_FACTORS,
    Assumptions,
    Case,
    Chip,
    DeviceProfile,
    Efficiency,
    EfficiencyEntry,
    ExportControl,
    FleetRequest,
    Model,
    Network,
    Policy,
    PriceFact,
    ScenarioSpec,
    System,
)
from swarmscale.files import read_text

DATA_ROOT = Path(__file__).parent / "data"

# Which device profiles the process uses: unset keeps the shipped ones, "none" drops them all
# (datasheet-derived efficiencies only), a path adds that profile. An environment variable, so
# that sweep workers and the web server started from one command see the same choice.
PROFILE_ENV = "SWARMSCALE_PROFILE"
NO_PROFILE = "none"
MAX_YAML_BYTES = 16 * 2**20
MAX_YAML_DEPTH = 50  # catalog files nest about 6 deep
MAX_YAML_NODES = 1_000_000

RecordT = TypeVar("RecordT", bound=BaseModel)


class CatalogError(ValueError):
    """A catalog file is unreadable, malformed or inconsistent; the message says where."""


class UnknownIdError(KeyError):
    """An id that the catalog does not hold; the message suggests close matches."""

    def __init__(self, kind: str, wanted: str, known: Iterable[str]) -> None:
        known_list = sorted(known)
        close = difflib.get_close_matches(wanted, known_list, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        super().__init__(
            f"unknown {kind} {wanted!r}{hint} (known: {', '.join(known_list)})"
            if not close
            else f"unknown {kind} {wanted!r}{hint}"
        )
        self.message = str(self.args[0])

    def __str__(self) -> str:
        return self.message


class YamlLimitError(yaml.YAMLError):
    """A document past a bound of `BoundedSafeLoader`; the message gives the line."""


class BoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader with three checks made while composing, before any object is
    built: nesting depth (deep documents would exhaust Python's stack), the number of nodes
    once aliases are expanded (a few lines of nested aliases expand to billions), and
    duplicate keys in a mapping (which PyYAML would otherwise let the last one win)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise YamlLimitError(f"line {line}: nested deeper than {MAX_YAML_DEPTH} levels")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        assert node is not None  # PyYAML returns a node or raises
        if id(node) not in self._sizes:  # an alias returns a node already counted
            self._sizes[id(node)] = self._expanded_size(node, line)
        return node

    def _expanded_size(self, node: yaml.Node, line: int) -> int:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    if key.value in seen:
                        where = key.start_mark.line + 1
                        raise YamlLimitError(f"line {where}: duplicate key {key.value!r}")
                    seen.add(key.value)
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            return 1
        size = 1 + sum(self._sizes[id(child)] for child in children)
        if size > MAX_YAML_NODES:
            raise YamlLimitError(
                f"line {line}: expands to more than {MAX_YAML_NODES:,} values (aliases "
                "repeated inside aliases?)"
            )
        return size


def read_yaml(path: Path) -> Any:
    """Parse one YAML file with the bounded safe loader, naming the file in any error."""
    text = read_text(path, MAX_YAML_BYTES, CatalogError)
    try:
        return yaml.load(text, Loader=BoundedSafeLoader)
    except YamlLimitError as exc:
        raise CatalogError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from exc


def format_validation_error(path: Path, entry: str, error: ValidationError) -> str:
    """One line per problem: file, entry, dotted field path and pydantic's reason."""
    lines = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        reason = problem["msg"].removeprefix("Value error, ")
        if not where:
            # Whole-entry checks name their field as "field: reason".
            field, sep, rest = reason.partition(": ")
            where, reason = (field, rest) if sep and field.isidentifier() else ("(entry)", reason)
        lines.append(f"{path}: entry {entry}: field '{where}': {reason}")
    return "\n".join(lines)


def parse_records(path: Path, key: str, schema: type[RecordT]) -> list[RecordT]:
    """Validate every entry under `key` in the file at `path` against `schema`."""
    document = read_yaml(path)
    if not isinstance(document, Mapping) or key not in document:
        raise CatalogError(f"{path}: expected a top-level '{key}:' list")
    extra = sorted(set(document) - {key})
    if extra:
        raise CatalogError(f"{path}: unknown top-level keys {extra}; allowed: ['{key}']")
    entries = document[key]
    if not isinstance(entries, list):
        raise CatalogError(f"{path}: '{key}' must be a list, got {type(entries).__name__}")
    records: list[RecordT] = []
    problems: list[str] = []
    for index, raw in enumerate(entries):
        label = _entry_label(raw, index)
        if not isinstance(raw, Mapping):
            problems.append(f"{path}: entry {label}: expected a mapping")
            continue
        try:
            records.append(schema.model_validate(raw))
        except ValidationError as exc:
            problems.append(format_validation_error(path, label, exc))
    if problems:
        raise CatalogError("\n".join(problems))
    return records


def _entry_label(raw: Any, index: int) -> str:
    if isinstance(raw, Mapping) and isinstance(raw.get("id"), str):
        return f"'{raw['id']}'"
    if isinstance(raw, Mapping) and isinstance(raw.get("chip"), str):
        return f"#{index} ('{raw['chip']}')"
    return f"#{index}"


@dataclass(frozen=True)
class Catalog:
    """Every record of the catalog, indexed by id, after validation and cross-checks."""

    chips: dict[str, Chip]
    systems: dict[str, System]
    models: dict[str, Model]
    export_controls: tuple[ExportControl, ...]
    prices: tuple[PriceFact, ...]
    efficiency: dict[str, EfficiencyEntry]
    assumptions: Assumptions
    policies: dict[str, Policy]
    networks: dict[str, Network]
    version: str
    files: tuple[Path, ...] = field(default=())
    profiles: dict[str, DeviceProfile] = field(default_factory=dict)

    def chip(self, chip_id: str) -> Chip:
        return _lookup("chip", chip_id, self.chips)

    def system(self, system_id: str) -> System:
        return _lookup("system", system_id, self.systems)

    def model(self, model_id: str) -> Model:
        return _lookup("model", model_id, self.models)

    def efficiency_for(self, chip: Chip, chip_layer: bool = True) -> Efficiency:
        """Efficiency factors for `chip`: `default`, overlaid by its stack's, its die's (see
        `Chip.same_silicon_as`), its own, then its die's measured device profile. With
        `chip_layer` False only the first two apply, which a fit uses as its starting point."""
        keys = ("default", chip.software_stack, chip.silicon, chip.id)
        layers: list[EfficiencyEntry] = [
            self.efficiency[key]
            for key in dict.fromkeys(keys[: 4 if chip_layer else 2])
            if key in self.efficiency
        ]
        profile = self.profiles.get(chip.silicon) if chip_layer else None
        if profile is not None:
            layers.append(profile.efficiency)
        merged: dict[str, Any] = {}
        for entry in layers:
            for factor in EFFICIENCY_FACTORS:
                if getattr(entry, factor) is not None:
                    merged[factor] = getattr(entry, factor)
        missing = [factor for factor in EFFICIENCY_FACTORS if factor not in merged]
        if missing:
            raise CatalogError(f"efficiency for {chip.id}: no value for {missing} in any layer")
        applies_to = f"profile {profile.id}" if profile is not None else layers[-1].applies_to
        return Efficiency(applies_to=applies_to, **merged)

    def factor_layer(self, chip: Chip, factor: str) -> str:
        """The efficiency layer `chip` takes `factor` from (the most specific that sets it);
        "profile" when its die's measured device profile does."""
        profile = self.profiles.get(chip.silicon)
        if profile is not None and getattr(profile.efficiency, factor, None) is not None:
            return "profile"
        keys = ("default", chip.software_stack, chip.silicon, chip.id)
        setting = [k for k in keys if getattr(self.efficiency.get(k), factor, None) is not None]
        return setting[-1] if setting else "none"

    def with_profile(self, profile: DeviceProfile, origin: str = "") -> Catalog:
        """This catalog with `profile` as its chip's measured layer (replacing any shipped one);
        the version changes so stored runs tell the two apart."""
        if profile.chip not in self.chips:
            raise CatalogError(
                f"{origin or profile.id}: field 'chip': unknown chip {profile.chip!r}"
            )
        digest = hashlib.sha256(self.version.encode())
        digest.update(profile.model_dump_json().encode())
        return dataclasses.replace(
            self,
            profiles={**self.profiles, profile.chip: profile},
            version=digest.hexdigest()[:12],
        )

    def without_profiles(self) -> Catalog:
        """This catalog with datasheet-derived efficiencies only: no measured device layer."""
        if not self.profiles:
            return self
        digest = hashlib.sha256(f"{self.version}:{NO_PROFILE}".encode())
        return dataclasses.replace(self, profiles={}, version=digest.hexdigest()[:12])

    def network(self, network_id: str) -> Network:
        return _lookup("network", network_id, self.networks)

    def policy(self, policy_id: str) -> Policy:
        return _lookup("policy", policy_id, self.policies)

    def controls_for(self, chip_id: str) -> tuple[ExportControl, ...]:
        """Export-control facts naming `chip_id`, oldest first."""
        return tuple(
            sorted(
                (rule for rule in self.export_controls if chip_id in rule.applies_to),
                key=lambda rule: rule.date,
            )
        )


def _lookup(kind: str, wanted: str, records: Mapping[str, RecordT]) -> RecordT:
    key = wanted.strip().lower()
    if key in records:
        return records[key]
    for record in records.values():
        if key in getattr(record, "aliases", ()):
            return record
    raise UnknownIdError(kind, wanted, records)


def _index(kind: str, records: Iterable[RecordT], files: Mapping[str, Path]) -> dict[str, RecordT]:
    indexed: dict[str, RecordT] = {}
    for record in records:
        record_id: str = getattr(record, "id")  # noqa: B009 - every indexed schema has an id
        if record_id in indexed:
            raise CatalogError(f"{files[kind]}: duplicate {kind} id '{record_id}'")
        indexed[record_id] = record
    return indexed


def _files(root: Path, folder: str) -> list[Path]:
    return sorted((root / folder).glob("*.yaml"))


def _load_kind(root: Path, folder: str, key: str, schema: type[RecordT]) -> list[RecordT]:
    records: list[RecordT] = []
    for path in _files(root, folder):
        records.extend(parse_records(path, key, schema))
    return records


def _optional_records(path: Path, key: str, schema: type[RecordT]) -> list[RecordT]:
    return parse_records(path, key, schema) if path.exists() else []


def _default_assumptions(base: Path) -> Assumptions:
    path = base / "facts" / "assumptions.yaml"
    records = {record.id: record for record in parse_records(path, "assumptions", Assumptions)}
    if "default" not in records:
        raise CatalogError(f"{path}: needs an entry with id 'default'")
    return records["default"]


def _cross_check(catalog: Catalog, root: Path) -> None:
    problems: list[str] = []
    for system in catalog.systems.values():
        if system.chip not in catalog.chips:
            problems.append(f"{root}/systems: system '{system.id}': unknown chip '{system.chip}'")
    for rule in catalog.export_controls:
        for chip_id in rule.applies_to:
            if chip_id not in catalog.chips:
                problems.append(
                    f"{root}/facts: export control '{rule.id}': unknown chip '{chip_id}'"
                )
    for price in catalog.prices:
        if price.chip not in catalog.chips:
            problems.append(f"{root}/facts: price fact: unknown chip '{price.chip}'")
    stacks = {chip.software_stack for chip in catalog.chips.values()}
    for key in catalog.efficiency:
        if key != "default" and key not in stacks and key not in catalog.chips:
            problems.append(
                f"{root}/efficiency: '{key}' is neither 'default', a software stack in use "
                f"({', '.join(sorted(stacks))}) nor a chip id"
            )
    if "default" not in catalog.efficiency:
        problems.append(f"{root}/efficiency: needs an entry that applies_to 'default'")
    for network in catalog.networks.values():
        problems += network_problems(network, catalog, f"{root}/networks: {network.id}")
    for chip in catalog.chips.values():
        sibling = chip.same_silicon_as
        if sibling is not None and (sibling not in catalog.chips or sibling == chip.id):
            problems.append(
                f"{root}/chips: chip '{chip.id}': same_silicon_as: unknown chip '{sibling}'"
            )
    for policy in catalog.policies.values():
        problems += policy_problems(policy, catalog.chips, f"{root}/policies: {policy.id}")
    for profile in catalog.profiles.values():
        if profile.chip not in catalog.chips:
            problems.append(f"{root}/profiles: {profile.id}: unknown chip '{profile.chip}'")
    seen: dict[str, str] = {}
    named: list[Chip | Model] = [*catalog.chips.values(), *catalog.models.values()]
    for record in named:
        for alias in record.aliases:
            if alias in seen or alias in catalog.chips or alias in catalog.models:
                problems.append(f"alias '{alias}' of '{record.id}' collides with another id")
            seen[alias] = record.id
    if problems:
        raise CatalogError("\n".join(problems))


def network_problems(network: Network, catalog: Catalog, origin: str) -> list[str]:
    """Chips and policies a network's sites name that the catalog does not hold."""
    problems = []
    for site in network.sites:
        for chip_id in site.inventory:
            if chip_id not in catalog.chips:
                problems.append(f"{origin}: site {site.id}: unknown chip '{chip_id}'")
        if site.policy is not None and site.policy not in catalog.policies:
            problems.append(f"{origin}: site {site.id}: unknown policy '{site.policy}'")
    return problems


def policy_problems(policy: Policy, chips: Mapping[str, Chip], origin: str) -> list[str]:
    """Chip ids a policy's rules name that the catalog does not hold (a typo would otherwise
    forbid or allow nothing, silently)."""
    problems = []
    for rule in policy.rules:
        named = getattr(rule, "chips", ()) or getattr(rule, "allow_licensed", ())
        for chip_id in named:
            if chip_id not in chips:
                close = difflib.get_close_matches(chip_id, list(chips), n=1, cutoff=0.5)
                hint = f"; did you mean {close[0]}?" if close else ""
                problems.append(f"{origin}: rule '{rule.id}': unknown chip '{chip_id}'{hint}")
    return problems


def load_catalog(root: Path | None = None) -> Catalog:
    """Load and validate a catalog tree; the shipped one is cached (see `default_catalog`)."""
    base = root or DATA_ROOT
    all_files = sorted(base.rglob("*.yaml"))
    digest = hashlib.sha256()
    for path in all_files:
        if path.parent.name == "cases":
            continue
        digest.update(path.relative_to(base).as_posix().encode())
        digest.update(path.read_bytes())
    folder_of = {
        "chip": base / "chips",
        "system": base / "systems",
        "model": base / "models",
    }
    catalog = Catalog(
        chips=_index("chip", _load_kind(base, "chips", "chips", Chip), folder_of),
        systems=_index("system", _load_kind(base, "systems", "systems", System), folder_of),
        models=_index("model", _load_kind(base, "models", "models", Model), folder_of),
        export_controls=tuple(
            _optional_records(
                base / "facts" / "export_controls.yaml", "export_controls", ExportControl
            )
        ),
        prices=tuple(_optional_records(base / "facts" / "prices.yaml", "prices", PriceFact)),
        efficiency={
            entry.applies_to: entry
            for entry in _load_kind(base, "efficiency", "efficiency", EfficiencyEntry)
        },
        assumptions=_default_assumptions(base),
        networks=_index(
            "network",
            _load_kind(base, "networks", "networks", Network),
            {"network": base / "networks"},
        ),
        policies=_index(
            "policy",
            _load_kind(base, "policies", "policies", Policy),
            {"policy": base / "policies"},
        ),
        version=digest.hexdigest()[:12],
        files=tuple(all_files),
        profiles=_profiles_by_chip(_load_kind(base, "profiles", "profiles", DeviceProfile), base),
    )
    _cross_check(catalog, base)
    return catalog


def _profiles_by_chip(profiles: Iterable[DeviceProfile], base: Path) -> dict[str, DeviceProfile]:
    by_chip: dict[str, DeviceProfile] = {}
    for profile in profiles:
        if profile.chip in by_chip:
            raise CatalogError(
                f"{base}/profiles: profiles '{by_chip[profile.chip].id}' and '{profile.id}' "
                f"both measure chip '{profile.chip}'; keep one"
            )
        by_chip[profile.chip] = profile
    return by_chip


def parse_one_record(path: Path, key: str, schema: type[RecordT]) -> RecordT:
    """The single entry under `key` in a user's file (a file named where one record is meant)."""
    records = parse_records(path, key, schema)
    if len(records) != 1:
        raise CatalogError(f"{path}: '{key}' holds {len(records)} entries; give exactly one")
    return records[0]


def load_profile(path: Path) -> DeviceProfile:
    """The one device profile in a file written by `swarmscale calibrate`."""
    return parse_one_record(path, "profiles", DeviceProfile)


def default_catalog() -> Catalog:
    """The shipped catalog with the profile choice of `SWARMSCALE_PROFILE` (see PROFILE_ENV)."""
    return _catalog_with_profile(os.environ.get(PROFILE_ENV, "").strip())


@lru_cache(maxsize=8)
def _catalog_with_profile(choice: str) -> Catalog:
    shipped = _shipped_catalog()
    if not choice:
        return shipped
    if choice.lower() == NO_PROFILE:
        return shipped.without_profiles()
    path = Path(choice)
    return shipped.with_profile(load_profile(path), origin=str(path))


@lru_cache(maxsize=1)
def _shipped_catalog() -> Catalog:
    return load_catalog(DATA_ROOT)


def load_cases(path: Path) -> list[Case]:
    """Validation cases from a YAML file; ids must be unique."""
    cases = parse_records(path, "cases", Case)
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise CatalogError(f"{path}: duplicate case id '{case.id}'")
        seen.add(case.id)
    return cases


SHIPPED_CASES = DATA_ROOT / "cases"


def load_policy(path: Path, catalog: Catalog) -> Policy:
    """The one policy in a user's YAML file (same format as catalog/data/policies/), checked
    against the catalog's chips."""
    policy = parse_one_record(path, "policies", Policy)
    problems = policy_problems(policy, catalog.chips, str(path))
    if problems:
        raise CatalogError("\n".join(problems))
    return policy


def load_fleet_request(path: Path) -> FleetRequest:
    """A fleet request file: `workload:` plus optional `offers:` and `sites:` lists."""
    return _parse_document(path, FleetRequest, "(request)", "with 'workload', 'offers', 'sites'")


def load_network(path: Path, catalog: Catalog) -> Network:
    """The one network in a user's YAML file (same format as catalog/data/networks/), checked
    against the catalog's chips and policies."""
    network = parse_one_record(path, "networks", Network)
    problems = network_problems(network, catalog, str(path))
    if problems:
        raise CatalogError("\n".join(problems))
    return network


def load_scenario(path: Path) -> ScenarioSpec:
    """A sweep scenario file (see `ScenarioSpec`)."""
    return _parse_document(path, ScenarioSpec, "(scenario)", "(model, chip, chips, tokens, ...)")


def _parse_document(path: Path, schema: type[RecordT], label: str, expected: str) -> RecordT:
    """A user's YAML file holding one mapping, validated against `schema`."""
    document = read_yaml(path)
    if not isinstance(document, Mapping):
        raise CatalogError(f"{path}: expected a mapping {expected}")
    try:
        return schema.model_validate(document)
    except ValidationError as exc:
        raise CatalogError(format_validation_error(path, label, exc)) from exc
