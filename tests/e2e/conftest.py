"""Browser tests: the browser fixtures live in tests/browser.py, shared with tests/integration."""

import pytest


@pytest.fixture(autouse=True)
def _photos_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
