"""A walk's encoding makes variables only for the fields its constraints read (state/world.py,
lazy worlds); the rest are free and sampled. What these tests can catch:

- the lazy encoding is not the eager one minus unread variables: a constraint lost, added,
  reworded or reordered (say a change a step makes goes unseen because the field was first read
  during that step, or a range re-check is skipped for a field that was changed);
- a field some constraint reads is left free (its database value would be sampled, not solved);
- the task serializer's spliced policy and tools text differs from a plain dump, or is spliced
  into a task whose tools are not the domain's.
"""

import random
import sys
from pathlib import Path

import pytest
import z3

from envsynth.plan.planner import enumerate_walks
from envsynth.runtime.execute import canonical_json
from envsynth.spec.loader import load_domain
from envsynth.state import distractors as D
from envsynth.state.constraints import build_plan
from envsynth.state.synth import SynthOptions, synthesize
from envsynth.state.world import Symbols
from envsynth.tasks.derive import derive_task, task_json
from envsynth.tasks.phrases import Templates

sys.path.insert(0, str(Path(__file__).parent))
from test_compose import compose  # noqa: E402  (benchmarks/compose.py, loaded once)


def _consts(term, out: set) -> None:
    stack, seen = [term], set()
    while stack:
        t = stack.pop()
        if t.get_id() in seen:
            continue
        seen.add(t.get_id())
        if z3.is_const(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.add(t.decl().name())
        stack.extend(t.children())


def _compare(domain, walks, seed=0):
    """Per walk: the lazy plan has the eager plan's tracked constraints in the same order, words
    and terms, and its free fields are exactly the eager variables no tracked constraint reads."""
    freed = 0
    for i, walk in enumerate(walks):
        planned = D.plan(domain, walk, random.Random(seed + i), SynthOptions().distractors)
        eager = build_plan(domain, walk, Symbols(domain), planned, lazy=False)
        lazy = build_plan(domain, walk, Symbols(domain), planned)
        assert [(t.label, t.kind, t.step) for t in eager.world.tracked] == \
            [(t.label, t.kind, t.step) for t in lazy.world.tracked], walk.describe()
        tracked = [[a.sexpr() for a in p.world.solver.assertions() if z3.is_implies(a)] for p in (eager, lazy)]
        assert tracked[0] == tracked[1], walk.describe()  # the same conditions, term for term
        read: set = set()
        for a in eager.world.solver.assertions():
            if z3.is_implies(a):  # a tracked constraint: literal => condition
                _consts(a.arg(1), read)
        for r in eager.requirements:
            if isinstance(r[2], z3.ExprRef):
                _consts(r[2], read)
        free = {f.label for f in lazy.free.values()}
        assert not free & read, f"{walk.describe()}: free fields a constraint reads: {sorted(free & read)}"
        assert set(lazy.world.vars) | free == set(eager.world.vars), walk.describe()
        assert not set(lazy.world.vars) & free
        freed += len(free)
    return freed


@pytest.mark.parametrize("name", ["airline", "hr", "itsm", "banking", "retail", "calendar"])
def test_the_lazy_encoding_is_the_eager_one_without_unread_fields(name):
    d = load_domain(name)
    walks = list(enumerate_walks(d, max_len=3))[:60]
    assert walks
    _compare(d, walks)


@pytest.fixture(scope="module")
def composed(tmp_path_factory):
    return load_domain(compose.write(50, tmp_path_factory.mktemp("c50")))


def test_a_composed_specs_shared_actor_leaves_most_fields_free(composed):
    """The shared actor carries every module's fields; a walk of one module reads few of them."""
    from envsynth.generate import GenerateOptions, Generator

    gen = Generator(composed, GenerateOptions(seed=1, max_len=2), workers=1)
    walks = gen.walks[::max(1, len(gen.walks) // 25)][:25]
    freed = _compare(composed, walks)
    person = len(composed.entities["person"].fields)
    assert freed >= len(walks) * person // 2, (freed, len(walks), person)


def test_free_fields_are_written_with_values_of_their_type(composed):
    """Tasks solved with free fields still verify, and every free field's value is in its type."""
    from envsynth.generate import GenerateOptions, Generator
    from envsynth.spec import types as T
    from envsynth.verify import check_task

    gen = Generator(composed, GenerateOptions(seed=2, max_len=2), workers=1)
    written = 0
    for k, walk in enumerate(gen.walks[:40]):
        try:
            sc = synthesize(composed, walk, 100 + k)
        except Exception:  # an infeasible draw: not what this test is about
            continue
        person = sc.initial_db["person"][sc.ids[walk.actor]]
        for fname, f in composed.entities["person"].fields.items():
            if f.type.kind in ("int", "money") and person[fname] is not None:
                v = T.decode(f.type, person[fname])
                assert (f.type.lo is None or v >= f.type.lo) and (f.type.hi is None or v <= f.type.hi), fname
            if f.type.kind == "enum":
                assert person[fname] in f.type.values, (fname, person[fname])
        task = derive_task(composed, sc, Templates(composed), k)
        assert check_task(composed, task).ok
        written += 1
    assert written >= 20


@pytest.mark.parametrize("name", ["airline", "itsm"])
def test_task_json_is_the_plain_canonical_dump(name):
    d = load_domain(name)
    tpl = Templates(d)
    for k, walk in enumerate(list(enumerate_walks(d, max_len=2))[:8]):
        task = derive_task(d, synthesize(d, walk, k), tpl, k)
        assert task_json(d, task) == canonical_json(task.model_dump(mode="json"))
        assert task_json(d, task, exclude={"id", "meta"}) == \
            canonical_json(task.model_dump(mode="json", exclude={"id", "meta"}))
        # a task whose tools are not the domain's own is dumped as it is, not spliced
        other = task.model_copy(update={"tools": task.tools[:-1], "policy": task.policy + " Be brief."})
        assert task_json(d, other) == canonical_json(other.model_dump(mode="json"))
