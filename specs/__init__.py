"""Shipped domain specs (installed as envsynth.specs so `envsynth generate airline` finds them)."""
