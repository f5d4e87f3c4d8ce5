"""PostgreSQL's acceptance checks: would PostgreSQL run this statement, given the catalog?

Only what PostgreSQL would certainly reject is rejected: where a type, a table's columns or a
cast are not known (a user-defined type, a table made by ``CREATE TABLE AS``), the answer is
"accepted". Each rejection carries PostgreSQL's SQLSTATE and its own wording.
"""

from __future__ import annotations

from dataclasses import dataclass

# SQLSTATEs (PostgreSQL's errcodes.txt) of the rejections modelled here.
UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"
UNDEFINED_OBJECT = "42704"
DUPLICATE_TABLE = "42P07"
DUPLICATE_COLUMN = "42701"
DUPLICATE_OBJECT = "42710"
DUPLICATE_SCHEMA = "42P06"
DATATYPE_MISMATCH = "42804"
INVALID_FOREIGN_KEY = "42830"
INVALID_TABLE_DEFINITION = "42P16"
FEATURE_NOT_SUPPORTED = "0A000"
WRONG_OBJECT_TYPE = "42809"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why PostgreSQL refuses a statement: its SQLSTATE and its message."""

    sqlstate: str
    message: str

    def __str__(self) -> str:
        return f"{self.message}, SQLSTATE {self.sqlstate}"


class Rejected(Exception):
    """Raised where a statement would fail on PostgreSQL."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(message)
        self.rejection = Rejection(sqlstate, message)


# --- types and casts ----------------------------------------------------------------------------

# Type categories of the built-in types, as format_type() prints them. Within a category the
# built-in casts (implicit or assignment) or cross-type operators exist; across categories they
# do not, except towards a string type (PostgreSQL's automatic I/O conversion to text, varchar
# and char is an assignment cast).
_CATEGORY = {
    "smallint": "N",
    "integer": "N",
    "bigint": "N",
    "numeric": "N",
    "real": "N",
    "double precision": "N",
    "text": "S",
    "character varying": "S",
    "character": "S",
    "boolean": "B",
    "uuid": "U",
    "json": "J",
    "jsonb": "J",
    "date": "D",
    "timestamp without time zone": "D",
    "timestamp with time zone": "D",
    "bytea": "Y",
    "inet": "I",
    "cidr": "I",
}
# Time of day and intervals: casts to and from the timestamps exist in one direction only;
# they are left unknown (accepted) except against the clearly foreign categories.
_TIMES = {"time without time zone", "time with time zone", "interval"}


def _base(type_name: str) -> tuple[str, int]:
    """The type without its modifier (``character varying(20)`` -> ``character varying``) and
    its array dimensions."""
    dims = 0
    while type_name.endswith("[]"):
        type_name = type_name[:-2]
        dims += 1
    paren = type_name.find("(")
    if paren != -1:
        close = type_name.find(")", paren)
        type_name = (type_name[:paren] + type_name[close + 1 :]).strip()
    return type_name.strip(), dims


def category(type_name: str, enums: frozenset[str] = frozenset()) -> str | None:
    """The category of a type (``N`` numeric, ``S`` string, ``B`` boolean, ``U`` uuid, ``J``
    json, ``D`` date/timestamp, ``Y`` bytea, ``I`` network, ``E`` an enum of the schema, ``T``
    time/interval), or None where it is not known."""
    base, _ = _base(type_name)
    if base in _CATEGORY:
        return _CATEGORY[base]
    if base in _TIMES:
        return "T"
    if base in enums:
        return "E"
    return None


def assignment_cast(source: str, target: str, enums: frozenset[str] = frozenset()) -> bool | None:
    """Whether PostgreSQL converts a value of ``source`` to ``target`` without an explicit cast
    (an implicit or assignment cast, as ``ALTER COLUMN ... TYPE`` without ``USING`` needs):
    True, False, or None where the types are not known well enough to say."""
    if source == target:
        return True
    sbase, sdims = _base(source)
    tbase, tdims = _base(target)
    if sbase == tbase and sdims == tdims:
        return True  # only the modifier differs (length coercion)
    tcat = category(tbase, enums)
    if tdims == 0 and tcat == "S":
        return True  # I/O conversion to a string type
    if sdims != tdims:
        return False if tdims > 0 and sdims == 0 and tcat is not None else None
    scat = category(sbase, enums)
    if scat is None or tcat is None:
        return None
    if scat == "E" or tcat == "E":
        return False  # enums: only to a string type (above), never from one nor to another
    if scat == tcat:
        return True if scat != "T" else None
    if "T" in (scat, tcat):
        return None if {scat, tcat} <= {"T", "D"} else False
    return False


def comparable(fk_type: str, pk_type: str, enums: frozenset[str] = frozenset()) -> bool | None:
    """Whether a foreign key column of ``fk_type`` can reference a key of ``pk_type``: the
    primary key's equality operator must accept the foreign key's type (a cross-type operator
    of the same operator family, or an implicit cast). None where it is not known."""
    sbase, sdims = _base(fk_type)
    tbase, tdims = _base(pk_type)
    if (sbase, sdims) == (tbase, tdims):
        return True
    if sdims != tdims:
        return False
    scat, tcat = category(sbase, enums), category(tbase, enums)
    if scat is None or tcat is None:
        return None
    if scat == "E" or tcat == "E":
        return False  # two different enums, or an enum and another type
    if scat == "N" and tcat == "N":
        # integer_ops and float_ops have cross-type operators; otherwise the foreign key's type
        # needs an implicit cast to the key's: integers -> numeric -> floating point.
        return _NUMERIC_LEVEL[sbase] <= _NUMERIC_LEVEL[tbase] or _NUMERIC_LEVEL[sbase] == 2 == _NUMERIC_LEVEL[tbase]
    if scat == tcat:
        return True if scat != "T" else None
    return None if {scat, tcat} <= {"T", "D"} else False


_NUMERIC_LEVEL = {
    "smallint": 0,
    "integer": 0,
    "bigint": 0,
    "numeric": 1,
    "real": 2,
    "double precision": 2,
}
