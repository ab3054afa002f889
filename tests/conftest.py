"""Shared fixtures: shipped domains and small generated datasets, built once per session."""

from __future__ import annotations

import pytest

from envsynth.generate import generate_tasks
from envsynth.spec.loader import load_domain

DOMAINS = ["airline", "retail"]


@pytest.fixture(scope="session")
def airline():
    return load_domain("airline")


@pytest.fixture(scope="session")
def retail():
    return load_domain("retail")


@pytest.fixture(scope="session", params=DOMAINS)
def domain(request):
    return load_domain(request.param)


@pytest.fixture(scope="session")
def airline_tasks(airline):
    return generate_tasks(airline, n=30, seed=7)


@pytest.fixture(scope="session")
def retail_tasks(retail):
    return generate_tasks(retail, n=30, seed=7)
