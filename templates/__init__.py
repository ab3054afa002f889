"""Shipped task templates, one folder per domain (installed as envsynth.templates)."""
