"""The API-token admin: data managers issue tokens for their own studies, to API-client accounts only.

A token is shown once, in the message after saving; only its digest is kept, and the digest is
never printed (patients/identifiers.py, NEVER_SHOWN): rows are keyed by a surrogate id in URLs and
checkboxes. Tokens are revoked, never deleted.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef
from django.http import HttpResponseRedirect
from django.urls import reverse

from .admin_scope import ScopedAdminMixin, is_data_manager
from .api_tokens import api_token_issue, api_tokens_revoke
from .models import ApiToken, Study, StudyRole
from .selectors import access_for


def api_client_accounts(studies):
    """Active accounts that are API clients, and nothing else, in one of `studies`: the only ones a
    token may be issued to (`ApiToken.clean` checks the pair the form is given)."""
    other_role = StudyRole.objects.filter(user=OuterRef("user_id"), study=OuterRef("study_id")).exclude(
        role=StudyRole.Role.API_CLIENT
    )
    clients = StudyRole.objects.filter(study__in=studies, role=StudyRole.Role.API_CLIENT).exclude(Exists(other_role))
    return User.objects.filter(pk__in=clients.values("user_id"), is_active=True)


class ApiTokenCreateForm(forms.ModelForm):
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=730, initial=90, help_text="The token stops working after this many days."
    )

    class Meta:
        model = ApiToken
        fields = ["client_name", "study", "user"]
        help_texts = {
            "user": "The account the client acts as: an account whose one role in the study is API client "
            "(give a new account that role first). Staff use the API with their own sign-in, never a token."
        }

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        studies = (
            Study.objects.all()
            if request.user.is_superuser
            else Study.objects.filter(pk__in=access_for(request.user).data_manager_study_ids)
        )
        self.fields["study"].queryset = studies
        self.fields["user"].queryset = api_client_accounts(studies)

    # The pair (account, study) is checked by ApiToken.clean, which the form's validation calls.


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Data managers issue tokens for their own studies; the token is shown once, then only its hash is kept."""

    list_display = ["client_name", "token_key", "study", "user", "created", "expiry", "last_used_at", "revoked_at"]
    list_filter = ["study"]
    actions = ["revoke"]
    readonly_fields = [
        "client_name",
        "study",
        "user",
        "token_key",
        "created",
        "created_by",
        "expiry",
        "last_used_at",
        "revoked_at",
        "revoked_by",
        "revocation_reason",
    ]

    def get_queryset(self, request):
        tokens = super().get_queryset(request).select_related("study", "user")
        if request.user.is_superuser:
            return tokens
        return tokens.filter(study_id__in=access_for(request.user).data_manager_study_ids)

    def has_module_permission(self, request):
        return is_data_manager(request)

    def has_view_permission(self, request, obj=None):
        return is_data_manager(request)

    def has_add_permission(self, request):
        return is_data_manager(request)

    def has_change_permission(self, request, obj=None):
        return is_data_manager(request) and obj is None  # the list page (for the revoke action); no edits

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the record of who held a token stays

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, **kwargs)

        class BoundForm(ApiTokenCreateForm):
            def __init__(self, *args, **kw):
                super().__init__(*args, request=request, **kw)

        return BoundForm

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj else ["client_name", "study", "user", "expires_in_days"]

    def save_model(self, request, obj, form, change):
        instance, token = api_token_issue(
            user=form.cleaned_data["user"],
            study=form.cleaned_data["study"],
            client_name=form.cleaned_data["client_name"],
            lifetime=timedelta(days=form.cleaned_data["expires_in_days"]),
            by=request.user,
        )
        form.instance = instance
        obj.pk = instance.pk
        self.message_user(
            request,
            f"Token for {instance.client_name}: {token} — copy it now: only its hash is stored, "
            "it will not be shown again.",
            messages.WARNING,
        )

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:patients_apitoken_changelist"))

    def log_addition(self, request, obj, message):
        return None  # the service made the row; the token's own fields record who and when

    @admin.action(description="Revoke the selected tokens (effective on their next request)")
    def revoke(self, request, queryset):
        count = api_tokens_revoke(tokens=queryset, by=request.user)
        self.message_user(request, f"{count} token(s) revoked.")
