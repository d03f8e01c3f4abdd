"""Submit an admin change form as the browser would: the values it shows, with some changed."""

from django.forms.models import BaseModelFormSet


def _value(bound):
    value = bound.value()
    if value is None or value is False:
        return None
    if value is True:
        return "on"
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value)


def _add(data: dict, form) -> None:
    for name in form.fields:
        value = _value(form[name])
        if value is not None:
            data[form.add_prefix(name)] = value


def change_form_data(client, url: str, **changes) -> dict:
    """The POST data of the admin change form at `url`, as loaded, updated with `changes` (names as
    posted, inline fields with their prefix: "identifiers-0-full_name")."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    data: dict = {}
    _add(data, response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset: BaseModelFormSet = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = str(management[name].value())
        for form in formset.forms:
            _add(data, form)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}
