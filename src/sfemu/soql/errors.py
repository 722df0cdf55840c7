"""Salesforce's SOQL error messages: the offending line, a caret, the row and column, the reason."""

from __future__ import annotations

from sfemu.soql.ast import Pos
from sfemu.soql.context import SoqlError

MAX_QUERY_LENGTH = 100_000  # Salesforce's default limit on a SOQL statement's length


def error_at(code: str, soql: str, pos: Pos, reason: str) -> SoqlError:
    lines = soql.splitlines() or [""]
    line = lines[pos.line - 1] if 0 < pos.line <= len(lines) else ""
    caret = " " * max(pos.column - 1, 0) + "^"
    return SoqlError(
        code, f"\n{line}\n{caret}\nERROR at Row:{pos.line}:Column:{pos.column}\n{reason}")


def no_such_column(soql: str, pos: Pos, field: str, entity: str) -> SoqlError:
    return error_at(
        "INVALID_FIELD", soql, pos,
        f"No such column '{field}' on entity '{entity}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference your "
        "WSDL or the describe call for the appropriate names.")


def unknown_relationship(soql: str, pos: Pos, name: str) -> SoqlError:
    return error_at(
        "INVALID_FIELD", soql, pos,
        f"Didn't understand relationship '{name}' in field path. If you are attempting to use a "
        "custom relationship, be sure to append the '__r' after the custom relationship name. "
        "Please reference your WSDL or the describe call for the appropriate names.")


def unknown_child_relationship(soql: str, pos: Pos, name: str) -> SoqlError:
    return error_at(
        "INVALID_TYPE", soql, pos,
        f"Didn't understand relationship '{name}' in FROM part of query call. If you are "
        "attempting to use a custom relationship, be sure to append the '__r' after the custom "
        "relationship name. Please reference your WSDL or the describe call for the appropriate "
        "names.")


def unsupported_type(soql: str, pos: Pos, name: str) -> SoqlError:
    return error_at(
        "INVALID_TYPE", soql, pos,
        f"sObject type '{name}' is not supported. If you are attempting to use a custom object, "
        "be sure to append the '__c' after the entity name. Please reference your WSDL or the "
        "describe call for the appropriate names.")
