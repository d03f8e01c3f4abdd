from django import forms

from .models import Expression


class VisitPhotosForm(forms.Form):
    """One optional file per expression of the standard set, so every file arrives tagged."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for expression, label in Expression.choices:
            # An empty file is the upload service's to refuse, for that file alone (photo_check_size).
            self.fields[f"photo_{expression}"] = forms.FileField(
                label=label,
                required=False,
                allow_empty_file=True,
                widget=forms.ClearableFileInput(
                    attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,image/heif,.heic,.heif"}
                ),
            )

    def files_by_expression(self):
        for expression, _ in Expression.choices:
            upload = self.files.get(self.add_prefix(f"photo_{expression}"))
            if upload is not None:
                yield expression, upload


class ReplacePhotoForm(forms.Form):
    photo = forms.FileField(
        label="Retake",
        allow_empty_file=True,  # refused by the upload service, which says so ("is empty (0 bytes)")
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,image/heif"}),
    )
