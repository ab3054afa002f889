"""Stages 2-3: the tool dependency graph (graph) and walks - plans over abstract records -
found by clingo: the domain-independent program (encoding.lp), a spec as facts (facts), which
descriptions a tool's results resolve (selection), enumeration, sampling and checking (planner);
walks up to renaming and reordering (canonical), merged into multi-intent walks (merge), and
nogoods learned from unsat cores (learning)."""
