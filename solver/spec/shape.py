"""The spec file format: pydantic models of what a domain author writes in YAML.

These models only check the *shape* (keys, scalar types). Meaning - names, expression types,
references between tools and entities - is checked by `domain.build_domain`, which turns a
`Spec` into the typed `Domain` every later stage uses. `Spec.model_json_schema()` is the JSON
Schema editors can validate against (`envsynth schema`).
"""

from __future__ import annotations

import builtins
from typing import Any, Dict, List, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

Scalar = Union[bool, int, float, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


FieldKind = Literal["int", "money", "str", "enum", "bool", "date", "datetime", "time", "ref"]


class FieldSpec(_Model):
    """A typed field of an entity, or the type of a scalar tool argument."""

    type: FieldKind = Field(description="int, money, str, enum, bool, date, datetime, time or ref")
    description: Optional[str] = None
    values: Optional[List[str]] = Field(None, description="enum: the allowed values")
    pool: Optional[str] = Field(None, description="str: name of a value pool to draw from")
    format: Optional[str] = Field(
        None, description="str: generated text, e.g. '{first_name}.{last_name}{n}@example.com'"
    )
    unique: bool = Field(False, description="no two records share this value (e.g. email)")
    entity: Optional[str] = Field(None, description="ref: the entity referred to")
    places: Optional[int] = Field(None, description="money: decimal places (default 2)")
    min: Optional[Scalar] = None
    max: Optional[Scalar] = None
    typical: Optional[List[Scalar]] = Field(
        None, description="[low, high]: where realistic values usually fall (generation hint)"
    )
    default: Optional[Scalar] = Field(None, description="value of the field when a create effect omits it")
    vary: bool = Field(True, description="distractors may differ from the target in this field")
    nullable: bool = Field(False, description="ref: the link may be empty (`null`): an incident with no assignee yet")
    refer_through: bool = Field(
        True, description="ref: a user may describe the linked record through this link ('the caller of INC123')")


class ArgSpec(_Model):
    """A tool argument: either `{ref: entity}` (an id, binding a record variable) or a typed value."""

    ref: Optional[str] = Field(None, description="the argument is the id of a record of this entity")
    as_: Optional[str] = Field(None, alias="as", description="name of the bound record variable")
    like: Optional[str] = Field(None, description="same type as this field, e.g. 'flight.origin'")
    type: Optional[FieldKind] = None
    description: Optional[str] = None
    values: Optional[List[str]] = None
    pool: Optional[str] = None
    places: Optional[int] = None
    min: Optional[Scalar] = None
    max: Optional[Scalar] = None
    typical: Optional[List[Scalar]] = None


class IdSpec(_Model):
    prefix: str = ""
    length: int = Field(6, ge=2, le=24)
    alphabet: Literal["digits", "upper", "lower", "alnum", "hex"] = "digits"


class RankSpec(_Model):
    by: str = Field(description="field path to order candidates by")
    order: Literal["asc", "desc"] = "asc"


class ReferenceSpec(_Model):
    """How a user can describe one record of an entity."""

    id: bool = Field(False, description="the user knows the record's id")
    filter: List[str] = Field(default_factory=builtins.list, description="field paths whose values the user states")
    where: Optional[str] = Field(None, description="a fixed condition the record satisfies (e.g. still open)")
    scope: Optional[str] = Field(None, description="path from the record to the acting user ('my ...')")
    rank: Optional[RankSpec] = Field(None, description="pick the first record in this order (cheapest, latest)")
    description: Optional[str] = None


class EntitySpec(_Model):
    description: Optional[str] = None
    id: IdSpec = Field(default_factory=IdSpec)
    fields: Dict[str, FieldSpec]
    invariants: List[str] = Field(default_factory=builtins.list)
    refer: Dict[str, ReferenceSpec] = Field(default_factory=builtins.dict)
    label: Optional[List[str]] = Field(
        None, description="fields people call a record by (default: text fields with 'name' in their name)")
    count: int = Field(10, ge=0, description="background records of this entity in each task's database")
    slots: Optional[int] = Field(
        None, ge=1, le=6, description="records of this entity one plan may involve (default 2; the actor's: 1)")


class FallbackSpec(_Model):
    """What a user may ask instead when this rule refuses their request ("book HA123; if it is
    full, the earliest flight that day instead"): a conditional workflow."""

    when: str = Field(description="the condition's name: its phrasings are conditions.<when> in phrases.yaml")
    then: Optional[List[str]] = Field(
        None, description="the goal tools the fallback may call (default: the refused tool itself)")


class RequireSpec(_Model):
    check: str
    error: Optional[str] = None
    fallback: Optional[FallbackSpec] = None

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, v: Any) -> Any:
        return {"check": v} if isinstance(v, str) else v


class EffectSpec(_Model):
    """One effect: a string statement (`x.f -= 1 when cond`), `{create: E, as: v, values: {...}}`
    or `{delete: var}`."""

    set: Optional[str] = None
    create: Optional[str] = None
    as_: Optional[str] = Field(None, alias="as")
    values: Optional[Dict[str, Scalar]] = None
    delete: Optional[str] = None

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, v: Any) -> Any:
        return {"set": v} if isinstance(v, str) else v


class ListSpec(_Model):
    list: str = Field(description="entity listed")
    where: Optional[str] = None
    as_: Optional[str] = Field(None, alias="as")
    expand: List[str] = Field(default_factory=builtins.list)


class ReturnsSpec(_Model):
    record: Optional[str] = Field(None, description="a bound record variable to return")
    list: Optional[str] = Field(None, description="entity: return every record matching `where`")
    find: Optional[str] = Field(None, description="entity: return the one record matching `where`")
    value: Optional[str] = Field(None, description="an expression to return")
    where: Optional[str] = None
    as_: Optional[str] = Field(None, alias="as")
    expand: List[str] = Field(default_factory=builtins.list, description="ref fields to embed as records")
    include: Dict[str, ListSpec] = Field(default_factory=builtins.dict, description="related lists to embed")


class ToolSpec(_Model):
    kind: Literal["read", "write"]
    description: str
    args: Dict[str, ArgSpec] = Field(default_factory=builtins.dict)
    let: Dict[str, Union[str, int, float]] = Field(default_factory=builtins.dict)
    requires: List[RequireSpec] = Field(default_factory=builtins.list)
    effects: List[EffectSpec] = Field(default_factory=builtins.list)
    returns: Optional[ReturnsSpec] = None
    answer: Optional[str] = Field(None, description="read tools: what a user may ask to be told")


class Spec(_Model):
    """A domain: value pools, entities, and the tools an agent may call."""

    domain: str
    title: Optional[str] = None
    description: Optional[str] = None
    version: int = 1
    today: str = Field(description="the date tasks take place on (YYYY-MM-DD)")
    now: Optional[str] = Field(None, description="the moment tasks take place (YYYY-MM-DDTHH:MM; default: today 00:00)")
    actor: str = Field(description="the entity whose records are the users talking to the agent")
    policy: Optional[str] = Field(None, description="extra policy text for the agent")
    pools: Dict[str, List[str]] = Field(default_factory=builtins.dict)
    entities: Dict[str, EntitySpec]
    tools: Dict[str, ToolSpec]
