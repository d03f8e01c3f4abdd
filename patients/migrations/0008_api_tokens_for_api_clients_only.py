"""API tokens only for API-client accounts, and a surrogate key so that the digest is never printed.

1. `id` becomes the primary key; the digest (knox's primary key until now, and so in the admin's
   change URLs and checkboxes) stays unique, as knox finds a token by it.
2. Tokens of accounts whose roles in the token's study are not exactly "API client" are revoked,
   with the reason on the row (`revocation_reason`; no person revoked them) and a report printed
   by `migrate`. Reversing leaves them revoked: a token that carried a coordinator's reach is not
   brought back by rolling the schema back.
3. A trigger refuses, in the database itself, a live token for any other account (PostgreSQL and
   SQLite; `ApiToken.clean` says the same in words).
"""

from django.db import migrations, models

ROLE_ONLY = (
    "NEW.revoked_at IS NULL AND ("
    " NOT EXISTS (SELECT 1 FROM patients_studyrole r"
    "  WHERE r.user_id = NEW.user_id AND r.study_id = NEW.study_id AND r.role = 'api_client')"
    " OR EXISTS (SELECT 1 FROM patients_studyrole r"
    "  WHERE r.user_id = NEW.user_id AND r.study_id = NEW.study_id AND r.role <> 'api_client'))"
)
MESSAGE = "An API token is issued only to an account whose one role in the study is API client."

POSTGRESQL_CREATE = f"""
CREATE FUNCTION patients_apitoken_api_client_only() RETURNS trigger AS $$
BEGIN
    IF {ROLE_ONLY} THEN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER patients_apitoken_api_client_only
    BEFORE INSERT OR UPDATE OF user_id, study_id, revoked_at ON patients_apitoken
    FOR EACH ROW EXECUTE FUNCTION patients_apitoken_api_client_only();
"""
POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS patients_apitoken_api_client_only ON patients_apitoken;
DROP FUNCTION IF EXISTS patients_apitoken_api_client_only();
"""
# SQLite (the demo's database) drops a table's triggers when Django rebuilds the table for a later
# AlterField: a migration that alters ApiToken must create these again.
SQLITE_CREATE = [
    f"CREATE TRIGGER patients_apitoken_api_client_only_{event.split()[0].lower()} BEFORE {event}"
    f" ON patients_apitoken FOR EACH ROW WHEN {ROLE_ONLY} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"
    for event in ("INSERT", "UPDATE OF user_id, study_id, revoked_at")
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS patients_apitoken_api_client_only_insert;",
    "DROP TRIGGER IF EXISTS patients_apitoken_api_client_only_update;",
]


def revoke_tokens_of_other_accounts(apps, schema_editor):
    ApiToken = apps.get_model("patients", "ApiToken")
    StudyRole = apps.get_model("patients", "StudyRole")
    from django.utils import timezone

    now = timezone.now()
    report = []
    for token in ApiToken.objects.filter(revoked_at__isnull=True).select_related("user", "study"):
        roles = set(
            StudyRole.objects.filter(user_id=token.user_id, study_id=token.study_id).values_list("role", flat=True)
        )
        if roles == {"api_client"}:
            continue
        held = ", ".join(sorted(roles)) or "no role"
        reason = f"Revoked by migration 0008: the account's roles in the study ({held}) are not API client only."
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=now, revocation_reason=reason)
        report.append(f"  {token.token_key}… {token.client_name!r}, study {token.study.code}, {token.user}: {held}")
    if report:
        print(f"\n  Revoked {len(report)} API token(s) of accounts that are not API clients only:")
        print("\n".join(report))


def create_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_CREATE)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)


def drop_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0007_study_close"),
    ]

    operations = [
        migrations.AlterField(
            model_name="apitoken",
            name="digest",
            field=models.CharField(editable=False, max_length=128, unique=True),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="id",
            field=models.BigAutoField(primary_key=True, serialize=False),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="revocation_reason",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RemoveConstraint(
            model_name="apitoken",
            name="api_token_revocation_by",
        ),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("revoked_at__isnull", True),
                    ("revoked_by__isnull", False),
                    models.Q(("revocation_reason", ""), _negated=True),
                    _connector="OR",
                ),
                name="api_token_revocation_by",
            ),
        ),
        migrations.RunPython(revoke_tokens_of_other_accounts, migrations.RunPython.noop),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
