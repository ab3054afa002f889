"""Stages 2-3: the tool graph and walks - plans over abstract records, found by clingo."""
