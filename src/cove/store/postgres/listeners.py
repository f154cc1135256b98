"""Which event channels some process listens to, kept in the database, so a mutation nobody
subscribes to anywhere sends no ``NOTIFY`` (a statement and a commit on the database per batch, and
the event's serialisation on the server: about a sixth of a create's cost on the bench).

Two tables in the data's schema: ``_cove_event_listeners`` holds a row per (channel, listening
session), and ``_cove_event_generation`` one number, raised in the same statement that adds a row.
The protocol, and why no event that must arrive is skipped:

1. A process LISTENs to a channel, then registers it (row + generation raised, committed), then
   sends the subscription's ``start_ack``.
2. Every write statement of the store also returns the generation it saw (a sub-select of a one-row
   table); the process keeps the newest it has seen (``written``).
3. The broker keeps the channels and the generation it last read, both in one statement's snapshot
   (``known``). An event of a write may be skipped only when ``known >= written`` and its channel is
   not in that set; otherwise it is sent, and the set is read again in the background.

A mutation sent after a ``start_ack`` starts after the registration committed, so its statement sees
the raised generation: until the process has read the set again (which then holds the channel),
``known < written`` and the event is sent. Rows are removed when their listening session ends
(``close``) or, for a process that died, by any process's periodic sweep of sessions PostgreSQL no
longer runs; a left-over row only costs ``NOTIFY`` statements, never an event. Events that no write
statement of this store produced (a custom mutation's) are always sent.
"""

from __future__ import annotations

from typing import Any

LISTENERS = "_cove_event_listeners"
GENERATION = "_cove_event_generation"


def create_tables() -> list[str]:
    """Made with Cove's other tables, in the data's schema (search_path), by the first process."""
    return [
        f"CREATE TABLE IF NOT EXISTS {LISTENERS} (channel TEXT NOT NULL, pid INTEGER NOT NULL, "
        "PRIMARY KEY (channel, pid))",
        f"CREATE TABLE IF NOT EXISTS {GENERATION} (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), "
        "generation BIGINT NOT NULL)",
        f"INSERT INTO {GENERATION} (generation) VALUES (0) ON CONFLICT DO NOTHING",
    ]


#: Appended to every write's RETURNING list (the store's connections have the schema on search_path).
RETURNING_GENERATION = f", (SELECT generation FROM {GENERATION})"


class EventListeners:
    """One process's view of the listener tables; shared by its store (which reports the generation its
    writes saw) and its PostgreSQL broker (which registers, reads and consults it)."""

    def __init__(self, quoted_schema: str) -> None:
        self.written = 0            # the newest generation a write of this process returned
        self.known = -1             # the generation `channels` was read at (-1: not read yet)
        self.channels: frozenset[str] = frozenset()
        listeners, generation = f"{quoted_schema}.{LISTENERS}", f"{quoted_schema}.{GENERATION}"
        # The broker's sessions are plain connections (no search_path): every name is qualified.
        raise_generation = f"UPDATE {generation} SET generation = generation + 1"
        self._register = (
            f"WITH added AS (INSERT INTO {listeners} (channel, pid) SELECT c, pg_backend_pid() "
            "FROM unnest($1::text[]) AS c ON CONFLICT DO NOTHING RETURNING 1) "
            f"{raise_generation} WHERE EXISTS (SELECT 1 FROM added)")
        self._read = (f"SELECT (SELECT generation FROM {generation}), "
                      f"ARRAY(SELECT DISTINCT channel FROM {listeners})")
        self._forget_own = (f"WITH gone AS (DELETE FROM {listeners} WHERE pid = pg_backend_pid() RETURNING 1) "
                            f"{raise_generation} WHERE EXISTS (SELECT 1 FROM gone)")
        # Sessions PostgreSQL no longer runs (every role sees every session's pid): their process died.
        self._sweep = (
            f"WITH gone AS (DELETE FROM {listeners} l WHERE NOT EXISTS "
            "(SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.pid) RETURNING 1) "
            f"{raise_generation} WHERE EXISTS (SELECT 1 FROM gone)")

    def saw(self, generation: int) -> None:
        """A write statement returned ``generation``."""
        if generation > self.written:
            self.written = generation

    @property
    def stale(self) -> bool:
        """Some write saw a newer generation than the channels read last: read them again."""
        return self.known < self.written

    def unheard(self, channel: str) -> bool:
        """No session listened to ``channel`` when this process's newest write ran."""
        return self.known >= self.written and channel not in self.channels

    async def register(self, conn: Any, channels: list[str]) -> None:
        """On the session that LISTENs to ``channels``, after its LISTEN: its rows, committed."""
        await conn.execute(self._register, channels)

    async def read(self, conn: Any) -> None:
        generation, channels = await conn.fetchrow(self._read)
        if generation >= self.known:   # a slower, older read never replaces a newer one
            self.known, self.channels = generation, frozenset(channels)

    async def forget_own(self, conn: Any) -> None:
        """The listening session is closing: its channels no longer need events."""
        await conn.execute(self._forget_own)

    async def sweep(self, conn: Any) -> None:
        await conn.execute(self._sweep)
