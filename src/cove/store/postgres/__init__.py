"""The PostgreSQL backend (asyncpg): connections, the dialect, records, migrations and the identity state."""
