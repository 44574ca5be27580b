"""Billing export of one year for the big payer's ~200 clients (~30,000 claim lines at full
scale): services.billing.export end to end (queries, rules, batch + lines + disclosures
recorded, styled workbook written) vs bare openpyxl write_only appending the same rows.

    python -m benchmarks.bench_billing DB_PATH [--runs N]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date, timedelta
from pathlib import Path

from benchmarks.common import actor, cpu, emit, median, open_db, prepare_env, timed
from benchmarks.generate import BIG_PAYER


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path, help="a working copy: this benchmark writes batches")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    prepare_env()
    from openpyxl import Workbook

    from iopdesk.reports.billing import CLAIM_HEADERS
    from iopdesk.services import billing

    db = open_db(args.db)
    who = actor(db, "billing")
    date_to = date.today() - timedelta(days=1)
    date_from = date_to - timedelta(days=364)
    out = Path(tempfile.mkdtemp(prefix="iopdesk-bench-billing-"))
    counter = iter(range(1000))

    def export() -> billing.ExportResult:
        return billing.export(
            db,
            who,
            date_from,
            date_to,
            out / f"export-{next(counter)}.xlsx",
            payer_code=BIG_PAYER,
            include_billed=True,  # every run bills the same lines
        )

    result = export()
    run = billing.preview(db, who, date_from, date_to, payer_code=BIG_PAYER, include_billed=True)
    rows = [line.values() for line in run.lines]
    clients = len({line.client_id for line in run.lines})

    def bare() -> None:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Claim Lines")
        ws.append(CLAIM_HEADERS)
        for values in rows:
            ws.append([float(v) if i == 11 else v for i, v in enumerate(values)])
        wb.save(str(out / "bare.xlsx"))

    values = timed(export, args.runs, warmup=0)
    base = timed(bare, args.runs)
    emit(
        {
            "billing_export": {
                "value_ms": median(values),
                "baseline_ms": median(base),
                "cpu_ms": cpu(values),
                "baseline_cpu_ms": cpu(base),
                "lines": result.lines,
                "exceptions": result.exceptions,
                "clients": clients,
                "period": f"{date_from.isoformat()}..{date_to.isoformat()}",
            }
        }
    )
    db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
