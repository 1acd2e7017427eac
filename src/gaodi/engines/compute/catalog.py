"""The resource catalog: providers, sites, accelerator pools, and the cost parameters of placement.

Like SkyPilot's catalogs, the catalog is a versioned data file rather than code: one TOML document
with a ``catalog_version`` (the edition of the figures, e.g. ``"2024.06"``) and a ``schema_version``
(the layout, currently 1). Tables:

``[costs]``
    ``cross_region_transfer_per_gb`` (CNY per GB moved out of the data's region),
    ``inference_latency_per_ms_hour`` (CNY per ms of network latency to Shanghai per accelerator-hour,
    charged to latency-sensitive inference only), ``carbon_price_per_tonne`` (CNY per t CO2) and
    ``grid_emission_factor`` (t CO2 per MWh of grid power).
``[[accelerators]]``
    ``model``, ``vendor``, ``memory_gb``, ``power_kw`` (board power per accelerator).
``[[providers]]``
    ``id``, ``name``.
``[[sites]]``
    ``id``, ``provider``, ``name``, ``hub`` (one of the eight national hubs, :class:`Hub`),
    ``region`` (province-level code where the data centre stands, e.g. ``shanghai``), ``pue``,
    ``green_share`` (0-1), ``latency_ms`` (round trip to Shanghai).
``[[pools]]``
    ``id``, ``site``, ``accelerator`` (a model above), ``count``, ``per_node``, ``memory_gb``
    (optional, defaults to the accelerator's), ``price_per_hour`` (CNY per accelerator-hour, list
    price), ``backend`` (``local``, ``slurm`` or ``ray``).

:func:`load_catalog` refuses a file that does not validate with :class:`CatalogError`, naming the file,
the table row and the field, and saying how to fix it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from gaodi.engines.compute.errors import CatalogError

SCHEMA_VERSION = 1
BACKENDS = ("local", "slurm", "ray")


class Hub(StrEnum):
    """The eight national computing hubs of "East Data, West Compute" (东数西算)."""

    BEIJING_TIANJIN_HEBEI = "beijing_tianjin_hebei"
    YANGTZE_RIVER_DELTA = "yangtze_river_delta"
    GREATER_BAY_AREA = "greater_bay_area"
    CHENGDU_CHONGQING = "chengdu_chongqing"
    INNER_MONGOLIA = "inner_mongolia"
    GUIZHOU = "guizhou"
    GANSU = "gansu"
    NINGXIA = "ningxia"

    @property
    def label(self) -> str:
        return HUB_LABELS[self]


HUB_LABELS: dict[Hub, str] = {
    Hub.BEIJING_TIANJIN_HEBEI: "京津冀 Beijing-Tianjin-Hebei",
    Hub.YANGTZE_RIVER_DELTA: "长三角 Yangtze River Delta",
    Hub.GREATER_BAY_AREA: "粤港澳大湾区 Greater Bay Area",
    Hub.CHENGDU_CHONGQING: "成渝 Chengdu-Chongqing",
    Hub.INNER_MONGOLIA: "内蒙古 Inner Mongolia",
    Hub.GUIZHOU: "贵州 Guizhou",
    Hub.GANSU: "甘肃 Gansu",
    Hub.NINGXIA: "宁夏 Ningxia",
}


@dataclass(frozen=True)
class Costs:
    cross_region_transfer_per_gb: Decimal
    inference_latency_per_ms_hour: Decimal
    carbon_price_per_tonne: Decimal
    grid_emission_factor: Decimal  # t CO2 per MWh


@dataclass(frozen=True)
class Accelerator:
    model: str
    vendor: str
    memory_gb: int
    power_kw: Decimal


@dataclass(frozen=True)
class Provider:
    id: str
    name: str


@dataclass(frozen=True)
class Site:
    id: str
    provider: str
    name: str
    hub: Hub
    region: str
    pue: Decimal
    green_share: Decimal
    latency_ms: Decimal


@dataclass(frozen=True)
class Pool:
    id: str
    site: str
    accelerator: str
    count: int
    per_node: int
    memory_gb: int
    price_per_hour: Decimal
    backend: str

    @property
    def nodes(self) -> int:
        return self.count // self.per_node


@dataclass(frozen=True)
class Catalog:
    catalog_version: str
    costs: Costs
    accelerators: Mapping[str, Accelerator]
    providers: Mapping[str, Provider]
    sites: Mapping[str, Site]
    pools: Mapping[str, Pool]
    source: str = ""

    def accelerator(self, model: str) -> Accelerator | None:
        """Look a model up by name, ignoring case and spaces/hyphens ("ascend-910b" = "Ascend 910B")."""
        key = normalize_model(model)
        for name, acc in self.accelerators.items():
            if normalize_model(name) == key:
                return acc
        return None

    def site_of(self, pool: Pool) -> Site:
        return self.sites[pool.site]

    def provider_of(self, pool: Pool) -> Provider:
        return self.providers[self.sites[pool.site].provider]

    @property
    def regions(self) -> frozenset[str]:
        return frozenset(site.region for site in self.sites.values())

    @property
    def largest_pool(self) -> int:
        return max((p.count for p in self.pools.values()), default=0)


def normalize_model(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate a TOML catalog file."""
    p = Path(path)
    if not p.is_file():
        raise CatalogError("path", f"no catalog file at {str(p)!r}", "give the path of a catalog .toml file",
                           where=str(p))
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError("file", f"is not valid TOML ({exc})", "fix the syntax at the position shown",
                           where=str(p)) from None
    return parse_catalog(data, source=str(p))


def parse_catalog(data: Mapping[str, Any], source: str = "catalog") -> Catalog:
    """Validate an already-parsed catalog mapping (what ``tomllib`` returns)."""
    schema = data.get("schema_version", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        raise CatalogError("schema_version", f"is {schema!r}, this Gaodi reads version {SCHEMA_VERSION}",
                           "convert the file to the current layout or upgrade Gaodi", where=source)
    version = data.get("catalog_version")
    if not isinstance(version, str) or not version.strip():
        raise CatalogError("catalog_version", "is missing or empty",
                           'add a line like catalog_version = "2024.06" naming the edition of the figures',
                           where=source)
    costs_row = _table(data, "costs", source)
    costs = Costs(
        cross_region_transfer_per_gb=_decimal(costs_row, "cross_region_transfer_per_gb", f"{source}: [costs]", 0),
        inference_latency_per_ms_hour=_decimal(costs_row, "inference_latency_per_ms_hour", f"{source}: [costs]", 0),
        carbon_price_per_tonne=_decimal(costs_row, "carbon_price_per_tonne", f"{source}: [costs]", 0),
        grid_emission_factor=_decimal(costs_row, "grid_emission_factor", f"{source}: [costs]", 0, 5),
    )
    accelerators: dict[str, Accelerator] = {}
    for where, row in _rows(data, "accelerators", source):
        model = _text(row, "model", where)
        if any(normalize_model(model) == normalize_model(m) for m in accelerators):
            raise CatalogError("model", f"{model!r} is listed twice", "keep one row per model", where=where)
        accelerators[model] = Accelerator(
            model=model, vendor=_text(row, "vendor", where), memory_gb=_int(row, "memory_gb", where, 1, 4096),
            power_kw=_decimal(row, "power_kw", where, 0, 10, strict_low=True),
        )
    providers: dict[str, Provider] = {}
    for where, row in _rows(data, "providers", source):
        pid = _ident(row, where, providers)
        providers[pid] = Provider(id=pid, name=_text(row, "name", where))
    sites: dict[str, Site] = {}
    for where, row in _rows(data, "sites", source):
        sid = _ident(row, where, sites)
        provider = _text(row, "provider", where)
        if provider not in providers:
            raise CatalogError("provider", f"unknown provider {provider!r}",
                               f"use one of the [[providers]] ids: {', '.join(sorted(providers))}", where=where)
        hub_name = _text(row, "hub", where)
        try:
            hub = Hub(hub_name)
        except ValueError:
            raise CatalogError("hub", f"{hub_name!r} is not one of the eight national hubs",
                               f"use one of {', '.join(h.value for h in Hub)}", where=where) from None
        sites[sid] = Site(
            id=sid, provider=provider, name=_text(row, "name", where), hub=hub,
            region=_text(row, "region", where).lower(),
            pue=_decimal(row, "pue", where, 1, 3),
            green_share=_decimal(row, "green_share", where, 0, 1),
            latency_ms=_decimal(row, "latency_ms", where, 0, 1000),
        )
    pools: dict[str, Pool] = {}
    for where, row in _rows(data, "pools", source):
        pid = _ident(row, where, pools)
        site = _text(row, "site", where)
        if site not in sites:
            raise CatalogError("site", f"unknown site {site!r}", f"use one of the [[sites]] ids: {', '.join(sorted(sites))}",
                               where=where)
        model = _text(row, "accelerator", where)
        acc = next((a for m, a in accelerators.items() if normalize_model(m) == normalize_model(model)), None)
        if acc is None:
            raise CatalogError("accelerator", f"unknown accelerator model {model!r}",
                               f"add it to [[accelerators]] or use one of {', '.join(sorted(accelerators))}", where=where)
        count = _int(row, "count", where, 1, 1_000_000)
        per_node = _int(row, "per_node", where, 1, 64) if "per_node" in row else 8
        if count % per_node:
            raise CatalogError("count", f"{count} is not a whole number of nodes of {per_node}",
                               "make count a multiple of per_node", where=where)
        backend = _text(row, "backend", where)
        if backend not in BACKENDS:
            raise CatalogError("backend", f"unknown backend {backend!r}", f"use one of {', '.join(BACKENDS)}", where=where)
        pools[pid] = Pool(
            id=pid, site=site, accelerator=acc.model, count=count, per_node=per_node,
            memory_gb=_int(row, "memory_gb", where, 1, 4096) if "memory_gb" in row else acc.memory_gb,
            price_per_hour=_decimal(row, "price_per_hour", where, 0, 10_000, strict_low=True),
            backend=backend,
        )
    if not pools:
        raise CatalogError("pools", "the catalog lists no pools", "add at least one [[pools]] table", where=source)
    return Catalog(catalog_version=version.strip(), costs=costs, accelerators=accelerators, providers=providers,
                   sites=sites, pools=pools, source=source)


def _table(data: Mapping[str, Any], name: str, source: str) -> Mapping[str, Any]:
    row = data.get(name)
    if not isinstance(row, Mapping):
        raise CatalogError(f"[{name}]", "table is missing", f"add a [{name}] table", where=source)
    return row


def _rows(data: Mapping[str, Any], name: str, source: str) -> list[tuple[str, Mapping[str, Any]]]:
    rows = data.get(name, [])
    if not isinstance(rows, list):
        raise CatalogError(f"[[{name}]]", "must be an array of tables", f"write each row as [[{name}]]", where=source)
    out = []
    for i, row in enumerate(rows):
        label = f"{source}: {name}[{i}]"
        if isinstance(row, Mapping) and isinstance(row.get("id", row.get("model")), str):
            label += f" ({row.get('id', row.get('model'))!r})"
        if not isinstance(row, Mapping):
            raise CatalogError(f"[[{name}]]", "row is not a table", f"write each row as [[{name}]]", where=label)
        out.append((label, row))
    return out


def _ident(row: Mapping[str, Any], where: str, seen: Mapping[str, object]) -> str:
    ident = _text(row, "id", where)
    if ident in seen:
        raise CatalogError("id", f"{ident!r} is used twice", "give every row its own id", where=where)
    return ident


def _text(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(key, "is missing or not a non-empty string", f'add {key} = "..."', where=where)
    return value.strip()


def _int(row: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CatalogError(key, f"must be a whole number, got {value!r}", f"write {key} = <integer>", where=where)
    if not low <= value <= high:
        raise CatalogError(key, f"{value} is out of range", f"use a value from {low} to {high}", where=where)
    return value


def _decimal(row: Mapping[str, Any], key: str, where: str, low: float, high: float | None = None,
             *, strict_low: bool = False) -> Decimal:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CatalogError(key, f"must be a number, got {value!r}", f"write {key} = <number>", where=where)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise CatalogError(key, f"is not a number: {value!r}", f"write {key} = <number>", where=where) from None
    if not number.is_finite():
        raise CatalogError(key, f"is not finite: {value!r}", "write a finite number", where=where)
    too_low = number <= Decimal(str(low)) if strict_low else number < Decimal(str(low))
    if too_low or (high is not None and number > Decimal(str(high))):
        bound = f"above {low:g}" if strict_low else f"at least {low:g}"
        upper = f" and at most {high:g}" if high is not None else ""
        raise CatalogError(key, f"{number} is out of range", f"use a value {bound}{upper}", where=where)
    return number
