"""Master data: material families and materials, tower sites in Bahia, suppliers and who sells what.

Everything here is reference data with realistic shapes (names, units, BRL costs, coordinates);
the numbers that drive demand and lead times live next to it so one place says what a
"VRLA battery" means for the simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nova_corrente.erp_simulator.config import SimulationConfig, rng_for

FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("ENERGY_BATTERY", "Batteries", "energy"),
    ("ENERGY_RECTIFIER", "Rectifiers and DC power", "energy"),
    ("TX_ANTENNA", "Antennas", "transmission"),
    ("TX_RADIO", "Radios and RF units", "transmission"),
    ("TX_CABLE", "Feeder, fibre and power cables", "transmission"),
    ("CONN_CONNECTOR", "Connectors", "connectivity"),
    ("CONN_CONSUMABLE", "Installation consumables", "connectivity"),
    ("STRUCT_HARDWARE", "Tower structure and hardware", "structural"),
)


@dataclass(frozen=True)
class MaterialTemplate:
    """A catalogue item and how it behaves: events/day at a silver site, units per event."""

    family_id: str
    name: str
    unit: str
    cost_brl: float
    profile: str  # 'smooth' | 'intermittent' | 'lumpy'
    rate: float  # demand events per day at a silver-tier site
    size: float  # mean units per event (>= 1)
    rain_sensitivity: float  # 0..1, how much the rainy season raises corrective maintenance
    pack: int  # order multiple


_T = MaterialTemplate
TEMPLATES: tuple[MaterialTemplate, ...] = (
    _T("ENERGY_BATTERY", "VRLA battery 12V 100Ah", "unit", 1450.0, "lumpy", 0.040, 4.0, 0.6, 4),
    _T("ENERGY_BATTERY", "VRLA battery 12V 150Ah", "unit", 2100.0, "lumpy", 0.024, 4.0, 0.6, 4),
    _T("ENERGY_BATTERY", "Lithium battery module 48V 100Ah (LiFePO4)", "unit", 9800.0, "intermittent", 0.018, 1.0, 0.5, 1),
    _T("ENERGY_BATTERY", "Battery monitoring sensor", "unit", 320.0, "intermittent", 0.090, 1.2, 0.4, 1),
    _T("ENERGY_RECTIFIER", "Rectifier module 48V 2kW", "unit", 3900.0, "intermittent", 0.036, 1.2, 0.7, 1),
    _T("ENERGY_RECTIFIER", "Rectifier module 48V 3kW", "unit", 5200.0, "intermittent", 0.024, 1.1, 0.7, 1),
    _T("ENERGY_RECTIFIER", "DC power system controller", "unit", 7400.0, "intermittent", 0.012, 1.0, 0.6, 1),
    _T("ENERGY_RECTIFIER", "DC surge protection device 48V", "unit", 410.0, "intermittent", 0.150, 1.3, 0.9, 1),
    _T("ENERGY_RECTIFIER", "DC circuit breaker 63A", "unit", 185.0, "intermittent", 0.180, 1.4, 0.7, 2),
    _T("TX_ANTENNA", "Sector antenna 65deg 4T4R 1.7-2.7GHz", "unit", 6900.0, "intermittent", 0.012, 1.0, 0.5, 1),
    _T("TX_ANTENNA", "Microwave dish antenna 0.6m 18GHz", "unit", 4200.0, "intermittent", 0.012, 1.0, 0.5, 1),
    _T("TX_ANTENNA", "Antenna mounting clamp kit", "kit", 240.0, "intermittent", 0.150, 1.5, 0.5, 2),
    _T("TX_RADIO", "Remote radio unit 2100MHz", "unit", 18500.0, "intermittent", 0.012, 1.0, 0.6, 1),
    _T("TX_RADIO", "Microwave outdoor unit 18GHz", "unit", 9600.0, "intermittent", 0.015, 1.0, 0.6, 1),
    _T("TX_RADIO", "SFP optical module 10G", "unit", 380.0, "intermittent", 0.150, 1.3, 0.3, 2),
    _T("TX_CABLE", "Coaxial feeder cable 7/8in", "m", 48.0, "lumpy", 0.060, 25.0, 0.6, 10),
    _T("TX_CABLE", "Fibre optic drop cable 2FO", "m", 3.8, "lumpy", 0.100, 40.0, 0.5, 50),
    _T("TX_CABLE", "Power cable 16mm2", "m", 22.0, "lumpy", 0.080, 15.0, 0.5, 10),
    _T("TX_CABLE", "Jumper cable 1/2in 3m", "unit", 165.0, "intermittent", 0.200, 1.5, 0.6, 2),
    _T("TX_CABLE", "Grounding cable 35mm2", "m", 28.0, "lumpy", 0.060, 12.0, 0.8, 10),
    _T("CONN_CONNECTOR", "DIN 7/16 connector", "unit", 42.0, "smooth", 1.350, 2.0, 0.4, 10),
    _T("CONN_CONNECTOR", "N-type connector", "unit", 18.5, "smooth", 1.800, 2.5, 0.4, 20),
    _T("CONN_CONNECTOR", "4.3-10 connector", "unit", 55.0, "smooth", 1.050, 2.0, 0.4, 10),
    _T("CONN_CONNECTOR", "LC/UPC fibre connector", "unit", 9.9, "smooth", 1.500, 2.5, 0.3, 20),
    _T("CONN_CONNECTOR", "RJ45 shielded connector", "unit", 4.2, "smooth", 2.100, 3.0, 0.2, 50),
    _T("CONN_CONSUMABLE", "Weatherproofing tape kit", "kit", 68.0, "smooth", 1.200, 1.5, 0.6, 5),
    _T("CONN_CONSUMABLE", "UV cable ties 300mm (pack of 100)", "pack", 36.0, "smooth", 0.900, 1.3, 0.3, 5),
    _T("CONN_CONSUMABLE", "Silicone sealant 280ml", "unit", 29.0, "smooth", 0.750, 1.5, 0.7, 6),
    _T("CONN_CONSUMABLE", "Cable grounding kit 1/2in", "kit", 95.0, "intermittent", 0.200, 1.5, 0.8, 2),
    _T("CONN_CONSUMABLE", "Heat-shrink tube kit", "kit", 52.0, "intermittent", 0.250, 1.3, 0.5, 2),
    _T("STRUCT_HARDWARE", "Galvanised bolt kit M16", "kit", 120.0, "intermittent", 0.240, 1.5, 0.5, 5),
    _T("STRUCT_HARDWARE", "Antenna support bracket", "unit", 380.0, "intermittent", 0.090, 1.2, 0.6, 1),
    _T("STRUCT_HARDWARE", "Cable ladder section 3m", "unit", 640.0, "lumpy", 0.020, 3.0, 0.4, 1),
    _T("STRUCT_HARDWARE", "LED aviation obstruction light", "unit", 1250.0, "intermittent", 0.045, 1.0, 0.9, 1),
    _T("STRUCT_HARDWARE", "Lightning rod assembly", "unit", 890.0, "intermittent", 0.018, 1.0, 1.0, 1),
    _T("STRUCT_HARDWARE", "Anti-corrosion paint 3.6L", "unit", 210.0, "intermittent", 0.090, 1.5, 0.4, 2),
)

# city, mesoregion, latitude, longitude, rain scale (vs Salvador), mean max/min temperature (C)
CITIES: tuple[tuple[str, str, float, float, float, float, float], ...] = (
    ("Salvador", "Metropolitana de Salvador", -12.9714, -38.5014, 1.00, 29.5, 23.5),
    ("Feira de Santana", "Centro-Norte Baiano", -12.2664, -38.9663, 0.45, 30.0, 20.5),
    ("Vitória da Conquista", "Centro-Sul Baiano", -14.8615, -40.8442, 0.35, 26.0, 15.5),
    ("Camaçari", "Metropolitana de Salvador", -12.6996, -38.3263, 0.95, 29.5, 22.5),
    ("Itabuna", "Sul Baiano", -14.7876, -39.2781, 0.70, 30.0, 20.5),
    ("Juazeiro", "Vale São-Franciscano da Bahia", -9.4116, -40.5030, 0.15, 33.0, 21.5),
    ("Lauro de Freitas", "Metropolitana de Salvador", -12.8978, -38.3210, 1.00, 29.5, 23.0),
    ("Ilhéus", "Sul Baiano", -14.7935, -39.0464, 0.95, 29.0, 22.0),
    ("Jequié", "Centro-Sul Baiano", -13.8579, -40.0853, 0.35, 31.5, 20.0),
    ("Teixeira de Freitas", "Sul Baiano", -17.5350, -39.7419, 0.60, 30.0, 20.0),
    ("Barreiras", "Extremo Oeste Baiano", -12.1528, -44.9900, 0.35, 32.0, 19.0),
    ("Alagoinhas", "Nordeste Baiano", -12.1356, -38.4190, 0.60, 30.0, 20.5),
    ("Porto Seguro", "Sul Baiano", -16.4435, -39.0643, 0.75, 29.0, 21.5),
    ("Simões Filho", "Metropolitana de Salvador", -12.7866, -38.4011, 0.95, 29.5, 22.5),
    ("Paulo Afonso", "Vale São-Franciscano da Bahia", -9.4062, -38.2144, 0.20, 32.5, 21.5),
    ("Santo Antônio de Jesus", "Metropolitana de Salvador", -12.9691, -39.2617, 0.60, 29.5, 20.5),
    ("Valença", "Sul Baiano", -13.3706, -39.0731, 1.00, 29.0, 21.5),
    ("Guanambi", "Centro-Sul Baiano", -14.2233, -42.7814, 0.25, 32.0, 19.5),
    ("Irecê", "Centro-Norte Baiano", -11.3041, -41.8558, 0.25, 30.5, 18.0),
    ("Eunápolis", "Sul Baiano", -16.3776, -39.5800, 0.65, 30.0, 20.5),
    ("Senhor do Bonfim", "Centro-Norte Baiano", -10.4594, -40.1865, 0.30, 30.5, 19.5),
    ("Luís Eduardo Magalhães", "Extremo Oeste Baiano", -12.0961, -45.7866, 0.35, 31.5, 18.5),
)
# the order sites are placed in: big cities first, Salvador several times
SITE_CITY_ORDER: tuple[int, ...] = (0, 1, 2, 3, 0, 4, 5, 6, 7, 8, 0, 9, 10, 11, 12, 13, 14, 1, 15,
                                    16, 0, 17, 18, 19, 20, 21, 2, 3)

# name, city, state, categories sold, base quoted lead time (days), erratic deliveries
SUPPLIERS: tuple[tuple[str, str, str, frozenset[str], int, bool], ...] = (
    ("Baterias Nordeste Distribuidora Ltda", "Salvador", "BA", frozenset({"energy"}), 6, False),
    ("Telecom Parts Brasil S.A.", "São Paulo", "SP", frozenset({"transmission", "connectivity"}), 15, False),
    ("RF Conecta Comércio de Componentes Ltda", "Campinas", "SP", frozenset({"connectivity", "transmission"}), 12, True),
    ("Estruturas Metálicas Bahia Ltda", "Feira de Santana", "BA", frozenset({"structural"}), 8, False),
    ("Energia Total Equipamentos Ltda", "Camaçari", "BA", frozenset({"energy", "structural"}), 7, True),
    ("Cabos e Conectores do Nordeste Ltda", "Recife", "PE", frozenset({"connectivity", "transmission"}), 10, False),
    ("Radiolink Importadora Ltda", "Rio de Janeiro", "RJ", frozenset({"transmission", "energy"}), 30, True),
    ("Sul Minas Telecom Distribuição Ltda", "Belo Horizonte", "MG", frozenset({"transmission", "connectivity", "structural"}), 14, False),
    ("Fibra Norte Soluções Ltda", "Fortaleza", "CE", frozenset({"connectivity", "transmission"}), 11, True),
    ("Power Sul Industrial S.A.", "Curitiba", "PR", frozenset({"energy"}), 18, False),
)

_CATEGORY = {family_id: category for family_id, _, category in FAMILIES}
_HIGH_VALUE_FAMILIES = {"TX_RADIO", "TX_ANTENNA", "ENERGY_RECTIFIER"}


def master_timestamp(config: SimulationConfig, hour: int, minute: int = 0) -> pd.Timestamp:
    """A UTC timestamp on the day before the simulation starts (master data go-live)."""
    start = config.resolved().start_date
    return pd.Timestamp(start, tz="UTC") - pd.Timedelta(days=1) + pd.Timedelta(hours=hour, minutes=minute)


def _pick_templates(n: int, rng: np.random.Generator) -> list[tuple[MaterialTemplate, int]]:
    """n templates taken round-robin over the families (each family shuffled), with a variant
    number that grows when n exceeds the catalogue."""
    by_family = {fid: [t for t in TEMPLATES if t.family_id == fid] for fid, _, _ in FAMILIES}
    queues = {fid: [items[i] for i in rng.permutation(len(items))] for fid, items in by_family.items()}
    order: list[MaterialTemplate] = []
    while len(order) < len(TEMPLATES):
        for fid, _, _ in FAMILIES:
            if queues[fid]:
                order.append(queues[fid].pop(0))
    return [(order[i % len(order)], i // len(order)) for i in range(n)]


def build_families(config: SimulationConfig) -> pd.DataFrame:
    """The eight material families (all of them, even when no material uses one)."""
    return pd.DataFrame(
        {
            "family_id": [f[0] for f in FAMILIES],
            "family_name": [f[1] for f in FAMILIES],
            "category": [f[2] for f in FAMILIES],
            "updated_at": master_timestamp(config, 11),
        }
    )


def build_materials(config: SimulationConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Materials (schema columns) and their demand parameters (``material_id`` + template)."""
    rng = rng_for(config.seed, "materials")
    picked = _pick_templates(config.n_materials, rng)
    n = len(picked)
    cost_jitter = rng.uniform(0.9, 1.1, n)
    rate_jitter = rng.lognormal(0.0, 0.25, n)
    ids = [f"MAT-{i + 1:05d}" for i in range(n)]
    names = [t.name if v == 0 else f"{t.name} - model {chr(ord('A') + v)}" for t, v in picked]
    stamp = master_timestamp(config, 12)
    materials = pd.DataFrame(
        {
            "material_id": ids,
            "material_name": names,
            "family_id": [t.family_id for t, _ in picked],
            "unit_of_measure": [t.unit for t, _ in picked],
            "unit_cost_brl": np.round(np.array([t.cost_brl for t, _ in picked]) * cost_jitter, 2),
            "is_active": True,
            "created_at": stamp,
            "updated_at": stamp,
        }
    )
    params = pd.DataFrame(
        {
            "material_id": ids,
            "category": [_CATEGORY[t.family_id] for t, _ in picked],
            "profile": [t.profile for t, _ in picked],
            "rate": np.array([t.rate for t, _ in picked]) * rate_jitter,
            "size": [t.size for t, _ in picked],
            "rain_sensitivity": [t.rain_sensitivity for t, _ in picked],
            "pack": [t.pack for t, _ in picked],
            "high_value": [t.family_id in _HIGH_VALUE_FAMILIES for t, _ in picked],
        }
    )
    return materials, params


def build_sites(config: SimulationConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tower sites across Bahia (schema columns) and per-site climate/demand parameters."""
    rng = rng_for(config.seed, "sites")
    cfg = config.resolved()
    n = config.n_sites
    city_idx = np.array([SITE_CITY_ORDER[i % len(SITE_CITY_ORDER)] for i in range(n)])
    counts: dict[int, int] = {}
    names = []
    for c in city_idx:
        counts[c] = counts.get(c, 0) + 1
        names.append(f"ERB {CITIES[c][0]} {counts[c]:02d}")
    tiers = rng.choice(np.array(["gold", "silver", "bronze"]), size=n, p=[0.3, 0.45, 0.25])
    start = np.datetime64(cfg.start_date, "D")
    first = np.datetime64("2008-01-01", "D")
    span = int((start - np.timedelta64(365, "D") - first).astype(int))
    commissioned = first + rng.integers(0, max(span, 1), n).astype("timedelta64[D]")
    sites = pd.DataFrame(
        {
            "site_id": [f"SITE-{i + 1:04d}" for i in range(n)],
            "site_name": names,
            "city": [CITIES[c][0] for c in city_idx],
            "region": [CITIES[c][1] for c in city_idx],
            "latitude": np.round([CITIES[c][2] for c in city_idx] + rng.uniform(-0.04, 0.04, n), 6),
            "longitude": np.round([CITIES[c][3] for c in city_idx] + rng.uniform(-0.04, 0.04, n), 6),
            "sla_tier": tiers,
            "is_active": True,
            "commissioned_date": commissioned.astype("datetime64[s]"),
            "updated_at": master_timestamp(config, 13),
        }
    )
    tier_factor = pd.Series(tiers).map({"gold": 1.3, "silver": 1.0, "bronze": 0.7}).to_numpy()
    params = pd.DataFrame(
        {
            "site_id": sites["site_id"],
            "city": sites["city"],
            "demand_factor": tier_factor * rng.lognormal(0.0, 0.2, n),
            "growth_per_year": rng.uniform(0.0, 0.08, n),
        }
    )
    return sites, params


def city_climate(cities: list[str]) -> pd.DataFrame:
    """Rain scale and mean temperatures of the given cities (indexed by city)."""
    table = pd.DataFrame(
        [(c[0], c[4], c[5], c[6]) for c in CITIES],
        columns=["city", "rain_scale", "tmax_mean", "tmin_mean"],
    ).set_index("city")
    return table.loc[cities]


def build_suppliers(config: SimulationConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Suppliers (schema columns) and their delivery behaviour (categories, base lead time)."""
    n = config.n_suppliers
    rows = [SUPPLIERS[i % len(SUPPLIERS)] for i in range(n)]
    names = [r[0] if i < len(SUPPLIERS) else f"{r[0]} (filial {i // len(SUPPLIERS) + 1})"
             for i, r in enumerate(rows)]
    suppliers = pd.DataFrame(
        {
            "supplier_id": [f"SUP-{i + 1:03d}" for i in range(n)],
            "supplier_name": names,
            "city": [r[1] for r in rows],
            "state": [r[2] for r in rows],
            "is_active": True,
            "updated_at": master_timestamp(config, 14),
        }
    )
    params = pd.DataFrame(
        {
            "supplier_id": suppliers["supplier_id"],
            "categories": [r[3] for r in rows],
            "base_lead_days": [r[4] for r in rows],
            "is_erratic": [r[5] for r in rows],
        }
    )
    return suppliers, params


def build_supplier_materials(
    config: SimulationConfig, materials: pd.DataFrame, material_params: pd.DataFrame,
    supplier_params: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Who sells what: 1-3 suppliers per material (one preferred), quoted lead times and prices,
    plus the true lead-time distribution per pair (log-normal around the quoted time)."""
    rng = rng_for(config.seed, "supplier_materials")
    rows = []
    for m in range(len(materials)):
        category = material_params["category"].iat[m]
        able = [i for i, cats in enumerate(supplier_params["categories"]) if category in cats]
        candidates = able or list(range(len(supplier_params)))
        k = int(min(len(candidates), rng.integers(1, 4)))
        chosen = sorted(rng.choice(candidates, size=k, replace=False).tolist())
        preferred = chosen[int(rng.integers(0, k))]
        for s in chosen:
            base = supplier_params["base_lead_days"].iat[s]
            factor = 1.6 if material_params["high_value"].iat[m] else 1.0
            quoted = max(2, int(round(base * factor * rng.uniform(0.85, 1.2))))
            erratic = bool(supplier_params["is_erratic"].iat[s])
            rows.append(
                (supplier_params["supplier_id"].iat[s], materials["material_id"].iat[m], quoted,
                 round(float(materials["unit_cost_brl"].iat[m] * rng.uniform(0.92, 1.08)), 2),
                 s == preferred, erratic)
            )
    frame = pd.DataFrame(rows, columns=["supplier_id", "material_id", "quoted_lead_time_days",
                                        "unit_price_brl", "is_preferred", "is_erratic"])
    frame = frame.sort_values(["supplier_id", "material_id"], ignore_index=True)
    sigma = np.where(frame["is_erratic"], 0.45, 0.15)
    bias = np.where(frame["is_erratic"], 0.12, 0.0)
    lead_times = pd.DataFrame(
        {
            "supplier_id": frame["supplier_id"],
            "material_id": frame["material_id"],
            "quoted_lead_time_days": frame["quoted_lead_time_days"],
            "log_bias": bias,
            "lead_time_sigma": sigma,
            "mean_lead_time_days": frame["quoted_lead_time_days"] * np.exp(bias + sigma**2 / 2),
            "is_erratic": frame["is_erratic"],
            "is_preferred": frame["is_preferred"],
        }
    )
    supplier_materials = frame.drop(columns="is_erratic").assign(updated_at=master_timestamp(config, 15))
    return supplier_materials, lead_times


def stocked_pairs(config: SimulationConfig, n_materials: int, n_sites: int) -> np.ndarray:
    """Boolean (material x site) matrix of which site stocks which material.

    Each pair is stocked with probability ``site_stock_share``; every material is stocked at two
    sites at least (one when there is a single site) and every site stocks something.
    """
    rng = rng_for(config.seed, "stocked_pairs")
    draw = rng.random((n_materials, n_sites))
    mask = draw < config.site_stock_share
    need = min(2, n_sites)
    ranks = draw.argsort(axis=1).argsort(axis=1)
    mask |= ranks < need
    empty_sites = ~mask.any(axis=0)
    if empty_sites.any():
        best_material = draw.argmin(axis=0)
        mask[best_material[empty_sites], np.flatnonzero(empty_sites)] = True
    return mask


def price_revision_factors(config: SimulationConfig, days: np.ndarray, n_materials: int) -> np.ndarray:
    """Cumulative price factor per (day x material): prices are revised every 2 January by the
    material's own rate (3-7 %), so catalogue prices change during the simulation."""
    rng = rng_for(config.seed, "price_revisions")
    revision_day = (days.astype("datetime64[Y]").astype("datetime64[D]") + 1) == days
    revision_day[:1] = False  # a revision on the first simulated day would predate nothing
    rates = 1.0 + rng.uniform(0.03, 0.07, (len(days), n_materials))
    step = np.where(revision_day[:, None], rates, 1.0)
    return np.cumprod(step, axis=0)
