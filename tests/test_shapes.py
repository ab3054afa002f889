"""Task shapes drawn without replacement (plan/shapes.py, generate.Drawer).

What these catch: a permutation that is not a bijection (two indices solve one shape), draws that
hand out a shape twice or skip walks, drawn starting values that the solve ignores, and a run that
solves walks only to drop them as repeats (banking's proposals per task, which was 2.6)."""

import random

from envsynth.generate import Generator, GenerateOptions, WorkItem, generate
from envsynth.plan.shapes import Axis, Permutation, ShapeDraws, ShapeSpace
from envsynth.spec.loader import load_domain
from envsynth.tasks.model import Task


def test_permutation_is_a_bijection_of_its_range():
    for size in (1, 2, 3, 7, 64, 100, 1000):
        p = Permutation(size, f"k{size}")
        assert sorted(p(k) for k in range(size)) == list(range(size))
    assert [Permutation(50, "a")(k) for k in range(50)] != [Permutation(50, "b")(k) for k in range(50)]


def test_draws_hand_out_every_shape_once_then_stop():
    spaces = {0: ShapeSpace([Axis("a", "x", ("p", "q", "r"), True)]),
              1: ShapeSpace([Axis("b", "y", (False, True), True), Axis("b", "z", ("u", "v"), True)]),
              2: ShapeSpace([Axis("c", "w", (), True)])}  # no plan: nothing to draw
    draws = ShapeDraws([[[0], [1]], [[2]]], spaces.__getitem__, "t")
    rng = random.Random(1)
    got = []
    while (d := draws.draw(rng)) is not None and len(got) < 100:
        got.append((d.walk, tuple(sorted(d.values.items()))))
    assert len(got) == len(set(got)) == 3 + 4
    assert draws.exhausted()


def test_a_drawn_shape_is_what_the_task_starts_from():
    domain = load_domain("banking")
    gen = Generator(domain, GenerateOptions(n=5, seed=3))
    drawer = gen.drawer()
    checked = 0
    for i in range(12):
        item = drawer.item(i)
        r = gen.task(item)
        if r.line is None or r.counts["proposed"] != 1 or item.draw is None:
            continue
        task = Task.model_validate_json(r.line)
        for label in item.draw.fixed:
            obj, f = label.split(".")
            ent = gen.walks[item.draw.walk].objects[obj]
            rid = task.certificate.objects[obj]
            assert task.initial_db[ent][rid][f] == item.draw.values[label], label
            checked += 1
    assert checked >= 10


def test_banking_solves_few_walks_it_then_drops(tmp_path):
    generate("banking", tmp_path, GenerateOptions(n=150, seed=2), workers=1)
    import json
    a = json.loads((tmp_path / "manifest.json").read_text())["attempts"]
    assert a["proposals_per_task"] <= 1.1, a
    assert a["same_shape_repeats"] <= 5, a
