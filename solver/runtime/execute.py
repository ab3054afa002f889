"""Stage 5: execute tools on a database exactly as the spec says - plain Python, no solver.

This is the independent implementation every generated task is replayed on: argument checks,
preconditions with the spec's error messages, atomic effects (a failing call changes nothing),
invariants after every write, deterministic ids for created records. `Database` holds records
in their JSON form; the evaluator decodes fields on read.

Effect semantics (shared with the Z3 encoding): every target and right-hand side is evaluated
on the state *before* the call; effects are then applied in order, so `x += 1` twice adds 2.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from dataclasses import dataclass
from typing import Any, Optional

from ..spec import grammar as E
from ..spec.walker import COMPARE, Arithmetic, Walker
from ..spec import types as T
from ..spec.model import CreateEffect, DeleteEffect, Domain, Entity, ListResult, SetEffect, Tool, lit_value
from ..errors import ToolError

MAX_NAME = 200  # longest tool name echoed back in an error

ALPHABETS = {
    "digits": string.digits,
    "upper": string.ascii_uppercase,
    "lower": string.ascii_lowercase,
    "alnum": string.ascii_uppercase + string.digits,
    "hex": "0123456789abcdef",
}


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def db_hash(db: dict) -> str:
    """Hash of a database in JSON form (sorted keys): what final-state checks compare."""
    return hashlib.sha256(canonical_json(db).encode()).hexdigest()


def copy_db(db: dict) -> dict:
    """A copy of a database deep enough to mutate records (tables of flat records)."""
    return {ent: {rid: dict(rec) for rid, rec in table.items()} for ent, table in db.items()}


def make_id(ent: Entity, rng: random.Random) -> str:
    alphabet = ALPHABETS[ent.id_alphabet]
    return ent.id_prefix + "".join(rng.choice(alphabet) for _ in range(ent.id_length))


@dataclass(frozen=True)
class Ref:
    """A record, by entity and id, as a value inside the evaluator."""

    entity: str
    id: str


class Evaluator(Arithmetic):
    """Evaluates typed expressions on a database in JSON form: the plain-Python back-end."""

    def __init__(self, domain: Domain, db: dict):
        self.domain = domain
        self.db = db

    eval = Walker.walk  # (a class attribute: a bound method kept on the instance would be a cycle)

    def record(self, ref: Ref) -> dict:
        rec = self.db.get(ref.entity, {}).get(ref.id)
        if rec is None:
            raise ToolError(f"{ref.entity} {ref.id} does not exist")
        return rec

    def field(self, ref: Optional[Ref], name: str) -> Any:
        if ref is None:
            # read through an empty link: only descriptions do (the type checker refuses it in
            # conditions), and a record whose link is empty fits no stated value through it
            return None
        if name == "id":
            return ref
        f = self.domain.entities[ref.entity].fields[name]
        raw = self.record(ref).get(name)
        if f.type.kind == "ref":
            return None if raw is None else Ref(f.type.entity, raw)
        return T.decode(f.type, raw)

    # ------------------------------------------------------------------ one method per node kind
    def lit(self, n: E.Lit, env: dict) -> Any:
        if n.kind == "null":
            return None
        return n.value if n.kind == "const" else lit_value(n)

    def name(self, n: E.Name, env: dict) -> Any:
        if n.id in env:
            return env[n.id]
        if n.id == "today":
            return self.domain.today
        if n.id == "now":
            return self.domain.now
        if n.id == "actor":
            raise ToolError("this tool needs to know who is asking, and no user is signed in")
        raise KeyError(n.id)

    def attr(self, n: E.Attr, env: dict) -> Any:
        return self.field(self.walk(n.obj, env), n.name)

    def compare(self, n: E.Compare, env: dict) -> bool:
        return COMPARE[n.op](self.walk(n.left, env), self.walk(n.right, env))

    def inlist(self, n: E.InList, env: dict) -> bool:
        v = self.walk(n.item, env)
        found = any(v == self.walk(o, env) for o in n.options)
        return not found if n.negated else found

    def boolop(self, n: E.BoolOp, env: dict) -> bool:
        if n.op == "and":
            return all(self.walk(v, env) for v in n.values)
        return any(self.walk(v, env) for v in n.values)

    def not_(self, n: E.Not, env: dict) -> bool:
        return not self.walk(n.operand, env)

    def ifelse(self, n: E.IfElse, env: dict) -> Any:
        return self.walk(n.then, env) if self.walk(n.cond, env) else self.walk(n.other, env)

    def quant(self, n: E.Quant, env: dict) -> Any:
        hits = 0
        for rid in sorted(self.db.get(n.entity, {})):
            if self.walk(n.cond, {**env, n.var: Ref(n.entity, rid)}):
                hits += 1
                if n.kind != "count":
                    break
        return hits if n.kind == "count" else (hits > 0) == (n.kind == "any")

    def call(self, n: E.Call, env: dict) -> Any:
        v = self.clock(n, env)
        if v is not None:
            return v
        vals = [self.walk(a, env) for a in n.args]
        if n.func == "distinct":
            return all(a != b for i, a in enumerate(vals) for b in vals[i + 1:])
        if n.func == "min":
            return min(vals)
        if n.func == "max":
            return max(vals)
        return abs(vals[0])

    def matches(self, listing: ListResult, env: dict) -> list[Ref]:
        """Records of the listed entity satisfying `where`, in id order."""
        out = []
        for rid in sorted(self.db.get(listing.entity, {})):
            ref = Ref(listing.entity, rid)
            if listing.where is None or self.eval(listing.where, {**env, listing.item: ref}):
                out.append(ref)
        return out


def to_text(t: T.VType, value: Any) -> str:
    if isinstance(value, Ref):
        return value.id
    if value is None and t.kind == "ref":
        return "none"
    return T.to_text(t, value)


def to_json(t: T.VType, value: Any) -> Any:
    if isinstance(value, Ref):
        return value.id
    if value is None and t.kind == "ref":
        return None  # an empty link
    return T.encode(t, value)


@dataclass
class CallRecord:
    name: str
    arguments: dict
    ok: bool
    output: Any  # JSON-able result, or the error text
    answer: Optional[str] = None  # text of the tool's `answer`, when it has one
    created: Optional[dict] = None  # created record variable -> new id


class Runtime:
    """A live environment: one database, the domain's tools. Not thread-safe."""

    def __init__(self, domain: Domain, db: dict, actor_id: Optional[str] = None):
        self.domain = domain
        self.db = copy_db(db)
        self.actor_id = actor_id  # who is talking to the agent (`actor` in the spec)
        self.created = {name: 0 for name in domain.entities}
        # created ids depend on the starting database (not only on a counter), so two tasks
        # do not share ids, while replaying the same calls on the same database gives the same ids
        self.id_seed = hashlib.sha256("|".join(sorted(
            f"{e}/{i}" for e, t in db.items() for i in t)).encode()).hexdigest()[:12]
        self.ev = Evaluator(domain, self.db)
        self.log: list[CallRecord] = []

    # --------------------------------------------------------------- public API
    def call(self, name: Any, arguments: Any) -> CallRecord:
        """Run one tool call. Never raises for a bad call: the record says what went wrong, and a
        refused call changes nothing - no field, no record, no id counter."""
        self._created_now: dict[str, str] = {}
        self._counters = dict(self.created)  # ids this call would use; committed only on success
        shown = name if isinstance(name, str) and len(name) <= MAX_NAME and T.is_unicode(name) else T.show(name)
        args_kept = arguments if isinstance(arguments, dict) else {}
        try:
            output, answer = self._call(name, arguments)
        except ToolError as e:
            rec = CallRecord(shown, args_kept, False, f"Error: {e}")
        else:
            self.created = self._counters
            rec = CallRecord(shown, args_kept, True, output, answer, dict(self._created_now) or None)
        self.log.append(rec)
        return rec

    def hash(self) -> str:
        return db_hash(self.db)

    # --------------------------------------------------------------- internals
    def _call(self, name: Any, arguments: Any) -> tuple[Any, Optional[str]]:
        if not isinstance(name, str):
            raise ToolError(f"the tool name must be text, got {T.show(name)}")
        tool = self.domain.tools.get(name)
        if tool is None:
            raise ToolError(f"unknown tool {T.show(name)}. Available tools: {', '.join(sorted(self.domain.tools))}")
        env = self.bind_arguments(tool, arguments)
        self.eval_lets(tool, env)
        for req in tool.requires:
            if not self.ev.eval(req.expr, env):
                raise ToolError(req.error)
        if tool.effects:
            self._apply(tool, env)
        output = self._output(tool, env)
        answer = None
        if tool.answer is not None:
            aenv = env
            if tool.returns.kind == "find":
                aenv = {**env, tool.returns.listing.item: env["__found__"]}
            answer = to_text(tool.answer_type, self.ev.eval(tool.answer, aenv))
        return output, answer

    def bind_arguments(self, tool: Tool, arguments: Any) -> dict:
        """Check every argument against the tool's schema and the spec's bounds, before anything
        runs: the value environment of the call, or a ToolError saying what is wrong."""
        expected = ", ".join(tool.args) or "(none)"
        if not isinstance(arguments, dict):
            raise ToolError(f"arguments must be an object with keys: {expected}; got {T.show(arguments)}")
        unknown = [k for k in arguments if k not in tool.args]
        if unknown:
            raise ToolError(f"unknown argument {T.show(unknown[0])} for {tool.name}; expected: {expected}")
        env: dict[str, Any] = {}
        if self.actor_id is not None:
            env["actor"] = Ref(self.domain.actor, self.actor_id)
        for aname, arg in tool.args.items():
            if aname not in arguments:
                raise ToolError(f"missing argument '{aname}' for {tool.name}")
            raw = arguments[aname]
            if arg.is_ref:
                if not isinstance(raw, str):
                    raise ToolError(f"'{aname}' must be a {arg.type.entity} id (text), got {T.show(raw)}")
                if raw not in self.db.get(arg.type.entity, {}):
                    raise ToolError(f"no {arg.type.entity} with id {T.show(raw)}")
                env[arg.var] = Ref(arg.type.entity, raw)
                continue
            try:
                value = T.decode(arg.type, raw)
            except T.ValueError_ as e:
                raise ToolError(f"bad value for '{aname}': {e}") from None
            out_of_range = T.check_range(arg.type, value)
            if out_of_range:
                raise ToolError(f"bad value for '{aname}': {T.show(raw)} is {out_of_range}")
            env[aname] = value
        return env

    def eval_lets(self, tool: Tool, env: dict) -> None:
        for lname, node, _t in tool.lets:
            env[lname] = self.ev.eval(node, env)

    def _resolve_target(self, path: list[str], env: dict) -> Ref:
        obj = env[path[0]]
        for step in path[1:-1]:
            obj = self.ev.field(obj, step)
        return obj

    def _apply(self, tool: Tool, env: dict) -> None:
        # 1) plan on the pre-state
        plan = []
        for eff in tool.effects:
            if isinstance(eff, SetEffect):
                if eff.when is not None and not self.ev.eval(eff.when, env):
                    continue
                target = self._resolve_target(eff.target, env)
                self.ev.record(target)
                plan.append(("set", target, eff.target[-1], eff.op, self.ev.eval(eff.value, env), eff.field_type))
            elif isinstance(eff, CreateEffect):
                new_id = self._new_id(eff.entity)
                fields = {}
                for fname, node in eff.values.items():
                    if isinstance(node, E.Lit) and node.kind == "generated":
                        fields[fname] = None  # filled after the other fields are known
                    else:
                        fields[fname] = self.ev.eval(node, env)
                env[eff.var] = Ref(eff.entity, new_id)
                self._created_now[eff.var] = new_id
                plan.append(("create", Ref(eff.entity, new_id), fields))
            elif isinstance(eff, DeleteEffect):
                plan.append(("delete", env[eff.var]))
        # 2) apply to copies of the touched records
        staged: dict[Ref, Optional[dict]] = {}

        def rec(ref: Ref) -> Optional[dict]:
            if ref not in staged:
                cur = self.db.get(ref.entity, {}).get(ref.id)
                staged[ref] = None if cur is None else dict(cur)
            return staged[ref]

        for item in plan:
            if item[0] == "set":
                _, ref, fname, op, value, ftype = item
                r = rec(ref)
                if r is None:
                    raise ToolError(f"{ref.entity} {ref.id} was deleted")
                if op == "=":
                    new = value
                else:
                    cur = T.decode(ftype, r[fname]) if ftype.kind != "ref" else r[fname]
                    new = cur + value if op == "+=" else cur - value
                self._in_range(ref, fname, ftype, new)
                r[fname] = to_json(ftype, new)
            elif item[0] == "create":
                _, ref, fields = item
                ent = self.domain.entities[ref.entity]
                r = {"id": ref.id}
                for fname, info in ent.fields.items():
                    v = fields.get(fname)
                    if v is not None and info.type.kind != "ref":
                        self._in_range(ref, fname, info.type, v)
                    r[fname] = None if v is None else to_json(info.type, v)
                for fname, info in ent.fields.items():
                    if r[fname] is None and info.format:
                        r[fname] = self._format_value(ent, info.name, r)
                staged[ref] = r
            else:
                _, ref = item
                if rec(ref) is None:
                    raise ToolError(f"{ref.entity} {ref.id} does not exist")
                staged[ref] = None
        # 3) invariants and uniqueness on the staged records, then commit
        self._check_staged(staged)
        for ref, r in staged.items():
            table = self.db.setdefault(ref.entity, {})
            if r is None:
                table.pop(ref.id, None)
            else:
                table[ref.id] = r

    @staticmethod
    def _in_range(ref: Ref, fname: str, t: T.VType, value: Any) -> None:
        """A field keeps to the range the spec declares for it, in every state (the Z3 encoding
        asserts the same after every step): a write that would leave it outside is refused."""
        why = T.check_range(t, value)
        if why:
            raise ToolError(f"this would set {ref.entity} {ref.id}'s {fname.replace('_', ' ')} to "
                            f"{T.to_text(t, value)}, {why}")

    def _check_staged(self, staged: dict) -> None:
        overlay = {ent: dict(tbl) for ent, tbl in self.db.items()}
        for ref, r in staged.items():
            if r is None:
                overlay.get(ref.entity, {}).pop(ref.id, None)
            else:
                overlay.setdefault(ref.entity, {})[ref.id] = r
        ev = Evaluator(self.domain, overlay)
        for ref, r in staged.items():
            if r is None:
                continue
            ent = self.domain.entities[ref.entity]
            for node, src in ent.invariants:
                if not ev.eval(node, {ref.entity: ref}):
                    raise ToolError(f"this would break the rule '{src}' for {ref.entity} {ref.id}")
            for fname, info in ent.fields.items():
                if info.unique:
                    for oid, other in overlay[ref.entity].items():
                        if oid != ref.id and other.get(fname) == r.get(fname):
                            raise ToolError(f"another {ref.entity} already has {fname} {r.get(fname)!r}")
                if info.type.kind == "ref" and r.get(fname) is None and info.nullable:
                    continue
                if info.type.kind == "ref" and r.get(fname) not in overlay.get(info.type.entity, {}):
                    raise ToolError(f"{ref.entity} {ref.id} would point to a missing {info.type.entity}")

    def _new_id(self, entity: str) -> str:
        """The next id for a created record. Counts on this call's copy of the counters, which
        `call` keeps only if the call succeeds: a refused call never shifts later ids."""
        ent = self.domain.entities[entity]
        for _ in range(10_000):
            self._counters[entity] += 1
            rng = random.Random(f"{self.id_seed}/{entity}/{self._counters[entity]}")
            new_id = make_id(ent, rng)
            if new_id not in self.db.get(entity, {}) and new_id not in self._created_now.values():
                return new_id
        raise ToolError(f"no free {entity} id is left")

    def _format_value(self, ent: Entity, fname: str, record: dict) -> str:
        info = ent.fields[fname]
        n = 1
        used = {r.get(fname) for r in self.db.get(ent.name, {}).values()}
        while True:
            v = format_field(info.format, record, n)
            if not info.unique or v not in used:
                return v
            n += 1

    # --------------------------------------------------------------- outputs
    def record_json(self, ref: Ref, expand: list[list[str]]) -> dict:
        out = dict(self.ev.record(ref))
        for path in expand:
            self._expand(out, ref.entity, path)
        return out

    def _expand(self, rec: dict, entity: str, path: list[str]) -> None:
        fname = path[0]
        info = self.domain.entities[entity].fields[fname]
        val = rec.get(fname)
        if isinstance(val, str):
            target = self.db.get(info.type.entity, {}).get(val)
            if target is None:
                return
            rec[fname] = dict(target)
        if len(path) > 1 and isinstance(rec.get(fname), dict):
            self._expand(rec[fname], info.type.entity, path[1:])

    def _output(self, tool: Tool, env: dict) -> Any:
        r = tool.returns
        if r.kind == "record":
            ref = env[r.var]
            out = self.record_json(ref, r.expand)
            for iname, listing in r.include.items():
                out[iname] = [self.record_json(x, listing.expand) for x in self.ev.matches(listing, env)]
            return out
        if r.kind == "list":
            return [self.record_json(x, r.listing.expand) for x in self.ev.matches(r.listing, env)]
        if r.kind == "find":
            found = self.ev.matches(r.listing, env)
            if not found:
                raise ToolError(f"no {r.listing.entity} matches")
            env["__found__"] = found[0]
            return self.record_json(found[0], r.listing.expand)
        if r.kind == "value":
            return to_json(r.value_type, self.ev.eval(r.value, env))
        return {"status": "ok"} if tool.is_write else {}


def listed_ids(output: Any) -> list[str]:
    """Ids of the records a tool listed, in the order shown (a list result, or a record's
    included list)."""
    if isinstance(output, list):
        return [r.get("id") for r in output if isinstance(r, dict)]
    if isinstance(output, dict):
        for v in output.values():
            if isinstance(v, list) and v and isinstance(v[0], dict) and "id" in v[0]:
                return [r["id"] for r in v]
    return []


def format_field(fmt: str, record: dict, n: int) -> str:
    """Render a `format` field: `{field}` placeholders (lower-cased) and `{n}` (1 -> '')."""

    def sub(m):
        key = m.group(1)
        if key == "n":
            return "" if n == 1 else str(n)
        return str(record.get(key, "")).lower().replace(" ", "")

    import re

    return re.sub(r"\{([^}]*)\}", sub, fmt)
