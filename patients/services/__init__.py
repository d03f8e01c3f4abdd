"""Writes to the trial's records. The coordinator's pages, the demo seed and the admin's actions
call these.

Every function is keyword-only, runs in one transaction (nothing half-saved),
calls full_clean() before saving, and records who made the change and why in
the audit trail. Edits after the first save require a reason.

The data manager's corrections in the Django admin (`patients/admin.py`) obey the same
rules: patients are corrected through `patient_update` (`as_data_manager=True`, which may
correct a withdrawn patient's record), visits and sessions are saved by the admin after
`visit_validate` and `injection_session_validate`; every change needs a reason and keeps the
audit trail.

One module per concept; everything is re-exported here, so callers write
`from patients import services` and `services.patient_enroll(...)`:

- `patients`: register, correct, enroll, withdraw, complete
- `randomization`: the concealed list, its blocks, allocation, arms assigned outside the system
  (the keyed random stream is `patients.keyed_random`, free of Django)
- `visits`: the visit rules, record, correct, void
- `injections`: the session rules, record, correct, void
- `study_setup`: a study with its sites, arms and schedule
- `study_settings`: a running study's settings: the allocation locked once a patient has an arm, a
  schedule change's effect on recorded visits shown before it is saved
- `study_lock`: closing a study (its database locked: `common.require_study_open`) and reopening it
- `outcomes`: study-defined outcome values per visit, and their CSV import
- `adverse_events`: the rules of an adverse event, record, correct, void
- `missing_codes`: an expected item of a visit marked missing with a code and a reason, and withdrawn
- `eligibility`: the eligibility checklist, its answers, and the rule randomization applies
- `scales`: clinician-graded scales item by item at a visit: record, correct, void
- `common`: the audited save and the rules the others share
"""

from .adverse_events import (
    ADVERSE_EVENT_FIELDS,
    adverse_event_record,
    adverse_event_update,
    adverse_event_validate,
    adverse_event_void,
)
from .eligibility import (
    eligibility_criterion_define,
    patient_eligibility,
    patient_eligibility_record,
    require_eligible,
)
from .injections import (
    SESSION_FIELDS,
    InjectionValidationError,
    injection_session_record,
    injection_session_update,
    injection_session_validate,
    injection_session_void,
)
from .missing_codes import missing_item_record, missing_item_void, missing_items_clear, visit_expected_items
from .outcomes import OUTCOME_IMPORT_COLUMNS, outcome_values_import, study_outcome_define, visit_outcomes_record
from .patients import (
    PATIENT_CLINICAL_FIELDS,
    PATIENT_IDENTIFIER_FIELDS,
    patient_complete,
    patient_enroll,
    patient_register,
    patient_register_validate,
    patient_update,
    patient_update_validate,
    patient_withdraw,
)
from .randomization import (
    BLOCKS_GENERATED_AT_SET_UP,
    patient_assign_arm_externally,
    patient_randomize,
    randomization_block,
    randomization_list_generate,
)
from .scales import visit_scale_record, visit_scale_update, visit_scale_void
from .study_lock import study_close, study_reopen
from .study_settings import (
    ALLOCATION_FIELDS,
    SCHEDULE_FIELDS,
    ScheduleEffect,
    allocated_patients,
    schedule_change_effect,
    study_setting_check,
    study_setting_save,
)
from .study_setup import DEFAULT_ARMS, DEFAULT_SCHEDULE, study_set_up
from .visits import VISIT_FIELDS, visit_record, visit_update, visit_validate, visit_void

__all__ = [
    "OUTCOME_IMPORT_COLUMNS",
    "outcome_values_import",
    "study_outcome_define",
    "visit_outcomes_record",
    "ADVERSE_EVENT_FIELDS",
    "BLOCKS_GENERATED_AT_SET_UP",
    "DEFAULT_ARMS",
    "DEFAULT_SCHEDULE",
    "PATIENT_CLINICAL_FIELDS",
    "PATIENT_IDENTIFIER_FIELDS",
    "SESSION_FIELDS",
    "VISIT_FIELDS",
    "InjectionValidationError",
    "adverse_event_record",
    "adverse_event_update",
    "adverse_event_validate",
    "adverse_event_void",
    "eligibility_criterion_define",
    "patient_eligibility",
    "patient_eligibility_record",
    "require_eligible",
    "injection_session_record",
    "injection_session_update",
    "injection_session_validate",
    "injection_session_void",
    "patient_assign_arm_externally",
    "patient_complete",
    "patient_enroll",
    "patient_randomize",
    "patient_register",
    "patient_register_validate",
    "patient_update",
    "patient_update_validate",
    "patient_withdraw",
    "randomization_block",
    "randomization_list_generate",
    "study_close",
    "study_reopen",
    "study_set_up",
    "ALLOCATION_FIELDS",
    "SCHEDULE_FIELDS",
    "ScheduleEffect",
    "allocated_patients",
    "schedule_change_effect",
    "study_setting_check",
    "study_setting_save",
    "missing_item_record",
    "missing_item_void",
    "missing_items_clear",
    "visit_expected_items",
    "visit_record",
    "visit_update",
    "visit_validate",
    "visit_void",
    "visit_scale_record",
    "visit_scale_update",
    "visit_scale_void",
]
