"""The Salesforce settings form, shared by a role's Salesforce tab and a rep's own CRM & Live
Feed settings: what the template needs, and the settings a submitted form says."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tether.domain.planner import TETHER_OWNS
from tether.domain.records import shown_fields
from tether.domain.settings import TASK_FIELDS, Activity, Autocreate, EmailScope
from tether.services import custom_objects
from tether.services.workspaces import Actor
from tether.store.models import FieldMetadata

ACTIVITY_LABELS = {Activity.SENT: "Sent emails", Activity.OPENED: "Opens",
                   Activity.REPLIED: "Replies", Activity.CLICKED: "Clicks",
                   Activity.DOWNLOADED: "Downloads",
                   Activity.MEETING_CONFIRMED: "Confirmed meetings",
                   Activity.TASKS: "Tasks and calls"}
AUTOCREATE_LABELS = {Autocreate.OFF: "Don't prompt",
                     Autocreate.LEADS_ONLY: "Prompt to create Leads only",
                     Autocreate.CONTACTS_ONLY: "Prompt to create Contacts only",
                     Autocreate.CHOICE: "Prompt, and let me choose Lead or Contact"}
SCOPE_LABELS = {EmailScope.TETHER_ONLY: "Only emails sent with Tether",
                EmailScope.ALL: "All emails sent from my mailbox"}
FLAGS = [("first_only", "For Opens, Clicks, and Downloads, only sync the first activity"),
         ("log_to_accounts", "Log activity to the Contact's Account"),
         ("log_to_opportunities", "Log activity to Opportunities"),
         ("opportunities_only_when_owner", "… only Opportunities I own"),
         ("opportunities_all_on_account", "… all Opportunities on the emailed Account"),
         ("opportunities_closed", "… closed Opportunities too"),
         ("run_assignment_rules", "Run Salesforce assignment rules on Leads Tether creates"),
         ("log_machine_hits", "Log opens and clicks made by machines (image prefetchers, "
          "link scanners) as Opened and Clicked"),
         ("log_bounces", "Log bounces as Salesforce Tasks (\"Sent (Bounced): …\")")]
SIDEBAR_OBJECTS = ("Lead", "Contact", "Account", "Opportunity")
TASK_KIND_LABELS = {"todo": "To-do tasks", "call": "Call tasks"}


def form_context(db: Session, actor: Actor) -> dict[str, Any]:
    """Labels, the configured custom objects, and each object's fields for the
    visible-fields picker (from the org's metadata; required ones always, and while the role
    has chosen none, what the sidebar shows by default)."""
    fields: dict[str, dict[str, Any]] = {}
    for sobject in SIDEBAR_OBJECTS:
        row = db.get(FieldMetadata, (actor.workspace_id, sobject))
        if row is None:
            continue
        required = set(row.layout_required or [])
        names = {str(f.get("name")) for f in row.fields}
        fields[sobject] = {
            "required": required,
            # What the sidebar shows while the role has chosen nothing.
            "default": shown_fields(sobject, (), list(row.layout_required or []), names),
            "fields": sorted(({"name": str(f.get("name")), "label": str(f.get("label"))}
                              for f in row.fields), key=lambda f: f["label"].lower())}
    task = db.get(FieldMetadata, (actor.workspace_id, "Task"))
    task_fields = sorted(({"name": str(f.get("name")), "label": str(f.get("label"))}
                          for f in (task.fields if task is not None else [])
                          if f.get("createable") and str(f.get("name")) not in TETHER_OWNS),
                         key=lambda f: f["label"].lower())
    return {"activity_labels": ACTIVITY_LABELS, "autocreate_labels": AUTOCREATE_LABELS,
            "scope_labels": SCOPE_LABELS, "flags": FLAGS,
            "custom_objects": custom_objects.list_objects(db, actor), "object_fields": fields,
            "task_fields": task_fields, "task_kinds": TASK_KIND_LABELS,
            "task_defaults": TASK_FIELDS}


def settings_from_form(form: FormData, object_fields: dict[str, dict[str, Any]]
                       ) -> dict[str, Any]:
    """The settings JSON of a submitted form; the services validate it."""
    visible: dict[str, list[str]] = {}
    for sobject, info in object_fields.items():
        chosen = [str(v) for v in form.getlist(f"visible_{sobject}")]
        # Required fields are always shown: the sidebar cannot create a record without them.
        visible[sobject] = sorted(set(chosen) | set(info["required"]))
    return {"autocreate": str(form.get("autocreate") or Autocreate.OFF.value),
            "activities": [str(v) for v in form.getlist("activities")],
            "email_scope": str(form.get("email_scope") or EmailScope.TETHER_ONLY.value),
            **{name: form.get(name) == "on" for name, _ in FLAGS},
            "custom_objects": [str(v) for v in form.getlist("custom_objects")],
            "visible_fields": visible,
            "task_fields": {kind: [str(v) for v in form.getlist(f"task_fields_{kind}")]
                            for kind in TASK_KIND_LABELS}}
