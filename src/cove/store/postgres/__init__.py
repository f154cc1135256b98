"""The PostgreSQL backend (asyncpg): connections, the dialect, records, migrations, API keys, transfers and the identity state, in one schema."""
