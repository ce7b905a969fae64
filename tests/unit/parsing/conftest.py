"""The parsing tests' shared, expensive inputs."""

from __future__ import annotations

import pytest

from tests.unit.parsing.office import write_office_folder


@pytest.fixture(scope="session")
def office_folder(tmp_path_factory):
    """One file of every type LibreOffice or pandoc reads, and broken ones, written once per session."""
    return write_office_folder(tmp_path_factory.mktemp("office"))
