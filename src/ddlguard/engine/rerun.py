"""The symbolic second run: does a statement fail when its migration runs again?

A file is run twice on a three-valued catalog: every object is known to exist, known to be
absent, or unknown (nothing is assumed about what existed before the file ran). The first run
assumes the migration succeeded, as it did when it was first deployed, and learns what every
statement leaves behind. The second run starts from that state and asks PostgreSQL's questions
again: a ``CREATE`` of what the first run left in place fails, a ``DROP`` of what the file itself
re-created succeeds (``DROP VIEW v; ... CREATE VIEW v``), a swap rename (``CREATE INDEX tmp; DROP
INDEX old; ALTER INDEX tmp RENAME TO old``) succeeds, and a ``DO`` block's ``IF`` is evaluated on
what the first run left (a column guard that the first run made true skips its branch).

Where an ``IF`` cannot be decided on the first run, both outcomes are followed (what the condition
says about the catalog is learnt in each), and a verdict holds only when it holds in every one.
The answer per statement is True (succeeds on the second run), False (fails) or None (not known).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ddlguard.engine import names
from ddlguard.schema.conditions import Evaluator, Unknown, _const
from ddlguard.schema.model import Schema
from ddlguard.sql.statements import Statement

Key = tuple[str, ...]
Node = dict[str, Any]

# The most outcomes of undecided IFs followed at once; beyond that nothing is claimed.
MAX_WORLDS = 32

# Relation kinds that share pg_class's namespace.
_REL_DROP_KINDS = {
    "OBJECT_TABLE": "table",
    "OBJECT_VIEW": "view",
    "OBJECT_MATVIEW": "matview",
    "OBJECT_INDEX": "index",
    "OBJECT_SEQUENCE": "sequence",
    "OBJECT_FOREIGN_TABLE": "table",
}
_REL_RENAME_KINDS = {
    "OBJECT_TABLE",
    "OBJECT_VIEW",
    "OBJECT_MATVIEW",
    "OBJECT_INDEX",
    "OBJECT_SEQUENCE",
    "OBJECT_FOREIGN_TABLE",
}
# ALTER TABLE subcommands that need their column to exist.
_COLUMN_CMDS = {
    "AT_AlterColumnType",
    "AT_SetNotNull",
    "AT_DropNotNull",
    "AT_ColumnDefault",
    "AT_SetStatistics",
    "AT_SetStorage",
    "AT_SetCompression",
    "AT_AddIdentity",
    "AT_DropIdentity",
    "AT_SetIdentity",
    "AT_DropExpression",
    "AT_SetOptions",
    "AT_ResetOptions",
}


@dataclass(slots=True)
class _World:
    """One possible state of the catalog, with the IF decisions taken to reach it."""

    facts: dict[Key, bool] = field(default_factory=dict)
    # Tables whose columns and constraints are all known (created by the file itself).
    closed: set[Key] = field(default_factory=set)
    # Relation kind of every relation known to exist, and the table each index is on.
    kinds: dict[Key, str] = field(default_factory=dict)
    index_of: dict[Key, Key] = field(default_factory=dict)
    decided: dict[tuple[int, str, tuple[str, ...]], bool] = field(default_factory=dict)
    # What a DROP ... CASCADE takes along: the relations each view of the file reads, and the
    # table each foreign key of the file references.
    deps: dict[Key, frozenset[Key]] = field(default_factory=dict)
    fk_of: dict[Key, Key] = field(default_factory=dict)
    # The columns each constraint and index of the file uses (a dropped column takes them along).
    cols_of: dict[Key, tuple[Key, frozenset[str]]] = field(default_factory=dict)

    def copy(self) -> _World:
        return _World(
            dict(self.facts),
            set(self.closed),
            dict(self.kinds),
            dict(self.index_of),
            dict(self.decided),
            dict(self.deps),
            dict(self.fk_of),
            dict(self.cols_of),
        )

    def drop_column(self, column: Key) -> None:
        """``ALTER TABLE ... DROP COLUMN``: the column, and the file's constraints and indexes
        that use it."""
        self.facts[column] = False
        table = ("rel", column[1], column[2])
        for obj, (on, cols) in list(self.cols_of.items()):
            if on == table and column[3] in cols:
                del self.cols_of[obj]
                if obj[0] == "rel":
                    self.drop_relation(obj)
                else:
                    self.facts[obj] = False

    def get(self, key: Key) -> bool | None:
        value = self.facts.get(key)
        if value is not None:
            return value
        if key[0] in ("column", "constraint", "trigger", "policy") and ("rel", key[1], key[2]) in self.closed:
            return False
        if key[0] == "enumval" and ("type", key[1], key[2]) in self.closed:
            return False
        return None

    def matching(self, pattern: Key) -> bool | None:
        """A key with ``*`` parts (any schema, any table): True when a match exists, False when
        the pattern is complete and known absent, else None."""
        if "*" not in pattern:
            return self.get(pattern)
        size = len(pattern)
        for key, value in self.facts.items():
            if value and len(key) == size and all(p in ("*", k) for p, k in zip(pattern, key, strict=True)):
                return True
        return None

    # -- changes -------------------------------------------------------------------------------
    def set(self, key: Key, value: bool) -> None:
        self.facts[key] = value

    def forget(self, key: Key) -> None:
        """``key`` is no longer known (nor, for a column or constraint, the rest of its table)."""
        self.facts.pop(key, None)
        self.closed.discard(key)
        if key[0] in ("column", "constraint", "trigger", "policy"):
            self.closed.discard(("rel", key[1], key[2]))
        elif key[0] == "enumval":
            self.closed.discard(("type", key[1], key[2]))

    def drop_relation(self, rel: Key) -> None:
        self.facts[rel] = False
        self.kinds.pop(rel, None)
        self.closed.discard(rel)
        _, schema, table = rel
        for key in [k for k in self.facts if k[0] in ("column", "constraint", "trigger", "policy")]:
            if key[1] == schema and key[2] == table:
                del self.facts[key]
        for index in [i for i, t in self.index_of.items() if t == rel]:
            self.facts[index] = False
            self.kinds.pop(index, None)
            del self.index_of[index]

    def rename_relation(self, old: Key, new: Key) -> None:
        kind = self.kinds.pop(old, None)
        self.facts[old] = False
        self.facts[new] = True
        if kind is not None:
            self.kinds[new] = kind
        if old in self.closed:
            self.closed.discard(old)
            self.closed.add(new)
        _, schema, table = old
        for key in [k for k in self.facts if k[0] in ("column", "constraint", "trigger", "policy")]:
            if key[1] == schema and key[2] == table:
                self.facts[(key[0], schema, new[2], *key[3:])] = self.facts.pop(key)
        for index, t in list(self.index_of.items()):
            if t == old:
                self.index_of[index] = new
        if old in self.index_of:
            self.index_of[new] = self.index_of.pop(old)

    def cascade(self, dropped: Key) -> None:
        """What ``DROP ... CASCADE`` of ``dropped`` takes along: the file's views that read it
        (and the views on those), the foreign keys that reference it, and for a schema, all in
        it. Objects from before the file are not known, so nothing is said of them."""
        if dropped[0] == "schema":
            name = dropped[1]
            for key in [k for k in self.facts if len(k) > 2 and k[0] != "schema" and k[1] == name]:
                if key[0] == "rel":
                    self.cascade(key)
                    self.drop_relation(key)
                else:
                    self.facts[key] = False
            return
        if dropped[0] != "rel":
            self.forget_views()
            return
        for view, reads in list(self.deps.items()):
            if dropped in reads and self.facts.get(view) is not False:
                del self.deps[view]
                self.drop_relation(view)
                self.cascade(view)
        for con, target in list(self.fk_of.items()):
            if target == dropped:
                self.facts[con] = False
                del self.fk_of[con]

    def forget_views(self) -> None:
        """After a DROP ... CASCADE of a type or a function: what went with it is not known."""
        for rel, kind in list(self.kinds.items()):
            if kind in ("view", "matview"):
                self.forget(rel)
                del self.kinds[rel]
        for key in [k for k in self.facts if k[0] == "constraint"]:
            self.forget(key)
        # Foreign keys of other tables may have gone too, including ones not recorded here.
        self.closed.clear()


@dataclass(slots=True)
class _Step:
    """What one statement would do: whether it succeeds, and what it changes."""

    ok: bool | None
    changes: list[tuple[str, Key, Any]] = field(default_factory=list)
    # What must hold for the statement to succeed (an object exists, or is absent): learnt as
    # facts where the statement is taken to have succeeded (the first run).
    requires: list[tuple[Key, bool]] = field(default_factory=list)

    def need(self, value: bool | None) -> None:
        """Combine a condition into the verdict: False wins, then None."""
        if self.ok is False:
            return
        if value is False:
            self.ok = False
        elif value is None:
            self.ok = None

    def require(self, world: _World, key: Key, exists: bool = True) -> None:
        """The statement fails unless ``key`` exists (or, with ``exists=False``, is absent)."""
        value = world.get(key)
        self.need(None if value is None else value == exists)
        if value is None:
            self.requires.append((key, exists))


def second_run(statements: Sequence[Statement], default_schema: str = "public") -> dict[int, bool | None]:
    """Per statement (its index in ``statements``): True when it succeeds on the second run of
    the file, False when it fails there, None when that is not known. Statements of function
    bodies and of down sections are not run; they get no verdict."""
    sim = _Simulation(statements, default_schema)
    return sim.run()


class _Simulation:
    def __init__(self, statements: Sequence[Statement], default_schema: str) -> None:
        self.statements = statements
        self.default_schema = default_schema

    def run(self) -> dict[int, bool | None]:
        runnable = [
            (i, s)
            for i, s in enumerate(self.statements)
            if s.context != "function" and s.section != "down" and s.kind != "DoStmt"
        ]
        worlds = [_World()]
        # First run: assume every statement succeeded, learn what it leaves behind.
        previous: Statement | None = None
        for _, stmt in runnable:
            if stmt.top is not previous and len(worlds) > 1:
                worlds = [_merge(worlds)]  # a DO block's undecided IFs end with the block
            previous = stmt.top
            advanced = self._advance(worlds, stmt, first=True, verdicts=None)
            if advanced is None:
                return {}
            worlds = advanced
        for w in worlds:
            w.decided = {}
        verdicts: dict[int, list[bool | None]] = {}
        previous = None
        for i, stmt in runnable:
            if stmt.top is not previous and len(worlds) > 1:
                worlds = [_merge(worlds)]
            previous = stmt.top
            out: list[bool | None] = []
            next_worlds = self._advance(worlds, stmt, first=False, verdicts=out)
            if next_worlds is None:
                break
            worlds = next_worlds
            verdicts[i] = out
        result: dict[int, bool | None] = {}
        for i, seen in verdicts.items():
            if seen and all(v is True for v in seen):
                result[i] = True
            elif seen and all(v is False for v in seen):
                result[i] = False
            else:
                result[i] = None
        return result

    def _advance(
        self, worlds: list[_World], stmt: Statement, *, first: bool, verdicts: list[bool | None] | None
    ) -> list[_World] | None:
        out: list[_World] = []
        for world in worlds:
            for w, runs in self._decide(world, stmt):
                if not runs:
                    if verdicts is not None:
                        verdicts.append(True)  # not run: cannot fail
                    out.append(w)
                    continue
                step = self._step(w, stmt)
                if stmt.context == "do" and stmt.guard.caught and step.ok is False:
                    step.ok = None  # an exception handler may catch it; the rule judges that
                if verdicts is not None:
                    verdicts.append(step.ok)
                if step.ok is True or (first and step.ok is None):
                    self._apply(w, step)
                elif step.ok is None:
                    self._forget(w, step)
                out.append(w)
        if len(out) > MAX_WORLDS:
            return None
        return out

    # -- DO block conditions ---------------------------------------------------------------------
    def _decide(self, world: _World, stmt: Statement) -> list[tuple[_World, bool]]:
        if stmt.context != "do" or not stmt.guard.branches:
            return [(world, True)]
        block = stmt.parent.start if stmt.parent is not None else -1
        pending: list[tuple[_World, bool]] = [(world, True)]
        for branch in stmt.guard.branches:
            key = (block, branch.condition, branch.before)
            nxt: list[tuple[_World, bool]] = []
            for w, runs in pending:
                if not runs:
                    nxt.append((w, False))
                    continue
                if key not in w.decided:
                    value, atoms = self._evaluate(w, branch.condition, branch.before)
                    if value is None:
                        for outcome in (True, False):
                            fork = w.copy()
                            fork.decided[key] = outcome
                            self._learn(fork, branch.condition, branch.before, atoms, outcome)
                            nxt.append((fork, outcome == branch.expected))
                        continue
                    w.decided[key] = value
                nxt.append((w, w.decided[key] == branch.expected))
            pending = nxt
        return pending

    def _evaluate(self, world: _World, condition: str, before: tuple[str, ...]) -> tuple[bool | None, list[Key]]:
        ev = _StateEvaluator(world, self.default_schema)
        try:
            return ev.evaluate(condition, before), ev.atoms
        except Unknown:
            return None, ev.atoms

    def _learn(
        self, world: _World, condition: str, before: tuple[str, ...], atoms: list[Key], outcome: bool
    ) -> None:
        """In the world where ``condition`` came out as ``outcome``, what must the catalog hold?
        Learnt for a condition about one fully named object."""
        complete = [a for a in dict.fromkeys(atoms) if "*" not in a]
        if len(complete) != 1 or len(set(atoms)) != 1:
            return
        atom = complete[0]
        results: dict[bool, bool | None] = {}
        for value in (True, False):
            trial = world.copy()
            trial.facts[atom] = value
            results[value], _ = self._evaluate(trial, condition, before)
        if results[True] == outcome and results[False] == (not outcome):
            world.facts[atom] = True
        elif results[False] == outcome and results[True] == (not outcome):
            world.facts[atom] = False

    # -- applying ----------------------------------------------------------------------------------
    def _apply(self, world: _World, step: _Step) -> None:
        for key, exists in step.requires:
            if world.get(key) is None:
                world.set(key, exists)
        for op, key, arg in step.changes:
            if op == "set":
                world.set(key, bool(arg))
            elif op == "kind":
                world.kinds[key] = str(arg)
            elif op == "close":
                world.closed.add(key)
            elif op == "open":
                world.closed.discard(key)
            elif op == "index":
                assert isinstance(arg, tuple)
                world.index_of[key] = arg
            elif op == "drop_rel":
                world.drop_relation(key)
            elif op == "rename_rel":
                assert isinstance(arg, tuple)
                world.rename_relation(key, arg)
            elif op == "cascade":
                world.cascade(key)
            elif op == "deps":
                assert isinstance(arg, frozenset)
                world.deps[key] = arg
            elif op == "fk":
                assert isinstance(arg, tuple)
                world.fk_of[key] = arg
            elif op == "cols":
                assert isinstance(arg, tuple)
                table, cols = arg
                world.cols_of[key] = (table, frozenset(cols))
            elif op == "dropcol":
                world.drop_column(key)

    def _forget(self, world: _World, step: _Step) -> None:
        """A statement that may or may not have run: what it touches is no longer known."""
        for op, key, arg in step.changes:
            if op in ("set", "drop_rel", "close", "kind", "dropcol"):
                if op == "dropcol":
                    trial = world.copy()
                    trial.drop_column(key)
                    for k, v in trial.facts.items():
                        if world.facts.get(k) != v:
                            world.forget(k)
                if op == "drop_rel":
                    world.drop_relation(key)
                world.forget(key)
            elif op == "rename_rel":
                assert isinstance(arg, tuple)
                world.forget(key)
                world.forget(arg)
            elif op == "cascade":
                trial = world.copy()
                trial.cascade(key)
                for k, v in trial.facts.items():
                    if world.facts.get(k) != v:
                        world.forget(k)

    # -- statements ----------------------------------------------------------------------------------
    def _rel(self, rv: Node | None) -> Key:
        rv = rv or {}
        return ("rel", str(rv.get("schemaname") or self.default_schema), str(rv.get("relname", "")))

    def _qualified(self, parts: list[str]) -> tuple[str, str]:
        if len(parts) >= 2:
            return parts[-2], parts[-1]
        return self.default_schema, parts[-1] if parts else ""

    def _step(self, w: _World, stmt: Statement) -> _Step:
        handler = getattr(self, f"_s_{stmt.kind}", None)
        if handler is None:
            return _Step(None)
        step: _Step = handler(w, stmt.node)
        return step

    def _create(self, w: _World, key: Key, if_not_exists: bool, replace: bool = False) -> _Step:
        step = _Step(True)
        if not (if_not_exists or replace):
            step.require(w, key, exists=False)
        return step

    def _s_CreateStmt(self, w: _World, n: Node) -> _Step:
        rel = self._rel(n.get("relation"))
        if (n.get("relation") or {}).get("relpersistence") == "t":
            return _Step(None)  # a temporary table: gone with the session
        exists = w.get(rel)
        step = self._create(w, rel, bool(n.get("if_not_exists")))
        if n.get("if_not_exists") and exists is not False:
            step.changes.append(("set", rel, True))
            step.changes.append(("kind", rel, "table"))
            return step
        step.changes += [("drop_rel", rel, None), ("set", rel, True), ("kind", rel, "table")]
        _, schema, table = rel
        simple = not n.get("inhRelations") and not n.get("partbound")
        for item in n.get("tableElts") or []:
            if "TableLikeClause" in item:
                simple = False
            elif "ColumnDef" in item:
                col = item["ColumnDef"]
                step.changes.append(("set", ("column", schema, table, str(col.get("colname", ""))), True))
                for con in col.get("constraints") or []:
                    self._constraint_changes(step, schema, table, con.get("Constraint", {}), [str(col.get("colname", ""))])
            elif "Constraint" in item:
                self._constraint_changes(step, schema, table, item["Constraint"], None)
        if simple:
            step.changes.append(("close", rel, None))
        return step

    def _constraint_changes(
        self, step: _Step, schema: str, table: str, con: Node, column: list[str] | None
    ) -> None:
        kind = {
            "CONSTR_PRIMARY": "p",
            "CONSTR_UNIQUE": "u",
            "CONSTR_FOREIGN": "f",
            "CONSTR_CHECK": "c",
            "CONSTR_EXCLUSION": "x",
        }.get(str(con.get("contype", "")))
        if kind is None:
            return
        name = con.get("conname")
        if not name:
            keys = _strings(con.get("keys")) or _strings(con.get("fk_attrs")) or (column or [])
            if kind == "c":
                return  # named after the first column its expression reads: not worked out here
            name = names.constraint_name(table, kind, keys, lambda _n: False)
        step.changes.append(("set", ("constraint", schema, table, str(name)), True))
        used = _strings(con.get("keys")) or _strings(con.get("fk_attrs")) or (column or [])
        if used and kind != "c":
            step.changes.append(("cols", ("constraint", schema, table, str(name)), (("rel", schema, table), tuple(used))))
        if kind == "f":
            step.changes.append(("fk", ("constraint", schema, table, str(name)), self._rel(con.get("pktable"))))
        if kind in ("p", "u", "x"):
            index = ("rel", schema, str(name))
            step.changes += [("set", index, True), ("kind", index, "index"), ("index", index, ("rel", schema, table))]
            if used:
                step.changes.append(("cols", index, (("rel", schema, table), tuple(used))))

    def _s_CreateTableAsStmt(self, w: _World, n: Node) -> _Step:
        into_node: Node = n.get("into") or {}
        into: Node = into_node.get("IntoClause", into_node)
        rel = self._rel(into.get("rel"))
        if (into.get("rel") or {}).get("relpersistence") == "t":
            return _Step(None)
        step = self._create(w, rel, bool(n.get("if_not_exists")))
        kind = "matview" if n.get("objtype") == "OBJECT_MATVIEW" else "table"
        step.changes += [("set", rel, True), ("kind", rel, kind)]
        if kind == "matview":
            step.changes.append(("deps", rel, self._reads(n.get("query"))))
        return step

    def _s_ViewStmt(self, w: _World, n: Node) -> _Step:
        rel = self._rel(n.get("view"))
        if (n.get("view") or {}).get("relpersistence") == "t":
            return _Step(None)
        step = self._create(w, rel, False, bool(n.get("replace")))
        step.changes += [("set", rel, True), ("kind", rel, "view"), ("deps", rel, self._reads(n.get("query")))]
        return step

    def _reads(self, node: Any) -> frozenset[Key]:
        """The relations a query reads (its RangeVars)."""
        out: set[Key] = set()
        stack = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if "relname" in item and "relpersistence" in item:
                    out.add(self._rel(item))
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return frozenset(out)

    def _s_CreateSeqStmt(self, w: _World, n: Node) -> _Step:
        rel = self._rel(n.get("sequence"))
        if (n.get("sequence") or {}).get("relpersistence") == "t":
            return _Step(None)
        step = self._create(w, rel, bool(n.get("if_not_exists")))
        step.changes += [("set", rel, True), ("kind", rel, "sequence")]
        return step

    def _s_IndexStmt(self, w: _World, n: Node) -> _Step:
        table = self._rel(n.get("relation"))
        if not n.get("idxname"):
            return _Step(None)  # a new name every run: no failure, another copy (I501)
        index = ("rel", table[1], str(n["idxname"]))
        step = _Step(True)
        step.require(w, table)
        for param in n.get("indexParams") or []:
            col = (param.get("IndexElem") or {}).get("name")
            if col:
                step.require(w, ("column", table[1], table[2], str(col)))
        if not n.get("if_not_exists"):
            step.require(w, index, exists=False)
        step.changes += [("set", index, True), ("kind", index, "index"), ("index", index, table)]
        used = [str((p.get("IndexElem") or {}).get("name")) for p in n.get("indexParams") or []]
        if used and all(u != "None" for u in used):
            step.changes.append(("cols", index, (table, tuple(used))))
        return step

    def _s_CreateEnumStmt(self, w: _World, n: Node) -> _Step:
        schema, name = self._qualified(_strings(n.get("typeName")))
        key = ("type", schema, name)
        step = self._create(w, key, False)
        step.changes += [("set", key, True), ("close", key, None)]
        for v in n.get("vals") or []:
            step.changes.append(("set", ("enumval", schema, name, str(v.get("String", {}).get("sval", ""))), True))
        return step

    def _s_CompositeTypeStmt(self, w: _World, n: Node) -> _Step:
        rv = n.get("typevar") or {}
        key = ("type", str(rv.get("schemaname") or self.default_schema), str(rv.get("relname", "")))
        step = self._create(w, key, False)
        step.changes.append(("set", key, True))
        return step

    def _s_CreateDomainStmt(self, w: _World, n: Node) -> _Step:
        schema, name = self._qualified(_strings(n.get("domainname")))
        key = ("type", schema, name)
        step = self._create(w, key, False)
        step.changes.append(("set", key, True))
        return step

    def _s_CreateFunctionStmt(self, w: _World, n: Node) -> _Step:
        schema, name = self._qualified(_strings(n.get("funcname")))
        key = ("function", schema, name)
        step = self._create(w, key, False, bool(n.get("replace")))
        step.changes.append(("set", key, True))
        return step

    def _s_CreateTrigStmt(self, w: _World, n: Node) -> _Step:
        _, schema, table = self._rel(n.get("relation"))
        key = ("trigger", schema, table, str(n.get("trigname", "")))
        step = self._create(w, key, False, bool(n.get("replace")))
        step.changes.append(("set", key, True))
        return step

    def _s_CreatePolicyStmt(self, w: _World, n: Node) -> _Step:
        _, schema, table = self._rel(n.get("table"))
        key = ("policy", schema, table, str(n.get("policy_name", "")))
        step = self._create(w, key, False)
        step.changes.append(("set", key, True))
        return step

    def _s_CreateSchemaStmt(self, w: _World, n: Node) -> _Step:
        name = n.get("schemaname") or ((n.get("authrole") or {}).get("RoleSpec") or {}).get("rolename")
        if not name:
            return _Step(None)
        key = ("schema", str(name))
        step = self._create(w, key, bool(n.get("if_not_exists")))
        step.changes.append(("set", key, True))
        return step

    def _s_CreateExtensionStmt(self, w: _World, n: Node) -> _Step:
        key = ("extension", str(n.get("extname", "")))
        step = self._create(w, key, bool(n.get("if_not_exists")))
        step.changes.append(("set", key, True))
        return step

    def _s_CreateRoleStmt(self, w: _World, n: Node) -> _Step:
        key = ("role", str(n.get("role", "")))
        step = self._create(w, key, False)
        step.changes.append(("set", key, True))
        return step

    def _s_DropRoleStmt(self, w: _World, n: Node) -> _Step:
        step = _Step(True)
        for role in n.get("roles") or []:
            name = (role.get("RoleSpec") or {}).get("rolename")
            if not name:
                return _Step(None)
            key = ("role", str(name))
            if not n.get("missing_ok"):
                step.require(w, key)
            step.changes.append(("set", key, False))
        return step

    def _s_DropStmt(self, w: _World, n: Node) -> _Step:
        remove = str(n.get("removeType", ""))
        step = _Step(True)
        cascade = n.get("behavior") == "DROP_CASCADE"
        for obj in n.get("objects") or []:
            parts = _object_names(obj)
            if not parts:
                return _Step(None)
            key: Key
            if remove in _REL_DROP_KINDS:
                schema, name = self._qualified(parts)
                key = ("rel", schema, name)
                kind = w.kinds.get(key)
                if kind is not None and kind != _REL_DROP_KINDS[remove]:
                    step.need(False)  # DROP VIEW of a table: wrong object type, even IF EXISTS
                elif kind is None and w.get(key) is not False:
                    step.need(None)  # it may be there as another kind of relation
                if not n.get("missing_ok"):
                    step.require(w, key)
                step.changes.append(("drop_rel", key, None))
                continue
            if remove in ("OBJECT_TRIGGER", "OBJECT_POLICY"):
                schema, table = self._qualified(parts[:-1])
                key = ("trigger" if remove == "OBJECT_TRIGGER" else "policy", schema, table, parts[-1])
            elif remove in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
                key = ("type", *self._qualified(parts))
            elif remove in ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE"):
                key = ("function", *self._qualified(parts))
            elif remove == "OBJECT_SCHEMA":
                key = ("schema", parts[-1])
            elif remove == "OBJECT_EXTENSION":
                key = ("extension", parts[-1])
            else:
                return _Step(None)
            if not n.get("missing_ok"):
                step.require(w, key)
            step.changes.append(("set", key, False))
        if cascade:
            step.changes += [("cascade", key, None) for op, key, _ in list(step.changes) if op in ("drop_rel", "set")]
        return step

    def _s_AlterTableStmt(self, w: _World, n: Node) -> _Step:
        if n.get("objtype", "OBJECT_TABLE") not in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
            return _Step(None)
        rel = self._rel(n.get("relation"))
        _, schema, table = rel
        exists = w.get(rel)
        if exists is False:
            return _Step(bool(n.get("missing_ok")))
        step = _Step(True)
        if n.get("missing_ok"):
            if exists is None:
                step.ok = None  # IF EXISTS of a table that may be missing: may do nothing
        else:
            step.require(w, rel)
        # Subcommands run in order: each sees what the ones before it did
        # (``DROP CONSTRAINT x, ADD CONSTRAINT x``).
        cur = w.copy()
        for item in n.get("cmds") or []:
            cmd = item.get("AlterTableCmd", {})
            part = self._alter_cmd(cur, schema, table, cmd)
            step.need(part.ok)
            step.requires += [r for r in part.requires if w.get(r[0]) is None]
            step.changes += part.changes
            self._apply(cur, part)
        return step

    def _alter_cmd(self, w: _World, schema: str, table: str, cmd: Node) -> _Step:
        step = _Step(True)
        sub = cmd.get("subtype")
        name = cmd.get("name")
        if sub == "AT_AddColumn":
            coldef = (cmd.get("def") or {}).get("ColumnDef", {})
            col = ("column", schema, table, str(coldef.get("colname", "")))
            if not cmd.get("missing_ok"):
                step.require(w, col, exists=False)
            step.changes.append(("set", col, True))
            for con in coldef.get("constraints") or []:
                self._constraint_changes(step, schema, table, con.get("Constraint", {}), [col[3]])
        elif sub == "AT_DropColumn" and name:
            col = ("column", schema, table, str(name))
            if not cmd.get("missing_ok"):
                step.require(w, col)
            step.changes.append(("dropcol", col, None))
        elif sub == "AT_AddConstraint":
            con = (cmd.get("def") or {}).get("Constraint", {})
            for key_col in _strings(con.get("keys")) or _strings(con.get("fk_attrs")):
                step.require(w, ("column", schema, table, key_col))
            if con.get("conname"):
                step.require(w, ("constraint", schema, table, str(con["conname"])), exists=False)
            elif con.get("contype") == "CONSTR_PRIMARY":
                step.require(w, ("constraint", schema, table, names.constraint_name(table, "p", [], lambda _n: False)), exists=False)
            else:
                # PostgreSQL picks a free name (t_a_key1): no failure, but another copy on every
                # run, which the rule (I401) judges
                step.need(None)
            self._constraint_changes(step, schema, table, con, None)
        elif sub == "AT_DropConstraint" and name:
            key = ("constraint", schema, table, str(name))
            if not cmd.get("missing_ok"):
                step.require(w, key)
            step.changes.append(("set", key, False))
            step.changes.append(("set", ("rel", schema, str(name)), False))
        elif sub in _COLUMN_CMDS and name:
            step.require(w, ("column", schema, table, str(name)))
        elif sub in ("AT_AddIndexConstraint", "AT_AttachPartition", "AT_DetachPartition", "AT_AddInherit"):
            step.need(None)
        return step

    def _s_RenameStmt(self, w: _World, n: Node) -> _Step:
        rtype = str(n.get("renameType", ""))
        new = str(n.get("newname", ""))
        if rtype in _REL_RENAME_KINDS:
            old = self._rel(n.get("relation"))
            target = ("rel", old[1], new)
            if n.get("missing_ok") and w.get(old) is False:
                return _Step(True)
            step = _Step(True)
            step.require(w, old)
            step.require(w, target, exists=False)
            step.changes.append(("rename_rel", old, target))
            return step
        if rtype in ("OBJECT_COLUMN", "OBJECT_TABCONSTRAINT", "OBJECT_TRIGGER", "OBJECT_POLICY"):
            rel = self._rel(n.get("relation"))
            kind = {
                "OBJECT_COLUMN": "column",
                "OBJECT_TABCONSTRAINT": "constraint",
                "OBJECT_TRIGGER": "trigger",
                "OBJECT_POLICY": "policy",
            }[rtype]
            if n.get("missing_ok") and w.get(rel) is False:
                return _Step(True)
            old_key = (kind, rel[1], rel[2], str(n.get("subname", "")))
            new_key = (kind, rel[1], rel[2], new)
            step = _Step(True)
            if not n.get("missing_ok"):
                step.require(w, rel)
            step.require(w, old_key)
            step.require(w, new_key, exists=False)
            step.changes += [("set", old_key, False), ("set", new_key, True)]
            return step
        if rtype in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
            parts = _object_names(n.get("object"))
            if not parts:
                return _Step(None)
            schema, name = self._qualified(parts)
            step = _Step(True)
            step.require(w, ("type", schema, name))
            step.require(w, ("type", schema, new), exists=False)
            step.changes += [("set", ("type", schema, name), False), ("set", ("type", schema, new), True)]
            return step
        return _Step(None)

    def _s_AlterEnumStmt(self, w: _World, n: Node) -> _Step:
        schema, name = self._qualified(_strings(n.get("typeName")))
        new = str(n.get("newVal", ""))
        step = _Step(True)
        step.require(w, ("type", schema, name))
        new_key = ("enumval", schema, name, new)
        if n.get("oldVal"):
            old_key = ("enumval", schema, name, str(n["oldVal"]))
            step.require(w, old_key)
            step.require(w, new_key, exists=False)
            step.changes += [("set", old_key, False), ("set", new_key, True)]
            return step
        if not n.get("skipIfNewValExists"):
            step.require(w, new_key, exists=False)
        step.changes.append(("set", new_key, True))
        return step


def _merge(worlds: list[_World]) -> _World:
    """One world that holds what all of ``worlds`` agree on (the outcomes of a DO block's
    undecided IFs, joined again after the block)."""
    first, rest = worlds[0], worlds[1:]
    merged = _World()
    merged.closed = set.intersection(first.closed, *(w.closed for w in rest))
    keys = set(first.facts).union(*(w.facts for w in rest))
    for key in keys:
        value = first.get(key)
        if value is not None and all(w.get(key) == value for w in rest):
            merged.facts[key] = value
        elif key[0] in ("column", "constraint", "trigger", "policy"):
            merged.closed.discard(("rel", key[1], key[2]))
        elif key[0] == "enumval":
            merged.closed.discard(("type", key[1], key[2]))
    merged.kinds = {k: v for k, v in first.kinds.items() if all(w.kinds.get(k) == v for w in rest)}
    merged.index_of = {k: v for k, v in first.index_of.items() if all(w.index_of.get(k) == v for w in rest)}
    return merged


def _strings(items: Any) -> list[str]:
    return [str(i["String"]["sval"]) for i in items or [] if isinstance(i, dict) and "String" in i]


def _object_names(item: Any) -> list[str]:
    if not isinstance(item, dict):
        return []
    if "List" in item:
        return _strings(item["List"].get("items"))
    if "String" in item:
        return [str(item["String"].get("sval", ""))]
    if "TypeName" in item:
        return _strings(item["TypeName"].get("names"))
    if "ObjectWithArgs" in item:
        return _strings(item["ObjectWithArgs"].get("objname"))
    return []


class _StateEvaluator(Evaluator):
    """The catalog queries of a DO block's IF, answered from a world's three-valued facts: a
    fact the world does not hold is :class:`Unknown`. ``atoms`` collects the objects asked
    about."""

    def __init__(self, world: _World, default_schema: str) -> None:
        super().__init__(Schema(), default_schema)
        self.world = world
        self.atoms: list[Key] = []

    def _ask(self, key: Key) -> bool:
        self.atoms.append(key)
        value = self.world.matching(key)
        if value is None:
            raise Unknown("what the catalog held before the migration")
        return value

    def _value_present(self, node: Any) -> bool:
        if isinstance(node, dict) and "FuncCall" in node:
            call = node["FuncCall"]
            fname = (_strings(call.get("funcname")) or [""])[-1].lower()
            args = call.get("args") or []
            value = _const(args[0]) if args else None
            if value is not None:
                schema, name = self._split(value)
                if fname in ("to_regclass", "to_regrelation"):
                    return self._ask(("rel", schema, name))
                if fname == "to_regtype":
                    return self._ask(("type", schema, name))
                if fname == "to_regnamespace":
                    return self._ask(("schema", value))
                if fname in ("to_regproc", "to_regprocedure"):
                    return self._ask(("function", schema, name.split("(")[0]))
        raise Unknown("an IS NULL test")

    def _catalog(self, relations: list[str], f: dict[str, str]) -> bool:
        rels = {r.split(".")[-1] for r in relations}
        schema = f.get("table_schema") or f.get("schemaname") or f.get("nspname") or f.get("schema_name")
        sch = schema or "*"
        dflt = schema or self.default_schema

        def only(*known: str) -> None:
            if set(f) - set(known):
                raise Unknown("a filter the model cannot answer")

        if "columns" in rels:
            only("table_catalog", "table_schema", "table_name", "column_name")
            if "column_name" not in f:
                return self._ask(("rel", dflt, _need(f, "table_name")))
            return self._ask(("column", dflt, _need(f, "table_name"), f["column_name"]))
        if rels & {"table_constraints", "key_column_usage", "constraint_column_usage"}:
            only("table_catalog", "table_schema", "table_name", "constraint_name", "constraint_type", "constraint_schema")
            table = f.get("table_name", "*")
            return self._ask(("constraint", f.get("constraint_schema") or sch, table, _need(f, "constraint_name")))
        if "pg_constraint" in rels:
            only("conname", "conrelid", "relname", "nspname", "contype", "connamespace")
            rel = f.get("conrelid") or f.get("relname")
            if rel is None:
                return self._ask(("constraint", sch, "*", _need(f, "conname")))
            s, t = self._split(rel)
            if "." not in rel and "relname" in f and "nspname" not in f:
                s = "*"
            return self._ask(("constraint", s, t, _need(f, "conname")))
        if "pg_trigger" in rels:
            only("tgname", "tgrelid", "relname", "nspname")
            rel = f.get("tgrelid") or f.get("relname")
            s, t = self._split(rel) if rel else ("*", "*")
            return self._ask(("trigger", s, t, _need(f, "tgname")))
        if "pg_policies" in rels or "pg_policy" in rels:
            only("policyname", "polname", "tablename", "schemaname", "polrelid")
            policy_table = f.get("tablename") or f.get("polrelid")
            s, t = self._split(policy_table) if policy_table else ("*", "*")
            if schema:
                s = schema
            return self._ask(("policy", s, t, f.get("policyname") or _need(f, "polname")))
        if "pg_attribute" in rels:
            only("attrelid", "attname", "relname", "nspname", "attisdropped")
            rel = f.get("attrelid") or f.get("relname")
            if rel is None:
                raise Unknown("pg_attribute without attrelid")
            s, t = self._split(rel)
            return self._ask(("column", schema or s, t, _need(f, "attname")))
        if "pg_enum" in rels:
            only("enumlabel", "typname", "enumtypid", "nspname")
            type_name = f.get("typname") or f.get("enumtypid")
            if type_name is None or "enumlabel" not in f:
                raise Unknown("pg_enum without a type and a label")
            s, t = self._split(type_name)
            return self._ask(("enumval", schema or s, t, f["enumlabel"]))
        if "pg_type" in rels:
            only("typname", "nspname", "typtype")
            return self._ask(("type", sch, _need(f, "typname")))
        if "pg_indexes" in rels:
            only("indexname", "schemaname", "tablename")
            return self._ask(("rel", dflt, _need(f, "indexname")))
        if "pg_class" in rels:
            only("relname", "nspname", "relkind")
            return self._ask(("rel", dflt, _need(f, "relname")))
        if "pg_tables" in rels:
            only("tablename", "schemaname")
            return self._ask(("rel", dflt, _need(f, "tablename")))
        if "pg_views" in rels or "views" in rels:
            only("viewname", "table_name", "schemaname", "table_schema")
            return self._ask(("rel", dflt, f.get("viewname") or _need(f, "table_name")))
        if "pg_matviews" in rels:
            only("matviewname", "schemaname")
            return self._ask(("rel", dflt, _need(f, "matviewname")))
        if "tables" in rels:
            only("table_catalog", "table_schema", "table_name", "table_type")
            return self._ask(("rel", dflt, _need(f, "table_name")))
        if "sequences" in rels or "pg_sequences" in rels:
            only("sequence_name", "sequencename", "sequence_schema", "schemaname")
            return self._ask(("rel", f.get("sequence_schema") or dflt, f.get("sequence_name") or _need(f, "sequencename")))
        if "pg_proc" in rels or "routines" in rels:
            only("proname", "routine_name", "nspname", "routine_schema")
            return self._ask(("function", f.get("routine_schema") or sch, f.get("proname") or _need(f, "routine_name")))
        if "pg_namespace" in rels or "schemata" in rels:
            only("nspname", "schema_name")
            return self._ask(("schema", f.get("nspname") or _need(f, "schema_name")))
        if "pg_extension" in rels:
            only("extname")
            return self._ask(("extension", _need(f, "extname")))
        if rels & {"pg_roles", "pg_user", "pg_authid"}:
            only("rolname", "usename")
            return self._ask(("role", f.get("rolname") or _need(f, "usename")))
        raise Unknown(f"the catalog {', '.join(sorted(rels))}")


def _need(f: dict[str, str], key: str) -> str:
    if key not in f:
        raise Unknown(f"a catalog query without {key} = '...'")
    return f[key]
