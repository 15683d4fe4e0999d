"""Deterministic simulator of Nova Corrente's ERP (the platform's source system).

``simulate(SimulationConfig(seed=...))`` builds master data, daily spare-part demand with a
rainy-season peak, an (s, Q) replenishment process with purchase orders and stock movements, and
the external weather/economic/ANATEL 5G rollout feeds; ``load_erp`` writes the ERP as of any
instant into PostgreSQL (``nova_corrente.contracts.erp`` is the contract) and ``write_feed_files`` drops the feeds
as monthly CSVs in the landing folder. CLI: ``python -m nova_corrente.erp_simulator --help``.
"""

from nova_corrente.erp_simulator.config import (
    MOVEMENT_SIGN,
    MOVEMENT_TYPES,
    PRIMARY_KEYS,
    TABLE_COLUMNS,
    TABLES,
    ErpData,
    SimulationConfig,
)
from nova_corrente.erp_simulator.feeds import write_feed_files
from nova_corrente.erp_simulator.load import (
    LoadedSimulation,
    LoadSummary,
    erp_exists,
    load_erp,
    loaded_config,
    loaded_simulation,
)
from nova_corrente.erp_simulator.replay import erp_state_as_of
from nova_corrente.erp_simulator.simulate import simulate

__all__ = [
    "MOVEMENT_SIGN", "MOVEMENT_TYPES", "PRIMARY_KEYS", "TABLES", "TABLE_COLUMNS",
    "ErpData", "LoadSummary", "LoadedSimulation", "SimulationConfig",
    "erp_exists", "erp_state_as_of", "load_erp", "loaded_config", "loaded_simulation", "simulate", "write_feed_files",
]
