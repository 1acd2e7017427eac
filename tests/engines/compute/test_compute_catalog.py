"""The catalog file: the shipped default loads, and every broken row is refused by row and field."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from gaodi.engines.compute import CatalogError, Hub, load_catalog, parse_catalog

SHIPPED = Path(__file__).resolve().parents[3] / "src" / "gaodi" / "apps" / "compute" / "data" / "catalog.toml"


@pytest.fixture(scope="module")
def data() -> dict:
    return tomllib.loads(SHIPPED.read_text(encoding="utf-8"))


def test_shipped_catalog_loads_with_several_providers_hubs_and_accelerators() -> None:
    cat = load_catalog(SHIPPED)
    assert cat.catalog_version.startswith("2024")
    assert len(cat.providers) >= 3
    assert len({s.hub for s in cat.sites.values()}) == 8  # every national hub has a site
    assert {"Ascend 910B", "A800", "H20", "MLU370"} <= {p.accelerator for p in cat.pools.values()}
    assert "shanghai" in cat.regions
    assert all(p.price_per_hour > 0 and p.count % p.per_node == 0 for p in cat.pools.values())
    assert "illustrative" in SHIPPED.read_text(encoding="utf-8").lower()


def test_eight_hubs() -> None:
    assert len(Hub) == 8
    assert Hub("ningxia").label.startswith("宁夏")


def test_accelerator_lookup_ignores_case_and_punctuation() -> None:
    cat = load_catalog(SHIPPED)
    assert cat.accelerator("ascend-910b") is cat.accelerators["Ascend 910B"]
    assert cat.accelerator("a100") is None


def _broken(data: dict, table: str, index: int, **changes: object) -> dict:
    d = copy.deepcopy(data)
    for k, v in changes.items():
        if v is None:
            d[table][index].pop(k)
        else:
            d[table][index][k] = v
    return d


@pytest.mark.parametrize(
    ("table", "changes", "field", "words"),
    [
        ("pools", {"price_per_hour": -3}, "price_per_hour", "out of range"),
        ("pools", {"price_per_hour": "cheap"}, "price_per_hour", "not a number"),
        ("pools", {"accelerator": "TPU v5"}, "accelerator", "unknown accelerator"),
        ("pools", {"count": 12}, "count", "whole number of nodes"),
        ("pools", {"backend": "k8s"}, "backend", "unknown backend"),
        ("pools", {"site": "nowhere"}, "site", "unknown site"),
        ("sites", {"hub": "hainan"}, "hub", "eight national hubs"),
        ("sites", {"pue": 0.8}, "pue", "out of range"),
        ("sites", {"green_share": 1.5}, "green_share", "out of range"),
        ("sites", {"latency_ms": None}, "latency_ms", "must be a number"),
        ("sites", {"provider": "ghost"}, "provider", "unknown provider"),
    ],
)
def test_bad_rows_are_refused_naming_row_and_field(data: dict, table: str, changes: dict, field: str,
                                                    words: str) -> None:
    bad = _broken(data, table, 1, **changes)
    with pytest.raises(CatalogError) as e:
        parse_catalog(bad, source="catalog.toml")
    assert e.value.field == field
    assert f"{table}[1]" in e.value.where
    assert words in str(e.value)
    assert "fix:" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_missing_version_duplicate_id_and_syntax_errors(data: dict, tmp_path: Path) -> None:
    d = copy.deepcopy(data)
    del d["catalog_version"]
    with pytest.raises(CatalogError, match="catalog_version"):
        parse_catalog(d)
    d = copy.deepcopy(data)
    d["schema_version"] = 9
    with pytest.raises(CatalogError, match="schema_version"):
        parse_catalog(d)
    d = copy.deepcopy(data)
    d["pools"][2]["id"] = d["pools"][0]["id"]
    with pytest.raises(CatalogError, match="used twice"):
        parse_catalog(d)
    f = tmp_path / "c.toml"
    f.write_text("catalog_version = \n", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(f)
    with pytest.raises(CatalogError, match="no catalog file"):
        load_catalog(tmp_path / "missing.toml")
