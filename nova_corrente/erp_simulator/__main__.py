"""``python -m nova_corrente.erp_simulator``: see ``cli.py``."""

from nova_corrente.erp_simulator.cli import main

raise SystemExit(main())
