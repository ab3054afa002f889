"""One value expression, three engines: the runtime's Python, the Z3 encoding and the SQL second
engine, on one record of tests/data/clock.yaml (times of day, durations, products)."""

from __future__ import annotations

import random
from pathlib import Path

import z3

from envsynth import sqlcheck
from envsynth.runtime.execute import Evaluator, Ref
from envsynth.spec import types as T
from envsynth.spec.loader import load_domain
from envsynth.state.world import Symbols, World

CLOCK = Path(__file__).parent / "data" / "clock.yaml"


def clock_domain():
    return load_domain(str(CLOCK))


def records(domain, n: int, seed: int = 0) -> list[dict]:
    """Slots in JSON form: random values, plus the edges (midnight, the extreme offsets)."""
    rng = random.Random(seed)
    fields = domain.entities["slot"].fields
    out = []
    for i in range(n):
        rec = {"id": f"S{i:04d}"}
        for name, f in fields.items():
            v = rng.choice([f.type.lo, f.type.hi]) if i % 4 == 0 else rng.randint(f.type.lo, f.type.hi)
            rec[name] = T.encode(f.type, v)
        out.append(rec)
    return out


def in_python(domain, rec: dict, node):
    ev = Evaluator(domain, {"slot": {rec["id"]: rec}})
    return ev.walk(node, {"slot": Ref("slot", rec["id"])})


def in_z3(domain, rec: dict, node):
    w = World(domain, Symbols(domain))
    w.add_object("s1", "slot", {})
    for name, f in domain.entities["slot"].fields.items():
        w.add(w.state[("s1", name)] == T.decode(f.type, rec[name]))
    term = w.enc(node, {"slot": w.obj("s1")})
    assert w.solver.check() == z3.sat
    return w.solver.model().eval(term, model_completion=True).as_long()


def in_sql(domain, rec: dict, node):
    db = sqlcheck.Database(domain, {"slot": {rec["id"]: rec}})
    try:
        scope = sqlcheck._Scope({"slot": "r.id"}, {"r.id": ("r", "slot")})
        sql = sqlcheck.Compiler(domain).sql(node, scope)
        return db.rows(f"SELECT {sql} FROM slot AS r")[0][0]
    finally:
        db.close()
