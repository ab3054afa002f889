"""The per-walk encoding cache (state/cache.py): a task's result never depends on whether its
walk's encoding was built for it or for an earlier task."""

import json
import random

from envsynth.generate import GenerateOptions, Generator
from envsynth.state import cache as C
from envsynth.state.synth import Infeasible, synthesize


def _scenarios(domain, gen, cache, pairs):
    out = []
    for walk, seed in pairs:
        try:
            sc = synthesize(domain, walk, seed, gen.synth_options, cache=cache)
        except Infeasible as e:
            out.append(("infeasible", e.reason, tuple(e.core)))
            continue
        out.append(json.dumps(sc.model_dump(mode="json"), sort_keys=True))
    return out


def _pairs(gen, n=60):
    """Several tasks per walk, interleaved, including walks that share a tool sequence."""
    rng = random.Random(5)
    walks = gen.walks[::4]  # a dozen walks, so most repeat
    return [(walks[rng.randrange(len(walks))], rng.randrange(2**31)) for _ in range(n)]


def differences(domain, gen, pairs) -> int:
    """How many (walk, seed) results differ between a shared cache (hits) and no reuse at all
    (every encoding built for its own task)."""
    shared = C.PlanCache(domain)
    cold = [_scenarios(domain, gen, C.PlanCache(domain), [p])[0] for p in pairs]
    warm = _scenarios(domain, gen, shared, pairs)
    assert shared.hits > len(pairs) // 3, (shared.hits, shared.misses)  # the cache is really used
    return sum(a != b for a, b in zip(cold, warm))


def test_a_cached_encoding_gives_the_same_task_as_a_fresh_one(airline):
    gen = Generator(airline, GenerateOptions(n=10, seed=1))
    assert differences(airline, gen, _pairs(gen)) == 0


def test_a_key_missing_part_of_the_walk_is_caught(airline, monkeypatch):
    """The planted bug: encodings keyed by tool sequence alone (not the bindings, links or near
    misses) reuse another walk's constraints - the comparison above must see it."""
    gen = Generator(airline, GenerateOptions(n=10, seed=1))
    pairs = _pairs(gen)
    monkeypatch.setattr(C, "encoding_key",
                        lambda walk, planned, symbols: tuple(s.tool for s in walk.steps))
    assert differences(airline, gen, pairs) > 0


def test_the_cache_is_bounded(airline):
    gen = Generator(airline, GenerateOptions(n=10, seed=1))
    cache = C.PlanCache(airline, limit=3)
    _scenarios(airline, gen, cache, _pairs(gen, 12))
    assert len(cache.entries) <= 3
