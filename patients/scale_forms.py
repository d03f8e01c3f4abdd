"""The coordinator's form for one scale at a visit, built from the scale's definition
(`patients.grading`): one field per item, its wording as the label, choices as radio buttons with
their points, eFACE sliders as numbers within their bounds. The ranges are checked once, by
`grading.validate`, whose message names the item; the scores are computed by the model on save."""

from django import forms

from .forms import TrialForm, reason_field
from .grading import SCALES, Item, Scale, validate
from .grading import eface as eface_scale


class PointsRadioSelect(forms.RadioSelect):
    """Radio buttons that carry each answer's points, for the live subscores."""

    def __init__(self, *, points: dict[str, int], attrs=None):
        super().__init__(attrs)
        self.points = points

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["attrs"]["data-points"] = self.points.get(str(value), "")
        return option


def _data_attrs(scale: Scale, item: Item) -> dict[str, str]:
    attrs = {"data-item": item.code, "data-domain": item.domain}
    if scale.code == eface_scale.EFACE.code and item.domain == eface_scale.STATIC:
        attrs["data-fold"] = f"{eface_scale.BALANCED:g}"  # scored 100 − |value − 100|
    return attrs


def _choice_field(scale: Scale, item: Item) -> forms.Field:
    codes = {str(c.code): c.code for c in item.choices}
    return forms.TypedChoiceField(
        label=item.wording,
        choices=[(c.code, f"{c.label} ({c.points})") for c in item.choices],
        # The posted text back to the code's own type (3, not "3"): validate() matches type too.
        coerce=lambda text: codes.get(text, text),
        empty_value=None,
        required=False,
        widget=PointsRadioSelect(points={str(c.code): c.points for c in item.choices}, attrs=_data_attrs(scale, item)),
        error_messages={"invalid_choice": f"{item.wording}: %(value)s is not one of the allowed answers."},
    )


def _slider_field(scale: Scale, item: Item) -> forms.Field:
    assert item.minimum is not None and item.maximum is not None
    return forms.FloatField(
        label=item.wording,
        required=False,
        help_text=f"{item.minimum:g} to {item.maximum:g}: {item.anchors}" if item.anchors else "",
        widget=forms.NumberInput(
            attrs={"min": f"{item.minimum:g}", "max": f"{item.maximum:g}", "step": "any", **_data_attrs(scale, item)}
        ),
        error_messages={"invalid": f"{item.wording}: enter a number from {item.minimum:g} to {item.maximum:g}."},
    )


class ScaleForm(TrialForm):
    """Every item optional: a scale left incomplete is saved as incomplete (missing, never zero)."""

    def __init__(self, data=None, *, scale: Scale, responses: dict | None = None, needs_reason: bool = False):
        super().__init__(data, initial=responses or {})
        self.scale = scale
        for item in scale.items:
            self.fields[item.code] = _choice_field(scale, item) if item.is_choice else _slider_field(scale, item)
        self.fieldsets = [(name, [i.code for i in scale.domain_items(code)]) for code, name in scale.domains]
        if needs_reason:
            self.fields["reason"] = reason_field("Reason for the correction")
            self.fieldsets.append(("Correction", ["reason"]))

    def clean(self):
        cleaned = super().clean()
        for code, message in validate(self.scale, self.responses()).items():
            if code not in self.errors:
                self.add_error(code, message)
        return cleaned

    def responses(self) -> dict:
        answers = {}
        for item in self.scale.items:
            value = self.cleaned_data.get(item.code)
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # 80, not 80.0, in the record and the export
            answers[item.code] = value
        return answers


def scale_form(data=None, *, scale_code: str, responses=None, needs_reason=False) -> ScaleForm:
    return ScaleForm(data, scale=SCALES[scale_code], responses=responses, needs_reason=needs_reason)
