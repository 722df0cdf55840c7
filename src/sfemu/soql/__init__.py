"""SOQL: grammar, parser -> AST, and an evaluator over a QueryContext."""

from sfemu.soql.context import QueryContext, SoqlError
from sfemu.soql.evaluator import CompiledQuery, compile_query

__all__ = ["CompiledQuery", "QueryContext", "SoqlError", "compile_query"]
