"""CSV import bench (issue 16): a 20,000-row file (the limit) into a tenant that already has half of its phones —
read, checked, merged and committed as the import endpoints do, in process.

    .venv/bin/python -m buildcrm.devstack --tmp -- .venv/bin/python bench/crm_import.py [--rows 20000]

Prints the file size and the seconds of each step: read (decode, sniff, parse), check (every row), preview (the
in-file merge and the lookup of existing phones) and commit (new leads in one INSERT each for leads, events and
identities; the existing ones filled field by field). Baseline in the same run: the same steps for 1/10 the rows.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_tenant, django_setup, setup_platform


def csv_file(rows: int, offset: int) -> bytes:
    lines = ["Имя;Телефон;Город;Источник;Теги"]
    for n in range(rows):
        lines.append(f"Клиент {n};+7 705 {offset + n:07d};{'Алматы' if n % 3 else ''};выставка;vip, дом")
    return ("\n".join(lines) + "\n").encode("cp1251")


def run(tenant, rows: int, offset: int) -> dict[str, float]:
    from django_tenants.utils import tenant_context

    from accounts.models import User
    from leads import csvio, selectors, services
    from leads.models import Lead

    data = csv_file(rows, offset)
    with tenant_context(tenant):
        owner = User.objects.get(email=f"owner@{tenant.slug}.test")
        # Half of the file's phones exist already (empty city): the commit fills them.
        stage = services.stage_of_kind("new")
        existing = [Lead(name=f"Старый {n}", phone=f"7705{offset + n:07d}", stage=stage) for n in range(0, rows, 2)]
        Lead.objects.bulk_create(existing)
        times: dict[str, float] = {"bytes": len(data)}
        t0 = time.perf_counter()
        table = csvio.read_table(data)
        t1 = time.perf_counter()
        checked = csvio.rows_check(table, csvio.mapping_guess(table.headers))
        t2 = time.perf_counter()
        merged, _ = csvio.rows_merge(checked)
        selectors.leads_by_phone(phones={r.values["phone"] for r in merged if r.values.get("phone")})
        t3 = time.perf_counter()
        result = services.leads_import(user=owner, rows=[r.values for r in merged])
        t4 = time.perf_counter()
    assert result["created"] == rows - len(existing) and result["updated"] == len(existing), result
    times.update(read=t1 - t0, check=t2 - t1, preview=t3 - t2, commit=t4 - t3, total=t4 - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    django_setup()
    setup_platform()
    tenant = bench_tenant("benchimport")
    for label, rows, offset in (("baseline", args.rows // 10, 0), ("full", args.rows, 1_000_000)):
        t = run(tenant, rows, offset)
        print(f"{label}: rows={rows} file={t['bytes'] / 1024:.0f} KiB read={t['read']:.2f}s check={t['check']:.2f}s "
              f"preview={t['preview']:.2f}s commit={t['commit']:.2f}s total={t['total']:.2f}s "
              f"({rows / t['total']:.0f} rows/s)")


if __name__ == "__main__":
    main()
