"""Great Expectations quality gates (GX Core 1.x) over the warehouse.

* ``suites``  — the suites, data sources, validation definitions and checkpoints, written as code
  and (re)built idempotently into the file context under ``expectations/``
  (``python -m nova_corrente.quality build``; the JSON it writes is committed).
* ``gates``   — ``validate_raw_batches`` (raw gate: only the rows of the given batches, then
  ``audit.load_batches`` -> passed / rejected) and ``validate_marts`` (marts + latest forecast run).
* ``context`` — opening the file context quietly, with the connection string supplied at run time.

Heavy imports (great_expectations takes seconds to import) happen inside functions, so importing
this package is cheap.
"""
