"""The realism defects issue 11 names, counted on datasets by plain reading of their JSON (no
envsynth code: a second pair of eyes on what the generator writes).

    python benchmarks/realism_audit.py DIR [DIR ...]

Each dataset's domain is read from its tasks; defects are counted per task (a task counts once
per kind):

- banking: several open disputes on one transfer; a dispute opened more than 60 days after its
  transfer, or in the future;
- retail: a returned or exchanged item in an order that is not delivered; an item priced unlike
  its variant; a size that does not fit the product; a product in the wrong category;
- airline: a reservation whose paid amount is not its cabin's fare (+ the refundable surcharge);
  an upgrade to business that refunds; a gold call that adds bags or changes the cabin of a reservation on a cancelled
  flight; a flight picked as "cheapest" without saying which cabin's fare (the request must name
  it: "the lowest economy fare", or the business one);
- calendar: two scheduled meetings overlapping in one room; hr: overlapping pending/approved
  leave of one employee.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path


def _day(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def banking(t: dict, today: int) -> set[str]:
    out = set()
    db = t["initial_db"]
    open_by_transfer = Counter(d["transfer"] for d in db["dispute"].values() if d["status"] == "open")
    if any(n > 1 for n in open_by_transfer.values()):
        out.add("several open disputes on one transfer")
    for d in db["dispute"].values():
        tr = db["transfer"].get(d["transfer"])
        if tr and _day(d["opened"]) - _day(tr["date"]) > 60:
            out.add("dispute opened > 60 days after its transfer")
        if _day(d["opened"]) > today:
            out.add("dispute opened in the future")
    return out


APPAREL = {"t-shirt", "hoodie", "running shoes", "rain jacket", "wool scarf"}


def retail(t: dict, today: int) -> set[str]:
    db = t["initial_db"]
    out = set()
    for it in db["order_item"].values():
        if it["status"] != "ordered" and db["order"][it["order"]]["status"] != "delivered":
            out.add("returned/exchanged item in an order not delivered")
        if abs(it["price"] - db["variant"][it["variant"]]["price"]) > 0.001:
            out.add("an item's price is not its variant's")
    for v in db["variant"].values():
        name = db["product"][v["product"]]["name"]
        if (name in APPAREL) != (v["size"] in ("S", "M", "L", "XL")):
            out.add("a size that does not fit the product (headphones in size L)")
    for pr in db["product"].values():
        if (pr["name"] in APPAREL) != (pr["category"] == "apparel"):
            out.add("a product in the wrong category")
    return out


def airline(t: dict, today: int) -> set[str]:
    out = set()
    db = t["initial_db"]
    for r in db["reservation"].values():
        f = db["flight"][r["flight"]]
        fare = (f["business_price"] if r["cabin"] == "business" else f["economy_price"]) + \
            (40 if r["fare"] == "refundable" else 0)
        if abs(r["paid"] - fare) > 0.001:
            out.add("a reservation's paid amount is not its fare")
    for a in t["gold_actions"]:
        r = db["reservation"].get(a["arguments"].get("reservation_id"))  # (None: booked by the task)
        if a["name"] == "change_cabin" and a["arguments"]["cabin"] == "business" and r is not None:
            f = db["flight"][r["flight"]]
            if f["business_price"] + (40 if r["fare"] == "refundable" else 0) < r["paid"]:
                out.add("an upgrade to business refunds the user")
    flight_of = {rid: r["flight"] for rid, r in db["reservation"].items()}
    for a in t["gold_actions"]:
        rid = a["arguments"].get("reservation_id")
        if a["name"] == "change_flight":  # the reservation moves before later calls
            flight_of[rid] = a["arguments"]["flight_id"]
        if a["name"] in ("add_baggage", "change_cabin") and rid in flight_of:
            if db["flight"][flight_of[rid]]["status"] == "cancelled":
                out.add(f"{a['name']} on a cancelled flight")
    for s in t["certificate"]["selections"]:
        if s["reference"].startswith("cheapest") and not any(
                w in t["instruction"] for w in ("economy fare", "business fare")):
            out.add("'cheapest' flight without the cabin whose fare it ranks by")
    return out


def _overlap(groups: dict) -> bool:
    """Do any two (start, end) spans of one group overlap?"""
    for spans in groups.values():
        spans.sort()
        if any(b[0] < a[1] for a, b in zip(spans, spans[1:])):
            return True
    return False


def calendar(t: dict, today: int) -> set[str]:
    rooms = defaultdict(list)
    for m in t["initial_db"]["meeting"].values():
        if m["status"] == "scheduled":
            start = _day(m["date"]) * 1440 + m["hour"] * 60
            rooms[m["room"]].append((start, start + m["duration"]))
    return {"two scheduled meetings overlap in one room"} if _overlap(rooms) else set()


def hr(t: dict, today: int) -> set[str]:
    by_emp = defaultdict(list)
    for r in t["initial_db"]["leave_request"].values():
        if r["status"] in ("pending", "approved"):
            s = _day(r["start"])
            by_emp[r["employee"]].append((s, s + r["days"]))
    return {"overlapping pending/approved leave of one employee"} if _overlap(by_emp) else set()


AUDITS = {"banking": banking, "retail": retail, "airline": airline, "calendar": calendar, "hr": hr}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    args = ap.parse_args()
    for d in args.dirs:
        counts: Counter = Counter()
        n = 0
        today = None
        with open(d / "tasks.jsonl", encoding="utf-8") as f:
            for line in f:
                t = json.loads(line)
                n += 1
                audit = AUDITS.get(t["domain"])
                if audit is None:
                    continue
                if today is None:
                    import yaml
                    today = _day(str(yaml.safe_load(open(d / "spec.yaml", encoding="utf-8"))["today"]))
                for kind in audit(t, today):
                    counts[kind] += 1
        print(f"{d}: {n} tasks" + ("".join(f"\n  {v:5} tasks  {k}" for k, v in counts.most_common()) or ", none"))


if __name__ == "__main__":
    main()
