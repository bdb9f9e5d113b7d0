"""papermill parameters as SQL for the lakehouse kernel.

The injected cell holds one statement per parameter, ``SET name = <literal>;``, after a
``-- Parameters`` comment line. papermill picks a translator by kernel name and then by
language; this module registers :class:`SQLTranslator` for both ``lakehouse`` and ``sql`` when
imported, which papermill does at start-up through the ``papermill.engine`` entry point
``lakehouse`` (see pyproject.toml). That entry point is :class:`LakehouseEngine`, papermill's
default nbclient engine under another name, so ``--engine lakehouse`` also works.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

from papermill.engines import NBClientEngine
from papermill.models import Parameter
from papermill.translators import Translator, papermill_translators

KERNEL_NAME = "lakehouse"
LANGUAGE = "sql"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SUPPORTED = (
    "str, int, float (finite), bool, None, list (of these), datetime.date and datetime.datetime"
)
# `SET name = value;` with an optional trailing `-- help` comment, for `papermill --help-notebook`.
_SET_LINE = re.compile(
    r"^\s*SET\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:=|\s+TO\s+)\s*(?P<value>.*?)\s*;?\s*(?:--\s*(?P<help>.*))?$",
    re.IGNORECASE,
)


class SQLTranslator(Translator):
    """papermill parameters to ``SET name = <literal>;`` statements."""

    @classmethod
    def translate(cls, val: Any) -> str:
        if val is None:
            return "NULL"
        if isinstance(val, str):
            return cls.translate_str(val)
        if isinstance(val, bool):  # before int: bool is an int
            return cls.translate_bool(val)
        if isinstance(val, int):
            return cls.translate_int(val)
        if isinstance(val, float):
            return cls.translate_float(val)
        if isinstance(val, (list, tuple)):
            return cls.translate_list(val)
        if isinstance(val, _dt.datetime):  # before date: datetime is a date
            return f"TIMESTAMP '{val.isoformat()}'"
        if isinstance(val, _dt.date):
            return f"DATE '{val.isoformat()}'"
        if isinstance(val, dict):
            return cls.translate_dict(val)
        raise ValueError(
            f"cannot pass a {type(val).__name__} parameter to the lakehouse (SQL) kernel: "
            f"use one of {_SUPPORTED}"
        )

    @classmethod
    def translate_str(cls, val: str) -> str:
        # SQL standard: a quote inside a string is doubled; backslashes and newlines are literal.
        return "'" + val.replace("'", "''") + "'"

    @classmethod
    def translate_escaped_str(cls, str_val: Any) -> str:
        return cls.translate_str(str(str_val))

    @classmethod
    def translate_none(cls, val: None) -> str:  # noqa: ARG003
        return "NULL"

    @classmethod
    def translate_bool(cls, val: bool) -> str:
        return "true" if val else "false"

    @classmethod
    def translate_int(cls, val: int) -> str:
        return str(int(val))

    @classmethod
    def translate_float(cls, val: float) -> str:
        if not math.isfinite(val):
            raise ValueError(
                f"cannot pass the float {val!r} to the lakehouse (SQL) kernel: SQL has no literal "
                "for NaN or infinity; pass a finite number, or None for NULL"
            )
        return repr(float(val))

    @classmethod
    def translate_list(cls, val: list | tuple) -> str:
        return "[" + ", ".join(cls.translate(v) for v in val) + "]"

    @classmethod
    def translate_dict(cls, val: dict) -> str:  # noqa: ARG003
        raise ValueError(
            f"cannot pass a dict parameter to the lakehouse (SQL) kernel: use one of {_SUPPORTED}"
        )

    @classmethod
    def comment(cls, cmt_str: str) -> str:
        return f"-- {cmt_str}".strip()

    @classmethod
    def assign(cls, name: str, str_val: str) -> str:
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise ValueError(
                f"parameter name {name!r} is not a valid SQL identifier for the lakehouse kernel: "
                "use letters, digits and '_', not starting with a digit"
            )
        return f"SET {name} = {str_val};"

    @classmethod
    def codify(cls, parameters: dict[str, Any], comment: str = "Parameters") -> str:
        lines = [cls.comment(comment)]
        for name, val in parameters.items():
            try:
                literal = cls.translate(val)
            except ValueError as e:
                raise ValueError(f"parameter {name!r}: {e}") from None
            lines.append(cls.assign(name, literal))
        return "\n".join(lines) + "\n"

    @classmethod
    def inspect(cls, parameters_cell: Any) -> list[Parameter]:
        """The ``SET name = value;`` lines of a ``parameters`` cell (``papermill --help-notebook``)."""
        params = []
        for line in str(parameters_cell.source).splitlines():
            m = _SET_LINE.match(line)
            if not m:
                continue
            value = m.group("value")
            params.append(Parameter(m.group("name"), _infer_type(value), value, (m.group("help") or "").strip()))
        return params


def _infer_type(literal: str) -> str:
    s = literal.strip()
    low = s.lower()
    if low == "null":
        return "NoneType"
    if low in ("true", "false"):
        return "bool"
    if s.startswith("'"):
        return "str"
    if s.startswith("["):
        return "list"
    if low.startswith("timestamp"):
        return "datetime"
    if low.startswith("date"):
        return "date"
    if re.fullmatch(r"[+-]?\d+", s):
        return "int"
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", s):
        return "float"
    return "None"


def register() -> None:
    """Register :class:`SQLTranslator` for kernel ``lakehouse`` and language ``sql``."""
    papermill_translators.register(KERNEL_NAME, SQLTranslator)
    papermill_translators.register(LANGUAGE, SQLTranslator)


class LakehouseEngine(NBClientEngine):
    """papermill's default nbclient engine; exists so that the entry point has an engine to name."""


register()
