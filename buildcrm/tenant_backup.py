"""A tenant as one file, and back: `tenant_export SLUG` and `tenant_import FILE --slug NEW`.

The file is a gzipped tar:
    manifest.json          format, the tenant's slug and schema, when, the schema's migrations, each table's columns
                           and row count
    public.json            the tenant's public rows: name, configuration as stored (secrets stay encrypted with
                           FIELD_ENCRYPTION_KEY, so an import needs the same key), status, domains, webhook tokens
    tables/<table>.copy    every table of the tenant's schema in PostgreSQL's COPY text format, columns named
    media/<file>           the tenant's stored media (MEDIA_ROOT/<schema>/)
Bearer credentials are left out (`django_session`, `authtoken_token`): after an import everyone signs in again.

The export reads every table and the public rows in one REPEATABLE READ, READ ONLY transaction: one snapshot, so
the dump is consistent while the tenant keeps working. An import creates the tenant's schema as provisioning does
(a clone of the base schema), replaces every table's rows with the dump's in one transaction, and resets the
identity sequences. It refuses a dump made at another set of migrations (migrate the platform to the same version
first). Under a new slug the tenant gets a new domain and new webhook tokens (register the new URLs at the
providers) and the stored media links point to the new host; under its own slug (restoring a deleted tenant) it
keeps them.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import secrets
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg import sql

from tenants.models import Domain, Tenant, TenantHealth, TenantStatus, WebhookToken
from tenants.selectors import WEBHOOK_PROVIDERS
from tenants.services import ProvisioningError, slug_check, tenant_domain_for, tenant_media_dir

log = logging.getLogger("buildcrm.tenants")
FORMAT = "buildcrm-tenant/1"
SKIPPED_TABLES = {"django_session", "authtoken_token"}  # credentials: never in a dump
MAX_MEMBER_BYTES = 8 * 1024**3


class BackupError(ValueError):
    pass


def _tables(cursor, schema: str) -> list[tuple[str, list[str]]]:
    cursor.execute(
        "SELECT c.relname, array_agg(a.attname ORDER BY a.attnum) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE n.nspname = %s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped "
        "AND a.attgenerated = '' GROUP BY c.relname ORDER BY c.relname",
        [schema],
    )
    return [(name, list(columns)) for name, columns in cursor.fetchall() if name not in SKIPPED_TABLES]


def _migrations(cursor, schema: str) -> list[list[str]]:
    cursor.execute(
        sql.SQL("SELECT app, name FROM {}.django_migrations ORDER BY app, name").format(sql.Identifier(schema))
    )
    return [list(row) for row in cursor.fetchall()]


def _columns(columns: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(c) for c in columns)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), int(time.time())
    tar.addfile(info, io.BytesIO(data))


def tenant_export(*, tenant: Tenant, out: Path) -> dict:
    """Writes the tenant to `out` (a .tar.gz); returns the manifest."""
    if tenant.schema_name == "public" or tenant.is_template:
        raise BackupError(f"{tenant.slug} is not a customer tenant")
    schema = tenant.schema_name
    connection.set_schema_to_public()
    with tempfile.TemporaryDirectory(prefix="tenant-export-") as tmp, transaction.atomic():
        with connection.cursor() as cursor:
            if not connection.savepoint_ids:  # the outermost transaction (not nested in a caller's)
                # Before the transaction's first query: one snapshot for every table and the public rows.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            tables = _tables(cursor, schema)
            manifest = {
                "format": FORMAT,
                "slug": tenant.slug,
                "schema": schema,
                "exported_at": timezone.now().isoformat(),
                "migrations": _migrations(cursor, schema),
                "tables": {},
            }
            raw = cursor.cursor
            for table, columns in tables:
                path = Path(tmp) / f"{table}.copy"
                rows = 0
                with (
                    path.open("wb") as f,
                    raw.copy(
                        sql.SQL("COPY {}.{} ({}) TO STDOUT").format(
                            sql.Identifier(schema), sql.Identifier(table), _columns(columns)
                        )
                    ) as copy,
                ):
                    for chunk in copy:
                        f.write(chunk)
                        rows += bytes(chunk).count(b"\n")
                manifest["tables"][table] = {"columns": columns, "rows": rows}
            row = Tenant.objects.filter(pk=tenant.pk).values("name", "slug", "config", "status", "created_at").get()
            public = {
                "tenant": {**row, "created_at": row["created_at"].isoformat()},
                "domains": list(Domain.objects.filter(tenant_id=tenant.pk).values("domain", "is_primary")),
                "webhook_tokens": list(
                    WebhookToken.objects.filter(tenant_id=tenant.pk).values("provider", "token", "legacy")
                ),
            }
        media = tenant_media_dir(tenant)
        with tarfile.open(out, "w:gz") as tar:
            _add(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())
            _add(tar, "public.json", json.dumps(public, ensure_ascii=False, default=str).encode())
            for table, _ in tables:
                tar.add(Path(tmp) / f"{table}.copy", arcname=f"tables/{table}.copy")
            if media.is_dir():
                for file in sorted(media.iterdir()):
                    if file.is_file():
                        tar.add(file, arcname=f"media/{file.name}")
    log.info(
        "tenant=%s exported to %s tables=%s rows=%s",
        tenant.slug,
        out,
        len(tables),
        sum(t["rows"] for t in manifest["tables"].values()),
    )
    return manifest


@dataclass
class ImportResult:
    tenant: Tenant
    domain: str
    same_slug: bool
    rows: int


def _stream(tar: tarfile.TarFile, name: str):
    try:
        info = tar.getmember(name)
    except KeyError:
        raise BackupError(f"not a tenant dump: {name} missing") from None
    if not info.isfile() or info.size > MAX_MEMBER_BYTES:
        raise BackupError(f"not a tenant dump: {name} is not a regular file")
    return tar.extractfile(info)


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    return _stream(tar, name).read()


def tenant_import(*, path: Path, slug: str) -> ImportResult:
    """Creates tenant `slug` from a dump made by `tenant_export` (see the module's docstring)."""
    try:
        tar = tarfile.open(path, "r:gz")
    except (OSError, tarfile.TarError, gzip.BadGzipFile) as exc:
        raise BackupError(f"not a tenant dump: {exc}") from None
    with tar:
        try:
            manifest = json.loads(_member(tar, "manifest.json"))
            public = json.loads(_member(tar, "public.json"))
        except ValueError as exc:
            raise BackupError(f"not a tenant dump: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError(f"not a tenant dump of format {FORMAT}")
        try:
            slug_check(slug)
        except ProvisioningError as exc:
            raise BackupError(str(exc)) from None
        if not (
            isinstance(public, dict)
            and isinstance(manifest.get("tables"), dict)
            and isinstance(manifest.get("migrations"), list)
            and isinstance(public.get("tenant"), dict)
        ):
            raise BackupError("not a tenant dump: manifest.json or public.json malformed")
        with connection.cursor() as cursor:
            ours = _migrations(cursor, settings.TENANT_BASE_SCHEMA)
        if sorted(map(list, manifest["migrations"])) != ours:
            theirs = {tuple(m) for m in manifest["migrations"]}
            differ = sorted(theirs ^ {tuple(m) for m in ours})[:5]
            raise BackupError(
                f"the dump was made at other migrations than this platform's ({differ} …): "
                "import it on a platform of the same version"
            )
        same_slug = slug == public["tenant"]["slug"]
        tenant = Tenant(
            schema_name=slug.replace("-", "_"),
            slug=slug,
            name=public["tenant"]["name"],
            webhook_key=secrets.token_urlsafe(24),
            config=public["tenant"]["config"] or {},
            status=TenantStatus.ACTIVE,
        )
        created = parse_datetime(public["tenant"].get("created_at") or "")
        tenant.save(verbosity=0)  # the schema: a clone of the base schema, as provisioning makes it
        try:
            rows = _restore(tar, manifest, public, tenant, same_slug=same_slug, created=created)
        except Exception as exc:  # nothing half-made stays behind
            connection.set_schema_to_public()
            tenant.delete(force_drop=True)
            shutil.rmtree(tenant_media_dir(tenant), ignore_errors=True)
            if isinstance(exc, BackupError):
                raise
            raise BackupError(f"the dump could not be restored: {type(exc).__name__}: {str(exc)[:300]}") from exc
    log.info("tenant=%s imported from %s (was %s) rows=%s", slug, path, public["tenant"]["slug"], rows)
    domain = Domain.objects.filter(tenant=tenant, is_primary=True).values_list("domain", flat=True).first()
    return ImportResult(tenant=tenant, domain=domain or "", same_slug=same_slug, rows=rows)


def _restore(tar, manifest: dict, public: dict, tenant: Tenant, *, same_slug: bool, created) -> int:
    schema = tenant.schema_name
    total = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            ours = dict(_tables(cursor, schema))
            tables = manifest["tables"]
            unknown = sorted(set(tables) - set(ours))
            if unknown:
                raise BackupError(f"the dump has tables this platform does not: {unknown[:5]}")
            raw = cursor.cursor
            # Everything the clone brought (content types, permissions, migrations) is replaced by the dump's rows.
            cursor.execute(
                sql.SQL("TRUNCATE {} CASCADE").format(
                    sql.SQL(", ").join(
                        sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(t)) for t in tables
                    )
                )
            )
            for table, spec in tables.items():
                with raw.copy(
                    sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
                        sql.Identifier(schema), sql.Identifier(table), _columns(spec["columns"])
                    )
                ) as copy:
                    stream = _stream(tar, f"tables/{table}.copy")
                    while chunk := stream.read(1 << 20):
                        copy.write(chunk)
                total += int(spec.get("rows") or 0)
                cursor.execute(
                    "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                    "JOIN pg_namespace s ON s.oid = c.relnamespace "
                    "WHERE s.nspname = %s AND c.relname = %s AND a.attidentity <> ''",
                    [schema, table],
                )
                for (column,) in cursor.fetchall():
                    cursor.execute(
                        sql.SQL(
                            "SELECT setval(pg_get_serial_sequence(%s, %s), "
                            "coalesce((SELECT max({}) FROM {}.{}), 0) + 1, false)"
                        ).format(sql.Identifier(column), sql.Identifier(schema), sql.Identifier(table)),
                        [f'"{schema}"."{table}"', column],
                    )
            old_schema = manifest["schema"]
            old_domain = next((d["domain"] for d in public["domains"] if d.get("is_primary")), None)
            new_domain = tenant_domain_for(tenant.slug)
            if not same_slug and "conversations_message" in tables:
                # Our stored media: links name the tenant's host and its schema's folder.
                cursor.execute(
                    sql.SQL(
                        "UPDATE {}.conversations_message SET media_url = replace(replace(media_url, %s, %s), %s, %s) "
                        "WHERE media_url LIKE %s"
                    ).format(sql.Identifier(schema)),
                    [
                        f"/media/{old_schema}/",
                        f"/media/{schema}/",
                        f"//{old_domain}",
                        f"//{new_domain}",
                        f"%/media/{old_schema}/%",
                    ],
                )
        connection.set_schema_to_public()
        if created:
            Tenant.objects.filter(pk=tenant.pk).update(created_at=created)
        if same_slug:
            domains = [Domain(tenant=tenant, domain=d["domain"], is_primary=d["is_primary"]) for d in public["domains"]]
            tokens = [
                WebhookToken(tenant=tenant, provider=t["provider"], token=t["token"], legacy=t["legacy"])
                for t in public["webhook_tokens"]
                if t["provider"] in WEBHOOK_PROVIDERS
            ]
        else:
            domains = [Domain(tenant=tenant, domain=new_domain, is_primary=True)]
            tokens = []
        taken = set(Domain.objects.filter(domain__in=[d.domain for d in domains]).values_list("domain", flat=True))
        if taken:
            raise BackupError(f"domain(s) taken: {sorted(taken)}")
        Domain.objects.bulk_create(domains)
        have = {t.provider for t in tokens}
        tokens += [
            WebhookToken(tenant=tenant, provider=p, token=secrets.token_urlsafe(24))
            for p in WEBHOOK_PROVIDERS
            if p not in have
        ]
        WebhookToken.objects.bulk_create(tokens)
        TenantHealth.objects.create(tenant=tenant)
    media = tenant_media_dir(tenant)
    for info in tar.getmembers():
        name = info.name
        if name.startswith("media/") and info.isfile() and "/" not in name[6:] and name[6:] not in ("", ".", ".."):
            media.mkdir(parents=True, exist_ok=True)
            with (media / name[6:]).open("wb") as f:
                shutil.copyfileobj(tar.extractfile(info), f)
    return total
