"""Pure rules and types of Triage: leads, BANT, outcomes, reasons, policy, dates, filters.

No I/O, and nothing of ours above it is imported here. One room per job:
  lead.py       statuses, outcomes, answers, a lead and its decisions
  policy.py     the qualification policy (criteria, reasons, SLA) and its TOML form
  dates.py      times, the SLA clock, nurture re-entry dates
  codec.py      the one list of a lead's fields, and its JSON form
  mutations.py  what a rep's change does to a lead (the one `apply`), refusals in words
  filters.py    the queue's filter language
  text.py       control characters, terminal-safe text, folding for search
  imports.py    rows of an import file or a marketing upsert, validated
  attributes.py a lead's attributes: keys, typed values, their bounds
Everything public is also here, so `from triage import domain; domain.Lead` works.
"""

from __future__ import annotations

from triage.domain.accounts import (  # noqa: F401
    FREE_MAIL_DOMAINS,
    account_key,
    company_key,
    email_domain,
)
from triage.domain.attributes import (  # noqa: F401
    MAX_ATTRIBUTES,
    MAX_KEY,
    MAX_VALUE,
    attribute_key,
    attribute_problems,
    attribute_text,
    typed_value,
)
from triage.domain.codec import (  # noqa: F401
    FIELD_NAMES,
    LEAD_FIELDS,
    PROFILE_FIELDS,
    TEXT_FIELDS,
    LeadField,
    decision_from_dict,
    decision_to_dict,
    lead_from_dict,
    lead_to_dict,
)
from triage.domain.dates import (  # noqa: F401
    NURTURE_DATE_FORMS,
    NURTURE_TOLERANCE,
    age_hours,
    clamp_time,
    format_time,
    nurture_until_error,
    parse_nurture_until,
    parse_time,
    past_sla,
    sla_level,
    sla_start,
    utcnow,
)
from triage.domain.filters import (  # noqa: F401
    FILTER_KEYS,
    Filter,
    parse_filter,
)
from triage.domain.imports import (  # noqa: F401
    IMPORT_KEYS,
    IMPORT_OPTIONAL,
    IMPORT_REQUIRED,
    LeadInput,
    is_email,
    parse_import_row,
    whole_number,
)
from triage.domain.lead import (  # noqa: F401
    ANSWER_CYCLE,
    BANT_KEYS,
    Activity,
    Answer,
    Decision,
    Lead,
    LeadState,
    Outcome,
    PastDecision,
    Role,
    Status,
    Suggestion,
    next_answer,
    outcome_of,
    status_of,
)
from triage.domain.mutations import (  # noqa: F401
    REFUSALS,
    apply,
    explain_refusal,
)
from triage.domain.policy import (  # noqa: F401
    DEFAULT_BANT,
    DEFAULT_NURTURE_REASONS,
    DEFAULT_POLICY,
    DEFAULT_REJECT_REASONS,
    DEFAULT_SUGGESTIONS,
    DEFAULT_TIMEZONE,
    Criterion,
    Policy,
    PolicyError,
    Reason,
    Suggestions,
    load_policy_toml,
    picker_keys,
    policy_toml,
    timezone_problem,
)
from triage.domain.text import (  # noqa: F401
    clean_lead,
    control_problem,
    fold,
    quoted,
    shown_text,
    storable_text,
    terminal_text,
)
