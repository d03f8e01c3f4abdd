"""`manage.py shell` imports every model: none missing, and no two under the same name."""

from collections import Counter

from django.apps import apps
from django.core.management.commands.shell import Command
from django.utils.module_loading import import_string


def test_the_shell_imports_every_model_by_a_name_of_its_own():
    paths = Command().get_auto_imports()
    imported = [import_string(path) for path in paths]  # raises for a model named after a module without it

    assert set(imported) == set(apps.get_models())
    clashes = [name for name, n in Counter(path.rsplit(".", 1)[1] for path in paths).items() if n > 1]
    assert clashes == []
