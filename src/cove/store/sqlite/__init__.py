"""The SQLite backend: connections and the execution of what store.sql builds."""
