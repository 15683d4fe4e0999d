"""Generate seeds/br_ba_holidays.csv: Brazilian national and Bahia state holidays.

The seed is committed (dbt builds air-gapped, from files only); this script is how it is made and
tests/dbt/test_holidays_seed.py checks the committed file equals its output. Rows come from the
``holidays`` package (``holidays.country_holidays('BR', subdiv='BA')``) with Portuguese names:

* ``public``   - feriados (national + Bahia, e.g. 2 de Julho, Independência da Bahia);
* ``optional`` - pontos facultativos (Carnaval, Quarta-feira de Cinzas, Corpus Christi, ...).

Usage: ``python dbt_project/scripts/generate_holidays.py [--check]``; --check exits 1 when the
committed seed differs. Regenerate after upgrading ``holidays`` or moving the year range.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from datetime import date
from pathlib import Path

import holidays

FIRST_YEAR = 2015
LAST_YEAR = 2035
CATEGORIES = ("public", "optional")
HEADER = ("holiday_date", "holiday_name", "holiday_category")
SEED_PATH = Path(__file__).resolve().parent.parent / "seeds" / "br_ba_holidays.csv"


def holiday_rows(first_year: int = FIRST_YEAR, last_year: int = LAST_YEAR) -> list[tuple[date, str, str]]:
    """(date, name, category) for every holiday of Brazil + Bahia in the years, sorted."""
    rows: list[tuple[date, str, str]] = []
    for category in CATEGORIES:
        calendar = holidays.country_holidays(
            "BR",
            subdiv="BA",
            years=range(first_year, last_year + 1),
            categories=(category,),
            language="pt_BR",
        )
        rows.extend((day, name, category) for day, name in calendar.items())
    return sorted(rows, key=lambda row: (row[0], CATEGORIES.index(row[2]), row[1]))


def render_csv(rows: list[tuple[date, str, str]]) -> str:
    """The seed file's exact text (header, ISO dates, LF line endings)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for day, name, category in rows:
        writer.writerow((day.isoformat(), name, category))
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed seed")
    parser.add_argument("--output", type=Path, default=SEED_PATH)
    args = parser.parse_args(argv)
    text = render_csv(holiday_rows())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({text.count(chr(10)) - 1} holidays)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
