"""What the hub keeps: sites, staff, sessions, and every report sites sent.

One schema for SQLite and PostgreSQL (:mod:`exposcan.hub.backends`),
versioned in the table ``hub_schema`` and migrated forward when the hub
starts (each step in one transaction); a database newer than this code is
refused rather than half understood.

Each report is kept whole (the ``exposcan.report/1`` JSON a site sent, which
by design holds no patient data) with what the dashboard needs beside it:
its two verdicts, counts by severity, how many findings its site's previous
report lacked, and one row per finding for the exports. ``sites.last_report_id``
points at the newest scan so that the fleet's page is one join, whatever the
history's length.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from exposcan.hub.backends import (
    Backend,
    PostgresBackend,
    SqliteBackend,
    StoreError,
    is_unique_violation,
)
from exposcan.models import Finding, Report, Severity

DB_FILE = "hub.sqlite3"
SEVERITIES = tuple(s.value for s in Severity)  # critical first

_ID = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT", "postgres": "BIGSERIAL PRIMARY KEY"}

#: Each step: the statements that take the schema from version n-1 to n.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE sites (
            id {ID}, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL, last_report_id BIGINT)""",
        """CREATE TABLE users (
            id {ID}, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
            created TEXT NOT NULL)""",
        """CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            csrf TEXT NOT NULL, expires TEXT NOT NULL)""",
        """CREATE TABLE reports (
            id {ID}, site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
            received TEXT NOT NULL, started TEXT NOT NULL, finished TEXT NOT NULL,
            vantage TEXT NOT NULL, complete INTEGER NOT NULL,
            internet TEXT NOT NULL, lan TEXT NOT NULL,
            critical INTEGER NOT NULL, high INTEGER NOT NULL, medium INTEGER NOT NULL,
            low INTEGER NOT NULL, info INTEGER NOT NULL,
            new_count INTEGER NOT NULL, new_critical INTEGER NOT NULL,
            digest TEXT NOT NULL, body TEXT NOT NULL,
            UNIQUE (site_id, digest))""",
        "CREATE INDEX reports_by_site ON reports (site_id, finished)",
        "CREATE INDEX reports_new_critical ON reports (finished) WHERE new_critical > 0",
        """CREATE TABLE findings (
            report_id BIGINT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            key TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL,
            host TEXT NOT NULL, port INTEGER, protocol TEXT NOT NULL, title TEXT NOT NULL,
            description TEXT NOT NULL, remediation TEXT NOT NULL, refs TEXT NOT NULL,
            PRIMARY KEY (report_id, key))""",
    ),
    # A stale site is alerted once, until it reports again.
    ("ALTER TABLE sites ADD COLUMN stale_alerted INTEGER NOT NULL DEFAULT 0",),
)
SCHEMA_VERSION = len(MIGRATIONS)


class DuplicateError(StoreError):
    """The row exists: a replayed report, a site or user named twice."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """One text form for every timestamp, so that they sort as text."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    """A site token is 32 random bytes: a plain SHA-256 keeps a stolen
    database from giving any token (no stretching needed at that entropy,
    as for the reflector's tokens and PyPI's API tokens)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def default_db_path() -> Path:
    # XDG Base Directory spec, as the scan history (exposcan.audit.history).
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "exposcan" / DB_FILE


def backend_for(url: str | None) -> SqliteBackend | PostgresBackend:
    """``postgresql://...`` (or ``postgres://``), ``sqlite:///PATH``, a plain
    path, or None: the SQLite file in the user's data directory."""
    if not url:
        return SqliteBackend(default_db_path())
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(url)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise StoreError("a SQLite URL is sqlite:////absolute/path (or give a plain path)")
        return SqliteBackend(Path(path))
    if "://" in url:
        raise StoreError("--db takes postgresql://... , sqlite:////PATH or a file path")
    return SqliteBackend(Path(url))


@dataclass(frozen=True)
class Verdicts:
    internet: str  # yes | no | unknown
    lan: str  # yes | no | unknown (an internet-side report sees no LAN)


@dataclass(frozen=True)
class ReportRow:
    id: int
    site: str
    finished: str
    received: str
    vantage: str
    complete: bool
    internet: str
    lan: str
    counts: dict[str, int]
    new: int
    new_critical: int


@dataclass(frozen=True)
class SiteRow:
    name: str
    last: ReportRow | None

    def stale(self, cutoff: str) -> bool:
        return self.last is None or self.last.finished < cutoff


@dataclass(frozen=True)
class FindingRow:
    site: str
    finished: str
    key: str
    rule: str
    severity: str
    host: str
    port: int | None
    protocol: str
    title: str
    description: str
    remediation: str
    references: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Ingested:
    report_id: int
    #: Findings the site's previous report lacked (all of them for a first report).
    new: list[Finding]


_REPORT_COLUMNS = (
    "r.id, s.name, r.finished, r.received, r.vantage, r.complete, r.internet, r.lan, "
    "r.critical, r.high, r.medium, r.low, r.info, r.new_count, r.new_critical"
)


def _report_row(row: tuple[object, ...]) -> ReportRow:
    counts = dict(zip(SEVERITIES, (int(str(n)) for n in row[8:13]), strict=True))
    return ReportRow(
        id=int(str(row[0])),
        site=str(row[1]),
        finished=str(row[2]),
        received=str(row[3]),
        vantage=str(row[4]),
        complete=bool(row[5]),
        internet=str(row[6]),
        lan=str(row[7]),
        counts=counts,
        new=int(str(row[13])),
        new_critical=int(str(row[14])),
    )


class Store:
    def __init__(self, backend: SqliteBackend | PostgresBackend) -> None:
        self.db: Backend = backend
        self._backend = backend

    @classmethod
    async def open(cls, url: str | None, migrate: bool = True) -> Store:
        backend = backend_for(url)
        await backend.open()
        store = cls(backend)
        if migrate:
            try:
                await store.migrate()
            except BaseException:
                await backend.close()
                raise
        return store

    async def close(self) -> None:
        await self._backend.close()

    # -- schema -----------------------------------------------------------

    async def version(self) -> int:
        await self.db.execute("CREATE TABLE IF NOT EXISTS hub_schema (version INTEGER NOT NULL)")
        rows = await self.db.fetch("SELECT version FROM hub_schema")
        return int(rows[0][0]) if rows else 0

    async def migrate(self, target: int = SCHEMA_VERSION) -> int:
        """Bring the schema to ``target``; returns the version found."""
        found = await self.version()
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"the hub's database has schema version {found}, newer than this "
                f"exposcan knows ({SCHEMA_VERSION}): upgrade exposcan"
            )
        for number in range(found + 1, target + 1):
            async with self.db.transaction() as tx:
                for statement in MIGRATIONS[number - 1]:
                    await tx.execute(statement.replace("{ID}", _ID[self.db.dialect]))
                if number == 1:
                    await tx.execute("INSERT INTO hub_schema (version) VALUES (1)")
                else:
                    await tx.execute("UPDATE hub_schema SET version = ?", (number,))
        return found

    # -- sites and staff ----------------------------------------------------

    async def add_site(self, name: str) -> str:
        """Make the site and its token; the token is returned once, only its
        hash is kept."""
        token = secrets.token_urlsafe(32)
        try:
            await self.db.execute(
                "INSERT INTO sites (name, token_hash, created) VALUES (?, ?, ?)",
                (name, token_hash(token), iso(now_utc())),
            )
        except StoreError as exc:
            if is_unique_violation(exc):
                raise DuplicateError(f"a site named {name!r} exists") from None
            raise
        return token

    async def site_for_token(self, token: str) -> tuple[int, str] | None:
        rows = await self.db.fetch(
            "SELECT id, name FROM sites WHERE token_hash = ?", (token_hash(token),)
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    async def set_user(self, name: str, password_hash: str) -> bool:
        """Create the user, or set a new password; True when created."""
        async with self.db.transaction() as tx:
            rows = await tx.fetch("SELECT id FROM users WHERE name = ?", (name,))
            if rows:
                await tx.execute(
                    "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, rows[0][0])
                )
                return False
            await tx.execute(
                "INSERT INTO users (name, password_hash, created) VALUES (?, ?, ?)",
                (name, password_hash, iso(now_utc())),
            )
            return True

    async def user(self, name: str) -> tuple[int, str] | None:
        rows = await self.db.fetch("SELECT id, password_hash FROM users WHERE name = ?", (name,))
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    # -- sessions -----------------------------------------------------------

    async def new_session(self, user_id: int, ttl: timedelta) -> tuple[str, str]:
        """A session id (the cookie) and its CSRF token; the id is stored hashed."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = now_utc()
        await self.db.execute("DELETE FROM sessions WHERE expires < ?", (iso(now),))
        await self.db.execute(
            "INSERT INTO sessions (id_hash, user_id, csrf, expires) VALUES (?, ?, ?, ?)",
            (token_hash(sid), user_id, csrf, iso(now + ttl)),
        )
        return sid, csrf

    async def session(self, sid: str) -> tuple[str, str] | None:
        """(user name, CSRF token) of a live session."""
        rows = await self.db.fetch(
            "SELECT u.name, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.id_hash = ? AND s.expires > ?",
            (token_hash(sid), iso(now_utc())),
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    async def end_session(self, sid: str) -> None:
        await self.db.execute("DELETE FROM sessions WHERE id_hash = ?", (token_hash(sid),))

    # -- reports ------------------------------------------------------------

    async def ingest(
        self, site_id: int, report: Report, body: str, digest: str, verdicts: Verdicts
    ) -> Ingested:
        """Store ``report`` for the site; :class:`DuplicateError` when the
        site sent this very report before (a replay)."""
        finished = iso(report.scan.finished)
        counts = dict.fromkeys(SEVERITIES, 0)
        for f in report.findings:
            counts[f.severity.value] += 1
        try:
            async with self.db.transaction() as tx:
                # A replay breaks UNIQUE (site_id, digest) at the INSERT below.
                old_keys = {
                    str(row[0])
                    for row in await tx.fetch(
                        "SELECT key FROM findings WHERE report_id = ("
                        " SELECT id FROM reports WHERE site_id = ? AND finished <= ?"
                        " ORDER BY finished DESC, id DESC LIMIT 1)",
                        (site_id, finished),
                    )
                }
                new = [f for f in report.findings if f.key not in old_keys]
                new_critical = sum(1 for f in new if f.severity is Severity.CRITICAL)
                rows = await tx.fetch(
                    "INSERT INTO reports (site_id, received, started, finished, vantage, "
                    "complete, internet, lan, critical, high, medium, low, info, new_count, "
                    "new_critical, digest, body) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        site_id,
                        iso(now_utc()),
                        iso(report.scan.started),
                        finished,
                        report.scan.vantage.value,
                        int(report.scan.complete),
                        verdicts.internet,
                        verdicts.lan,
                        *(counts[s] for s in SEVERITIES),
                        len(new),
                        new_critical,
                        digest,
                        body,
                    ),
                )
                report_id = int(rows[0][0])
                await tx.executemany(
                    "INSERT INTO findings (report_id, key, rule, severity, host, port, "
                    "protocol, title, description, remediation, refs) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            report_id,
                            f.key,
                            f.rule,
                            f.severity.value,
                            f.host,
                            f.port,
                            f.protocol,
                            f.title,
                            f.description,
                            f.remediation,
                            json.dumps(f.references),
                        )
                        for f in {f.key: f for f in report.findings}.values()
                    ],
                )
                # The newest scan leads the fleet's page; a late delivery of
                # an older one (from an outbox) does not displace it.
                await tx.execute(
                    "UPDATE sites SET stale_alerted = 0, last_report_id = ? WHERE id = ? AND "
                    "(last_report_id IS NULL OR "
                    " (SELECT finished FROM reports WHERE id = last_report_id) <= ?)",
                    (report_id, site_id, finished),
                )
        except StoreError as exc:
            if isinstance(exc, DuplicateError) or is_unique_violation(exc):
                raise DuplicateError("this report was received before") from None
            raise
        return Ingested(report_id, new)

    async def sites(self, name: str | None = None) -> list[SiteRow]:
        # Only constant column names are joined into the SQL; values are bound.
        columns = _REPORT_COLUMNS.replace("s.name, ", "")
        sql = (
            f"SELECT s.name, {columns} FROM sites s LEFT JOIN reports r ON r.id = s.last_report_id"  # noqa: S608
        )
        args: tuple[object, ...] = ()
        if name is not None:
            sql += " WHERE s.name = ?"
            args = (name,)
        rows = await self.db.fetch(sql + " ORDER BY s.name", args)
        out = []
        for row in rows:
            last = None
            if row[1] is not None:
                last = _report_row((row[1], row[0], *row[2:]))
            out.append(SiteRow(str(row[0]), last))
        return out

    async def sites_with_new_critical(self, since: datetime) -> set[str]:
        rows = await self.db.fetch(
            "SELECT DISTINCT s.name FROM reports r JOIN sites s ON s.id = r.site_id "
            "WHERE r.new_critical > 0 AND r.finished >= ?",
            (iso(since),),
        )
        return {str(r[0]) for r in rows}

    async def reports(self, site: str, limit: int = 400) -> list[ReportRow]:
        """The site's reports, newest scan first."""
        rows = await self.db.fetch(
            f"SELECT {_REPORT_COLUMNS} FROM reports r JOIN sites s ON s.id = r.site_id "  # noqa: S608
            "WHERE s.name = ? ORDER BY r.finished DESC, r.id DESC LIMIT ?",
            (site, limit),
        )
        return [_report_row(r) for r in rows]

    async def report_body(self, site: str, report_id: int) -> str | None:
        rows = await self.db.fetch(
            "SELECT r.body FROM reports r JOIN sites s ON s.id = r.site_id "
            "WHERE s.name = ? AND r.id = ?",
            (site, report_id),
        )
        return str(rows[0][0]) if rows else None

    async def latest_findings(self) -> list[FindingRow]:
        """Every finding of each site's newest report (what the exports say)."""
        rows = await self.db.fetch(
            "SELECT s.name, r.finished, f.key, f.rule, f.severity, f.host, f.port, "
            "f.protocol, f.title, f.description, f.remediation, f.refs "
            "FROM sites s JOIN reports r ON r.id = s.last_report_id "
            "JOIN findings f ON f.report_id = r.id ORDER BY s.name, f.key"
        )
        return [
            FindingRow(
                site=str(r[0]),
                finished=str(r[1]),
                key=str(r[2]),
                rule=str(r[3]),
                severity=str(r[4]),
                host=str(r[5]),
                port=None if r[6] is None else int(r[6]),
                protocol=str(r[7]),
                title=str(r[8]),
                description=str(r[9]),
                remediation=str(r[10]),
                references=[str(x) for x in json.loads(str(r[11]))],
            )
            for r in rows
        ]

    async def reports_received(self) -> int:
        rows = await self.db.fetch("SELECT COUNT(*) FROM reports")
        return int(rows[0][0])

    async def stale_to_alert(self, cutoff: datetime) -> list[str]:
        """Sites stale since ``cutoff`` not yet alerted; marks them alerted."""
        rows = await self.db.fetch(
            "SELECT s.id, s.name FROM sites s LEFT JOIN reports r ON r.id = s.last_report_id "
            "WHERE s.stale_alerted = 0 AND COALESCE(r.finished, s.created) < ?",
            (iso(cutoff),),
        )
        for site_id, _ in rows:
            await self.db.execute("UPDATE sites SET stale_alerted = 1 WHERE id = ?", (site_id,))
        return [str(r[1]) for r in rows]
