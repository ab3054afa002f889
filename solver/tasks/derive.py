"""Stage 6: derive a task from a solved scenario and render what the user says (jinja2).

The instruction states what the user wants and what they know - their name and id, how they
describe each record ("the earliest flight from ORD to ATL on December 18") - never which tools
to call. Phrasings come from `templates/<domain>/phrases.yaml`, chosen by seed. The task record
is self-contained: tools, initial database, gold actions, expected final state and answers, and
the certificate the task's validity rests on.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from typing import Any, Optional


from .. import __version__
from ..spec import types as T
from ..spec.model import Domain
from ..errors import EnvsynthError, ToolError
from .phrases import DEFAULTS, Named, Templates, clock, human_date as _human_date, human_datetime, nest as _nest
from .phrases import money_text
from ..spec import grammar as E
from ..runtime.execute import Ref, Runtime, canonical_json, db_hash, listed_ids, to_text
from ..state.scenario import Scenario


from .model import Answer, Certificate, Change, Difficulty, Expected, Meta, Refusal, Task


# ----------------------------------------------------------------------------- tool schemas


def tool_schemas(domain: Domain) -> list[dict[str, Any]]:
    """OpenAI function-calling schemas (strict mode) for every tool of the domain."""
    out = []
    for tool in domain.tools.values():
        props = {}
        for a in tool.args.values():
            s = T.json_schema(a.type)
            if a.description:
                own = a.description.strip().rstrip(".")
                s = {**s, "description": f"{own} ({s['description']})" if "description" in s else own}
            props[a.name] = s
        out.append({
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description.strip(),
                "parameters": {
                    "type": "object",
                    "properties": props,
                    "required": list(tool.args),
                    "additionalProperties": False,
                },
                "strict": True,
            },
        })
    return out


def policy_text(domain: Domain) -> str:
    """The agent's policy, rendered from the spec so that what the agent reads is what the runtime
    enforces: the domain's own prose, then every requirement of every tool in the words of its
    error message, and the rules every record keeps to."""
    parts = [domain.description.strip()]
    if domain.policy:
        parts.append("Policy:\n" + domain.policy.strip())
    rules = []
    for tool in domain.tools.values():
        if tool.requires:
            first = tool.description.strip().split(". ")[0].rstrip(".")
            reasons = "; ".join(r.error for r in tool.requires)
            rules.append(f"- {tool.name} ({first}) is refused when: {reasons}.")
    if rules:
        parts.append("Rules the system enforces (a call that breaks one is refused and changes nothing; "
                     "explain the reason to the user when a request is refused):\n" + "\n".join(rules))
    kept = [f"{ent.name}: {src}" for ent in domain.entities.values() for _node, src in ent.invariants]
    parts.append("Every record keeps to the ranges of its fields" + (" and to these rules: " + "; ".join(kept)
                                                                     if kept else "")
                 + ". A change that would break one is refused.")
    parts.append(f"Today is {T.human_date(domain.today)}.")
    return "\n\n".join(p for p in parts if p)


# ----------------------------------------------------------------------------- derivation


class _Describer:
    """How the user refers to each record of the walk."""

    def __init__(self, domain: Domain, sc: Scenario, tpl: Templates, rng: random.Random):
        self.d, self.sc, self.tpl, self.rng = domain, sc, tpl, rng
        self.walk = sc.walk
        self.cache: dict[str, str] = {}
        self.rendered: set[str] = set()  # selected records whose description the user gives
        self.told: set[str] = set()  # ... in a request already kept: a later one may refer back
        self.last: dict[str, str] = {}  # entity -> the record of it named last
        self.current: set[str] = set()  # the records the request being phrased has named
        self.selected = {}
        for proof, step in zip(sc.selections, [s for s in sc.walk.steps if s.select]):
            self.selected[step.select.object] = proof
        self.created = {o for s in sc.walk.steps for o in s.creates.values()}

    def __call__(self, obj: str, depth: int = 0) -> Named:
        ent = self.walk.objects[obj]
        if depth == 0:
            self.current.add(obj)
        if obj != self.walk.actor:
            previous, self.last[ent] = self.last.get(ent), obj
            if obj in self.told and previous == obj and self.tpl.options("again", ent):
                # described in full in an earlier request and the last record of its kind named
                # since: said again as people do ("that ticket", not "the most critical new
                # ticket waiting in the database queue" once the user has taken it)
                record = self.sc.initial_db[ent][self.sc.ids[obj]]
                return Named(self.tpl.pick(self.rng, ("again", ent), None, **record))
            if obj in self.told and previous not in (None, obj) and obj in self.cache:
                # another record of its kind was named since: the full description again (it may
                # no longer be true - the ticket was "unassigned" before the user took it), marked
                # as the same record
                return Named(self.cache[obj] + self.tpl.pick(self.rng, ("earlier",), DEFAULTS["earlier"]))
        if obj in self.cache:
            if obj in self.selected:  # a phrasing tried and dropped may have rendered it first
                self.rendered.add(obj)
            return self.cache[obj]
        rid = self.sc.ids[obj]
        if obj == self.walk.actor:
            text = "me"
        elif obj in self.selected:
            p = self.selected[obj]
            text = self.tpl.pick(self.rng, ("refs", ent, p.reference), None, **_nest(p.stated))
            self.rendered.add(obj)
        elif obj in self.walk.given:
            text = self.tpl.pick(self.rng, ("ids", ent), f"{ent} {{{{ id }}}}", id=rid)
        elif obj in self.created:
            text = self.tpl.pick(self.rng, ("created", ent), f"the new {ent}")
        else:
            # through a link people describe records by (not one declared `refer_through: false`,
            # as the planner requires: "the approver of my change" is not how people talk)
            link = next((k for k, v in self.walk.links.items() if v == obj and self._through(k)), None)
            if link is None or depth > 4:
                text = f"{ent} {rid}"
            else:
                parent, field = link.split(".", 1)
                path = ("links", ent, field) if self.tpl.options("links", ent, field) else ("links", ent)
                # a parent this request has named is "it" ("reassign that ticket to whoever
                # opened it"), a phrasing that holds in this request only, so it is not kept
                again = depth == 0 and parent in self.current and parent != self.walk.actor
                said = Named("it") if again else self(parent, depth + 1)
                # the user's own record is "my ...", never "the ... of me"
                default = f"my {field.replace('_', ' ')}" if said.is_me else \
                    f"the {field.replace('_', ' ')} of {{{{ parent }}}}"
                text = self.tpl.pick(self.rng, path, default, parent=said, field=field.replace("_", " "))
                if again:
                    return Named(text)
        named = self.cache[obj] = Named(text, obj == self.walk.actor)
        return named

    def _through(self, key: str) -> bool:
        """May the user describe a record through this link ('object.field')?"""
        parent, field = key.split(".", 1)
        info = self.d.entities[self.walk.objects[parent]].fields.get(field)
        return info is None or info.refer_through


class _Mention:
    """A record as a template variable: described only if the phrasing uses it, so a phrasing
    that leaves the record out ("cancel my pet's appointment") is caught, not credited."""

    def __init__(self, describe: "_Describer", obj: str):
        self.describe, self.obj = describe, obj

    @property
    def is_me(self) -> bool:  # `{% if patient is me %}`: the user themself, without describing anyone
        return self.obj == self.describe.walk.actor

    def __str__(self) -> str:
        return str(self.describe(self.obj))

    def __eq__(self, other: object) -> bool:  # `{% if target == source %}`: one record named twice
        return isinstance(other, _Mention) and other.obj == self.obj

    def __hash__(self) -> int:
        return hash(self.obj)


class _Connectors:
    """The words before each request after the first, drawn like cards: every phrasing once
    before any is said again, and never the same one twice running (an 8-request task does not
    say "One more thing:" five times)."""

    def __init__(self, tpl: Templates, rng: random.Random):
        self.tpl, self.rng = tpl, rng
        self.options = tpl.options("connectors") or [DEFAULTS["connectors"]]
        self.deck: list[str] = []
        self.last: Optional[str] = None

    def next(self) -> str:
        if not self.deck:
            self.deck = list(self.options)
            self.rng.shuffle(self.deck)
            if len(self.deck) > 1 and self.deck[-1] == self.last:  # drawn from the end
                self.deck[0], self.deck[-1] = self.deck[-1], self.deck[0]
        self.last = self.deck.pop()
        return self.tpl.render(self.last)


def _stated_through(describe: "_Describer", obj: str) -> Optional[str]:
    """A value of `obj` that a rendered description states through a link (room.name of a meeting),
    written the way the user says it (a date as "September 19, 2026", not 2026-09-19)."""
    for other, q in describe.selected.items():
        if other not in describe.rendered:
            continue
        for path, v in q.stated.items():
            if describe.walk.links.get(f"{other}.{path.split('.')[0]}") == obj and "." in path:
                t = describe.d.path_type(q.entity, tuple(path.split(".")))
                return spoken(t, v)
    return None


def spoken(t: Optional[T.VType], v: Any) -> str:
    """A stored value as a person says it inside a sentence."""
    kind = t.kind if t is not None else ""
    if kind == "date":
        return _human_date(v)
    if kind == "datetime":
        return human_datetime(v)
    if kind == "time":
        return clock(v)
    if kind == "money":
        return money_text(v)
    if kind == "enum":
        return str(v).replace("_", " ")
    return str(v)


def _sentences(text: str) -> list[str]:
    """The sentences of a request, compared without case ("Also, please ..." repeats "Please ...")."""
    return [x.strip().lower() for x in re.split(r"(?<=[.!?])\s+", text) if x.strip()]


def _pick_request(tpl: Templates, rng: random.Random, tool: str, describe: "_Describer", said: set,
                  ctx: dict) -> str:
    """A phrasing of the request that repeats no sentence the user has already said (two status
    questions both ending "I want its exact status."): the seeded pick, else the first other
    phrasing, in the file's order, that adds only new sentences."""
    options = tpl.options("intents", tool)
    if not options:
        return tpl.pick(rng, ("intents", tool), None, **ctx)  # says that the phrasing is missing
    rendered, last = set(describe.rendered), dict(describe.last)
    choice = rng.choice(options)
    for option in [choice] + [o for o in options if o != choice]:
        # only the kept phrasing's descriptions count as given, and its mentions as the last
        describe.rendered, describe.last, describe.current = set(rendered), dict(last), set()
        text = tpl.render(option, **ctx)
        if not said & set(_sentences(text)):
            return text
    describe.rendered, describe.last, describe.current = set(rendered), dict(last), set()
    return tpl.render(choice, **ctx)


def _unstated(describe: "_Describer", instruction: str) -> str:
    """A selection the instruction does not account for: its description was never rendered, and
    either it ranks (the user never said "the largest") or a stated value is missing from the text."""
    for obj, p in describe.selected.items():
        if obj not in describe.rendered and not _said(p, instruction):
            return f"{p.reference} of {p.entity}"
    return ""


def _said(p, text: str) -> bool:
    """Whether `text` gives a description without rendering it: no ranking, every stated value present."""
    low = text.lower()
    return p.rank is None and all(any(f in low for f in {str(v).lower(), _human_date(v).lower()})
                                  for v in p.stated.values())


def _accept(t: Optional[T.VType], value: str) -> list[str]:
    out = [value]
    if t is not None and t.kind == "money":
        whole, _, cents = value.partition(".")
        out.append(f"{int(whole):,}.{cents}")
        if cents.strip("0") == "":
            out.append(whole)
            out.append(f"{int(whole):,}")
    if t is not None and t.kind == "date":
        human = _human_date(value)
        out += [human, human.rsplit(",", 1)[0]]  # "December 3, 2026", "December 3"
    if t is not None and t.kind == "datetime":
        day, _, hm = value.partition(" ")
        human = _human_date(day)
        out += [f"{day}T{hm}", f"{human} at {hm}", f"{human.rsplit(',', 1)[0]} at {hm}", f"{human}, {hm}",
                f"{hm} on {human.rsplit(',', 1)[0]}"]
    if t is not None and t.kind == "time":
        out += [clock(value)]  # "14:30", "2:30 PM"
    return list(dict.fromkeys(out))


def _refusal_facts(domain: Domain, tool, req, sc: Scenario, k: int) -> list[str]:
    """The values that make the refused requirement fail (a non_refundable fare, a cancelled
    order): saying any of them shows the agent found out why."""
    rt = Runtime(domain, sc.final_db, sc.ids[sc.walk.actor])
    try:
        env = rt.bind_arguments(tool, sc.gold[k].arguments)
        rt.eval_lets(tool, env)
    except ToolError:  # the request cannot even be bound: no values to state
        return []
    out = []
    for n in E.walk(req.expr):
        if isinstance(n, E.Attr) and n.type is not None and n.type.kind in ("enum", "str", "money", "int", "date"):
            root = E.path_of(n)
            if root is None or root[0] not in env:
                continue  # read through a quantifier's variable, bound only inside it
            try:
                v = rt.ev.eval(n, env)
            except ToolError:  # a link the request does not reach
                continue
            if isinstance(v, Ref):
                continue
            text = to_text(n.type, v)
            out += [text, text.replace("_", " "), text.replace("_", "-")]
    common = {"none", "no", "yes", "true", "false", "ok", "new", "open", "other", "n/a", "0", "1"}
    return list(dict.fromkeys(x for x in out if len(x) >= 3 and x.lower() not in common))


def record_changes(domain: Domain, before: dict, after: dict) -> list[Change]:
    out = []
    for ent in domain.entities:
        b, a = before.get(ent, {}), after.get(ent, {})
        for rid in sorted(set(b) | set(a)):
            if rid not in a:
                out.append(Change(entity=ent, id=rid, op="deleted"))
            elif rid not in b:
                out.append(Change(entity=ent, id=rid, op="created", fields=a[rid]))
            elif a[rid] != b[rid]:
                diff = {k: [b[rid].get(k), v] for k, v in a[rid].items() if b[rid].get(k) != v}
                out.append(Change(entity=ent, id=rid, op="updated", fields=diff))
    return out


def _lower_first(text: str) -> str:
    return text if re.match(r"I\b", text) else text[:1].lower() + text[1:]


def _conditionals(domain: Domain, walk, tpl: Templates, rng: random.Random, requests: list[str],
                  sc: Scenario) -> list[str]:
    """Each conditional request and its fallback said as one request ("Please book me on HA1234. If
    it has no economy seats left, book the earliest flight that day instead."), from the refused
    rule's `conditions.<when>` phrasings; the other requests as they are."""
    goals = walk.goal_steps(domain)
    out: list[str] = []
    i = 0
    while i < len(goals):
        step = walk.steps[goals[i]]
        if step.conditional and i + 1 < len(goals):
            tool = domain.tools[step.tool]
            req = tool.requires[step.refuse - 1]
            args = {a: v for a, v in sc.gold[goals[i]].arguments.items() if not tool.args[a].is_ref}
            out.append(tpl.pick(rng, ("conditions", req.fallback_when), None, request=requests[i],
                                fallback=_lower_first(requests[i + 1]), args=args))
            i += 2
        else:
            out.append(requests[i])
            i += 1
    return out


def derive_task(domain: Domain, sc: Scenario, tpl: Templates, index: int, schemas: Optional[list] = None) -> Task:
    """Render the instruction and assemble the self-contained task record."""
    rng = random.Random(f"render/{sc.seed}")
    walk = sc.walk
    describe = _Describer(domain, sc, tpl, rng)
    actor_rec = sc.initial_db[domain.actor][sc.ids[walk.actor]]
    me_known = walk.actor in walk.given
    sentences, requests, answers, refusals = [], [], [], []
    said: set[str] = set()  # the requests' sentences so far, so that none is said twice
    facts: dict[str, Any] = {}
    if me_known:
        facts[f"{domain.actor}_id"] = actor_rec["id"]
    for obj in walk.given:
        if obj != walk.actor:
            facts[f"{walk.objects[obj]} id"] = sc.ids[obj]
    for obj, proof in describe.selected.items():
        facts[f"{walk.objects[obj]} ({proof.reference})"] = proof.stated
    for k in walk.goal_steps(domain):
        step = walk.steps[k]
        tool = domain.tools[step.tool]
        ctx: dict[str, Any] = {"args": {a: v for a, v in sc.gold[k].arguments.items()
                                        if not tool.args[a].is_ref}}
        for var, obj in step.binds.items():
            if obj in step.creates.values():
                continue
            ctx[var] = _Mention(describe, obj)
        ctx["me"] = actor_rec
        text = _pick_request(tpl, rng, tool.name, describe, said, ctx)
        said.update(_sentences(text))
        describe.told |= describe.rendered
        requests.append(text)
        if ctx["args"]:
            facts.setdefault("choices", {}).update(ctx["args"])
        if step.ask:
            value = sc.answers[k]
            answers.append(Answer(step=k + 1, question=text, value=value, accept=_accept(tool.answer_type, value)))
        if step.refuse is not None:
            req = tool.requires[step.refuse - 1]
            reasons = _refusal_facts(domain, tool, req, sc, k)
            answers.append(Answer(step=k + 1, question=text, value=req.error,
                                  accept=list(dict.fromkeys([req.error] + reasons))))
            refusals.append(Refusal(step=k + 1, tool=tool.name, arguments=sc.gold[k].arguments,
                                    requirement=req.src, error=req.error))
    intro = tpl.pick(rng, ("intro",), DEFAULTS["intro"], me=actor_rec, me_known=me_known)
    if walk.actor in describe.selected:
        # the agent finds the user by a description (email, name and zip): the user must give it,
        # unless the intro already does
        p = describe.selected[walk.actor]
        if not all(str(v).lower() in intro.lower() for v in p.stated.values()):
            phrase = tpl.pick(rng, ("refs", domain.actor, p.reference), None, **_nest(p.stated))
            intro += " " + tpl.pick(rng, ("identify", p.reference), DEFAULTS["identify"],
                                    phrase=phrase, **_nest(p.stated))
        describe.rendered.add(walk.actor)
    requests = _conditionals(domain, walk, tpl, rng, requests, sc)
    connectors = _Connectors(tpl, rng)
    for i, r in enumerate(requests):
        if i == 0:
            sentences.append(r)
        else:
            conn = connectors.next()
            keep = re.match(r"I\b", r) is not None
            sentences.append(conn + (r if keep else r[0].lower() + r[1:]))
    # a record the plan picks by its own description, whose value another description already
    # gives ("my next meeting in Orion", with Orion found as the largest room on floor 3): the user
    # says which it is, so the text accounts for every selection
    for obj, p in describe.selected.items():
        if obj in describe.rendered or _said(p, " ".join([intro] + sentences)):
            continue
        value = _stated_through(describe, obj)
        if value is not None:
            ent = walk.objects[obj]
            phrase = tpl.pick(rng, ("refs", ent, p.reference), None, **_nest(p.stated))
            sentences.append(tpl.pick(rng, ("clarify", ent), DEFAULTS["clarify"], value=value, phrase=phrase))
            describe.rendered.add(obj)
    # every record the user names by id must be named in the text, even when no request mentions
    # it (the plan looks it up on the way: "my pet number is P9587")
    stated_ids = []
    used: dict[str, list[str]] = {}  # entity -> the given_ids phrasings already said
    for obj in walk.given:
        rid = sc.ids[obj]
        if obj != walk.actor and not any(rid in x for x in [intro] + sentences):
            ent = walk.objects[obj]
            name = ent.replace('_', ' ')
            if ent not in used:
                options = tpl.options("given_ids", ent) or [f"My {name} number is {{{{ id }}}}."]
                choice = rng.choice(options)
            else:  # a second order: another phrasing, never "My order number is ..." twice
                options = [o for o in tpl.options("given_ids", ent) if o not in used[ent]]
                choice = rng.choice(options) if options else f"I also have {name} {{{{ id }}}}."
            used.setdefault(ent, []).append(choice)
            stated_ids.append(tpl.render(choice, id=rid))
    if walk.actor in walk.given and actor_rec["id"] not in intro:
        stated_ids.insert(0, tpl.pick(rng, ("given_ids", domain.actor), DEFAULTS["given_ids (the user)"], id=actor_rec["id"]))
    closing = tpl.pick(rng, ("closing",), DEFAULTS["closing"])
    instruction = " ".join([intro] + stated_ids + sentences) + closing
    unstated = _unstated(describe, instruction)
    if unstated:
        raise EnvsynthError(f"the plan picks a record by a description the user never gives ({unstated})")
    low = instruction.lower()
    for a in answers:
        if any(r.step == a.step for r in refusals):
            # a fact the user already said proves nothing: only the reason, or facts looked up
            a.accept = [x for x in a.accept if x == a.value or x.lower() not in low]

    persona_fields = [f for f, info in domain.entities[domain.actor].fields.items()
                      if info.type.kind == "str" and info.type.values]
    user = {
        "persona": {f: actor_rec[f] for f in persona_fields},
        "facts": facts,
        "requests": requests,
    }
    expected = Expected(
        final_state_hash=db_hash(sc.final_db),
        changes=record_changes(domain, sc.initial_db, sc.final_db),
        answers=answers,
        refusals=refusals,
    )
    gold_actions = [g for k, g in enumerate(sc.gold) if walk.steps[k].refuse is None]
    cert = Certificate(
        actor=sc.ids[walk.actor],
        walk=walk,
        objects=sc.ids,
        solve=sc.solve,
        selections=sc.selections,
        distractors=sc.distractors,
        replay=sc.replay,
    )
    diff = Difficulty(
        length=len(gold_actions),
        distinct_tools=len({g.name for g in gold_actions}),
        goals=len(walk.goal_steps(domain)),
        references=len(sc.selections),
        candidates=max([len(listed_ids(sc.outputs[p.step - 1])) or 1 for p in sc.selections], default=0),
        distractors=dict(sorted(Counter(d.kind for d in sc.distractors).items())),
        visible_distractors=sum(1 for d in sc.distractors if d.before_target),
    )
    meta = Meta(spec_hash=domain.spec_hash, seed=sc.seed, index=index, version=__version__,
                walk=" > ".join(walk.tool_sequence()))
    fixed = domain_text(domain)
    body = dict(
        domain=domain.name,
        instruction=instruction,
        policy=fixed.policy,
        user=user,
        tools=schemas if schemas is not None else fixed.tools,
        initial_db=sc.initial_db,
        gold_actions=gold_actions,
        expected=expected,
        certificate=cert,
        difficulty=diff,
        meta=meta,
    )
    provisional = Task(id="", **body)
    content = task_json(domain, provisional, exclude={"id", "meta"})
    task_id = hashlib.sha256(content.encode()).hexdigest()[:16]
    return provisional.model_copy(update={"id": f"{domain.name}-{task_id}"})


class DomainText:
    """What every task of a domain repeats word for word - the policy and the tool schemas - with
    their canonical JSON, made once: at 400 tools they are 280 KB of each task's line, and
    serialising them again per task cost more than solving it."""

    FIELDS = ("policy", "tools")

    def __init__(self, domain: Domain):
        self.policy = policy_text(domain)
        self.tools = tool_schemas(domain)
        self.json = {"policy": canonical_json(self.policy), "tools": canonical_json(self.tools)}


def domain_text(domain: Domain) -> DomainText:
    """The domain's DomainText (kept on the domain, which is not changed once loaded)."""
    cached = domain.__dict__.get("_domain_text")
    if cached is None:
        cached = domain.__dict__["_domain_text"] = DomainText(domain)
    return cached


def task_json(domain: Domain, task: Task, exclude: frozenset = frozenset()) -> str:
    """`canonical_json(task.model_dump(mode="json", exclude=exclude))`, with the policy and tools
    spliced in from `domain_text` when the task's are the domain's own (a sorted-key object is its
    sorted keys' members joined, so the text is the same byte for byte)."""
    fixed = domain_text(domain)
    spliced = {k for k in DomainText.FIELDS
               if k not in exclude and getattr(task, k) == getattr(fixed, k)}
    body = task.model_dump(mode="json", exclude=set(exclude) | spliced)
    members = {k: canonical_json(v) for k, v in body.items()}
    members.update({k: fixed.json[k] for k in spliced})
    return "{" + ",".join(f"{canonical_json(k)}:{members[k]}" for k in sorted(members)) + "}"
