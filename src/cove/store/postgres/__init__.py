"""The PostgreSQL backend (asyncpg): records, migrations, API keys and transfers in one schema."""
