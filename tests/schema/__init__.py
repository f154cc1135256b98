"""The schema DSL and what it compiles to (cove.schema, cove.outputs)."""
