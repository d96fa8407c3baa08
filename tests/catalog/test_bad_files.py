"""Bad catalog files fail with an error naming the file, the entry and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from swarmscale.catalog import CatalogError, load_catalog
from tests.conftest import DELETE, apply_edits


def _edit_h100(root: Path, edit: dict[str, object]) -> Path:
    path = root / "chips" / "nvidia.yaml"
    document = yaml.safe_load(path.read_text())
    for chip in document["chips"]:
        if chip["id"] == "h100-sxm":
            apply_edits(chip, edit)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("edit", "field", "reason"),
    [
        ({"memory.value": "eighty"}, "memory", "must be a number"),
        ({"tdp": DELETE}, "tdp", "Field required"),
        ({"memory_bandwidth.unit": "TB/sec"}, "memory_bandwidth", "unknown unit 'TB/sec'"),
        ({"memory_bandwidth.value": -3.35}, "memory_bandwidth", "must not be negative"),
        ({"peak.bf16.source": ""}, "peak.bf16.source", "at least 3 characters"),
        ({"peak.bf16.kind": "rumour"}, "peak.bf16.kind", "'vendor', 'paper', 'measured'"),
        ({"market": "mars"}, "market", "'global'"),
        ({"peak.fp8.value": None}, "peak.fp8", "must say why in 'note'"),
        ({"price.low": 50000}, "price", "above high"),
        ({"colour": "green"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_bad_chip_field_names_file_entry_and_field(
    catalog_copy: Path, edit: dict[str, object], field: str, reason: str
) -> None:
    path = _edit_h100(catalog_copy, edit)
    with pytest.raises(CatalogError) as error:
        load_catalog(catalog_copy)
    message = str(error.value)
    assert str(path) in message
    assert "entry 'h100-sxm'" in message
    assert f"field '{field}'" in message
    assert reason in message


def test_unknown_unit_lists_allowed_units(catalog_copy: Path) -> None:
    _edit_h100(catalog_copy, {"tdp.unit": "hp"})
    with pytest.raises(CatalogError, match=r"allowed: W, kW, MW"):
        load_catalog(catalog_copy)


def test_invalid_yaml_names_file(catalog_copy: Path) -> None:
    path = catalog_copy / "models" / "dense.yaml"
    path.write_text("models: [unclosed\n")
    with pytest.raises(CatalogError, match=r"dense.yaml: not valid YAML"):
        load_catalog(catalog_copy)


def test_yaml_tags_are_refused_by_the_safe_loader(catalog_copy: Path) -> None:
    path = catalog_copy / "models" / "dense.yaml"
    path.write_text("models: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(catalog_copy)


def test_duplicate_id_is_an_error(catalog_copy: Path) -> None:
    path = catalog_copy / "chips" / "nvidia.yaml"
    document = yaml.safe_load(path.read_text())
    document["chips"].append(document["chips"][0])
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(CatalogError, match="duplicate chip id 'h100-sxm'"):
        load_catalog(catalog_copy)


def test_system_naming_an_unknown_chip_is_an_error(catalog_copy: Path) -> None:
    path = catalog_copy / "systems" / "systems.yaml"
    document = yaml.safe_load(path.read_text())
    document["systems"][0]["chip"] = "h101"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(CatalogError, match="unknown chip 'h101'"):
        load_catalog(catalog_copy)


def test_wrong_top_level_key(catalog_copy: Path) -> None:
    path = catalog_copy / "models" / "moe.yaml"
    path.write_text("model: []\n")
    with pytest.raises(CatalogError, match=r"moe.yaml: expected a top-level 'models:' list"):
        load_catalog(catalog_copy)


def test_model_with_inconsistent_heads(catalog_copy: Path) -> None:
    path = catalog_copy / "models" / "dense.yaml"
    document = yaml.safe_load(path.read_text())
    document["models"][1]["kv_heads"] = 5
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(CatalogError, match=r"entry 'llama2-7b'.*multiple of kv_heads"):
        load_catalog(catalog_copy)
