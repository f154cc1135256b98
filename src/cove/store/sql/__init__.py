"""Dialect-neutral SQL: statements, codecs, filters, layouts, migrations and next tokens, built through a Dialect."""
