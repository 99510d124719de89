"""The layer package schema (CONTRACT section 1): layers, geometry kinds, columns, references."""

from __future__ import annotations

from dataclasses import dataclass, field

POINT = ("Point",)
LINE = ("LineString",)
POLYGON = ("Polygon",)


@dataclass(frozen=True)
class LayerSpec:
    name: str
    geometry: tuple[str, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    required_layer: bool = False
    # Ids of network layers are unique across all of them (asset codes).
    network: bool = False
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # column -> the layers whose ids it may name
    references: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # column -> a default when empty
    defaults: dict[str, str] = field(default_factory=dict)
    numeric: tuple[str, ...] = ()
    id_column: str | None = "id"
    has_crs: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


SWITCH_KINDS = ("breaker", "recloser", "fuse", "sectionalizer", "load_break_switch", "disconnector")
PROTECTIVE_SWITCH_KINDS = frozenset({"breaker", "recloser", "fuse"})
# Derived by the import for lines cut inside by a tee (layers.topology): their inner nodes, a
# JSON list, two per cut (the end of the part before, the start of the part after).
VIA_COLUMN = "via_nodes"
SERVICE_CATEGORIES = ("residential", "commercial", "industrial", "important")
AREA_CLASSES = ("urban", "rural", "remote")
ADMIN_LEVELS = ("county", "township", "village")

LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec(
            "substations",
            ("Point", "Polygon"),
            required=("id", "name", "node"),
            optional=("voltage_kv",),
            required_layer=True,
            network=True,
            numeric=("voltage_kv",),
        ),
        LayerSpec(
            "mv_lines",
            LINE,
            required=("id", "feeder"),
            optional=("from_node", "to_node", "name", "voltage_kv", "unit_id"),
            required_layer=True,
            network=True,
            references={"unit_id": ("units",)},
            defaults={"voltage_kv": "10"},
            numeric=("voltage_kv",),
        ),
        LayerSpec(
            "switches",
            POINT,
            required=("id", "kind"),
            optional=("from_node", "to_node", "normal_state", "feeder", "name"),
            network=True,
            enums={"kind": SWITCH_KINDS, "normal_state": ("closed", "open")},
            defaults={"normal_state": "closed"},
        ),
        LayerSpec(
            "transformers",
            POINT,
            required=("id", "name"),
            optional=("hv_node", "lv_node", "kva", "feeder"),
            required_layer=True,
            network=True,
            numeric=("kva",),
        ),
        LayerSpec(
            "lv_lines",
            LINE,
            required=("id",),
            optional=("from_node", "to_node", "transformer_id", "voltage_kv"),
            network=True,
            references={"transformer_id": ("transformers",)},
            defaults={"voltage_kv": "0.4"},
            numeric=("voltage_kv",),
        ),
        LayerSpec(
            "poles",
            POINT,
            required=("id", "line_name", "number"),
            optional=("node",),
            network=True,
        ),
        LayerSpec(
            "service_points",
            POINT,
            required=("id", "account_no", "transformer_id"),
            optional=("node", "address", "name", "phone", "category"),
            required_layer=True,
            network=True,
            enums={"category": SERVICE_CATEGORIES},
            references={"transformer_id": ("transformers",)},
            defaults={"category": "residential"},
        ),
        LayerSpec("units", POINT, required=("id", "name"), optional=("kind", "phone")),
        LayerSpec(
            "territories",
            POLYGON,
            required=("unit_id",),
            optional=("id", "area_class"),
            enums={"area_class": AREA_CLASSES},
            references={"unit_id": ("units",)},
            defaults={"area_class": "rural"},
        ),
        LayerSpec(
            "crews",
            POINT,
            required=("id", "unit_id", "name"),
            optional=("members",),
            references={"unit_id": ("units",)},
            numeric=("members",),
        ),
        LayerSpec(
            "admin_areas",
            POLYGON,
            required=("id", "name", "level"),
            optional=("parent_id",),
            enums={"level": ADMIN_LEVELS},
            references={"parent_id": ("admin_areas",)},
        ),
        LayerSpec(
            "places",
            POINT,
            required=("name",),
            optional=("kind", "aliases", "admin_id"),
            references={"admin_id": ("admin_areas",)},
            id_column=None,
        ),
        LayerSpec(
            "roads",
            LINE,
            required=("id",),
            optional=("name", "kind", "speed_kmh", "oneway"),
            numeric=("speed_kmh",),
        ),
        LayerSpec(
            "schematic",
            ("Point", "LineString"),
            required=("element_id",),
            optional=("feeder",),
            id_column=None,
            has_crs=False,
        ),
    )
}

REQUIRED_LAYERS = tuple(name for name, spec in LAYERS.items() if spec.required_layer)
NETWORK_LAYERS = tuple(name for name, spec in LAYERS.items() if spec.network)
