"""Code generators: artefacts derived from a model introspection schema (MIS)."""

from .python_client import GenerationError, generate_python_client, write_python_client

__all__ = ["GenerationError", "generate_python_client", "write_python_client"]
