"""Salesforce's standard objects, as sfemu models them."""

from __future__ import annotations

import copy
from typing import Any

from sfemu.org.ids import KEY_PREFIXES
from sfemu.schema.model import FieldDef, ObjectDef, PicklistValue

LEAD_STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                 "Closed - Not Converted"]
# StageName -> (probability, IsClosed, IsWon, ForecastCategoryName)
OPPORTUNITY_STAGES: dict[str, tuple[int, bool, bool, str]] = {
    "Prospecting": (10, False, False, "Pipeline"),
    "Qualification": (10, False, False, "Pipeline"),
    "Needs Analysis": (20, False, False, "Pipeline"),
    "Value Proposition": (50, False, False, "Pipeline"),
    "Id. Decision Makers": (60, False, False, "Pipeline"),
    "Perception Analysis": (70, False, False, "Pipeline"),
    "Proposal/Price Quote": (75, False, False, "Pipeline"),
    "Negotiation/Review": (90, False, False, "Commit"),
    "Closed Won": (100, True, True, "Closed"),
    "Closed Lost": (0, True, False, "Omitted"),
}
TASK_STATUSES = {"Not Started": False, "In Progress": False, "Completed": True,
                 "Waiting on someone else": False, "Deferred": False}


def _pl(*values: str, default: str | None = None) -> list[PicklistValue]:
    return [PicklistValue(v, default=v == default) for v in values]


def _f(name: str, type_: str, **kw: Any) -> FieldDef:
    return FieldDef(name=name, type=type_, **kw)


def _ref(name: str, to: list[str], rel: str, **kw: Any) -> FieldDef:
    return FieldDef(name=name, type="reference", reference_to=to, relationship_name=rel, **kw)


def _readonly(name: str, type_: str, **kw: Any) -> FieldDef:
    return FieldDef(name=name, type=type_, createable=False, updateable=False, **kw)


def system_fields(owned: bool) -> list[FieldDef]:
    fields = [
        FieldDef("Id", "id", label="Record ID", nillable=False, createable=False,
                 updateable=False, defaulted_on_create=True),
        _readonly("IsDeleted", "boolean", label="Deleted", nillable=False,
                  defaulted_on_create=True),
        _readonly("CreatedDate", "datetime", nillable=False, defaulted_on_create=True),
        _ref("CreatedById", ["User"], "CreatedBy", label="Created By ID", nillable=False,
             createable=False, updateable=False, defaulted_on_create=True),
        _readonly("LastModifiedDate", "datetime", nillable=False, defaulted_on_create=True),
        _ref("LastModifiedById", ["User"], "LastModifiedBy", label="Last Modified By ID",
             nillable=False, createable=False, updateable=False, defaulted_on_create=True),
        _readonly("SystemModstamp", "datetime", label="System Modstamp", nillable=False,
                  defaulted_on_create=True),
    ]
    if owned:
        fields.append(_ref("OwnerId", ["User"], "Owner", label="Owner ID", nillable=False,
                           defaulted_on_create=True))
    return fields


def _address(prefix: str) -> list[FieldDef]:
    return [
        _f(f"{prefix}Street", "textarea", length=255),
        _f(f"{prefix}City", "string", length=40),
        _f(f"{prefix}State", "string", length=80),
        _f(f"{prefix}PostalCode", "string", length=20),
        _f(f"{prefix}Country", "string", length=80),
    ]


def _obj(name: str, label: str, plural: str, fields: list[FieldDef], *, owned: bool = True,
         activities: bool = False, layout_required: list[str] | None = None,
         writable: bool = True) -> ObjectDef:
    all_fields = system_fields(owned) + fields
    return ObjectDef(
        name=name, label=label, label_plural=plural, key_prefix=KEY_PREFIXES[name],
        fields={f.name: f for f in all_fields}, allow_activities=activities, owned=owned,
        layout_required=layout_required or [], writable=writable,
    )


_INDUSTRIES = ("Agriculture", "Banking", "Biotechnology", "Communications", "Consulting",
               "Education", "Electronics", "Energy", "Finance", "Healthcare", "Manufacturing",
               "Media", "Retail", "Technology", "Other")
_LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")


def _build() -> dict[str, ObjectDef]:
    objects = [
        _obj("User", "User", "Users", [
            _f("Username", "string", length=80, nillable=False, unique=True, id_lookup=True),
            _f("LastName", "string", length=80, nillable=False),
            _f("FirstName", "string", length=40),
            _readonly("Name", "string", length=121, label="Full Name"),
            _f("Email", "email", nillable=False),
            _f("Alias", "string", length=8, nillable=False),
            _f("Title", "string", length=80),
            _f("CompanyName", "string", length=80),
            _f("Department", "string", length=80),
            _f("Phone", "phone"),
            _f("IsActive", "boolean", label="Active", nillable=False, defaulted_on_create=True,
               default=True),
            _ref("ProfileId", ["Profile"], "Profile", label="Profile ID", nillable=False),
            _f("TimeZoneSidKey", "picklist", label="Time Zone", nillable=False,
               defaulted_on_create=True, default="America/Los_Angeles",
               picklist=_pl("America/Los_Angeles", "America/New_York", "Europe/London",
                            "Europe/Paris", "UTC")),
        ], owned=False, layout_required=["LastName", "Email", "Alias", "Username", "ProfileId"]),
        _obj("Profile", "Profile", "Profiles", [
            _readonly("Name", "string", length=255, nillable=False),
        ], owned=False, writable=False),
        _obj("Organization", "Organization", "Organizations", [
            _readonly("Name", "string", length=80, nillable=False),
            _readonly("OrganizationType", "picklist", label="Edition",
                      picklist=_pl("Enterprise Edition", "Unlimited Edition",
                                   "Developer Edition", "Performance Edition",
                                   "Professional Edition", "Essentials Edition")),
            _readonly("IsSandbox", "boolean", nillable=False, defaulted_on_create=True,
                      default=False),
            _readonly("InstanceName", "string", length=5),
            _readonly("LanguageLocaleKey", "string", length=40),
            _readonly("TimeZoneSidKey", "string", length=40),
            _readonly("Country", "string", length=80),
        ], owned=False, writable=False),
        _obj("Account", "Account", "Accounts", [
            _readonly("MasterRecordId", "reference", reference_to=["Account"],
                      relationship_name="MasterRecord", label="Master Record ID"),
            _f("Name", "string", length=255, nillable=False, label="Account Name"),
            _f("Type", "picklist", label="Account Type",
               picklist=_pl("Prospect", "Customer - Direct", "Customer - Channel", "Partner",
                            "Other")),
            _ref("ParentId", ["Account"], "Parent", label="Parent Account ID"),
            *_address("Billing"),
            *_address("Shipping"),
            _f("Phone", "phone", label="Account Phone"),
            _f("Fax", "phone", label="Account Fax"),
            _f("AccountNumber", "string", length=40),
            _f("Website", "url"),
            _f("Industry", "picklist", picklist=_pl(*_INDUSTRIES)),
            _f("AnnualRevenue", "currency", precision=18),
            _f("NumberOfEmployees", "int", label="Employees", precision=8),
            _f("Description", "textarea", label="Account Description"),
            _readonly("LastActivityDate", "date"),
        ], activities=True, layout_required=["Name"]),
        _obj("Contact", "Contact", "Contacts", [
            _readonly("MasterRecordId", "reference", reference_to=["Contact"],
                      relationship_name="MasterRecord", label="Master Record ID"),
            _ref("AccountId", ["Account"], "Account", label="Account ID"),
            _f("LastName", "string", length=80, nillable=False),
            _f("FirstName", "string", length=40),
            _f("Salutation", "picklist", picklist=_pl("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")),
            _readonly("Name", "string", length=121, label="Full Name"),
            *_address("Mailing"),
            _f("Phone", "phone", label="Business Phone"),
            _f("MobilePhone", "phone", label="Mobile Phone"),
            _f("Email", "email"),
            _f("Title", "string", length=128),
            _f("Department", "string", length=80),
            _f("LeadSource", "picklist", picklist=_pl(*_LEAD_SOURCES)),
            _f("Description", "textarea", label="Contact Description"),
            _f("HasOptedOutOfEmail", "boolean", label="Email Opt Out", nillable=False,
               defaulted_on_create=True, default=False),
            _f("DoNotCall", "boolean", nillable=False, defaulted_on_create=True, default=False),
            _readonly("LastActivityDate", "date"),
        ], activities=True, layout_required=["LastName"]),
        _obj("Lead", "Lead", "Leads", [
            _readonly("MasterRecordId", "reference", reference_to=["Lead"],
                      relationship_name="MasterRecord", label="Master Record ID"),
            _f("LastName", "string", length=80, nillable=False),
            _f("FirstName", "string", length=40),
            _f("Salutation", "picklist", picklist=_pl("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")),
            _readonly("Name", "string", length=121, label="Full Name"),
            _f("Title", "string", length=128),
            _f("Company", "string", length=255, nillable=False),
            *_address(""),
            _f("Phone", "phone"),
            _f("MobilePhone", "phone", label="Mobile Phone"),
            _f("Email", "email"),
            _f("Website", "url"),
            _f("Description", "textarea"),
            _f("LeadSource", "picklist", picklist=_pl(*_LEAD_SOURCES)),
            _f("Status", "picklist", label="Lead Status", nillable=False,
               defaulted_on_create=True, default=LEAD_STATUSES[0],
               picklist=_pl(*LEAD_STATUSES, default=LEAD_STATUSES[0])),
            _f("Industry", "picklist", picklist=_pl(*_INDUSTRIES)),
            _f("Rating", "picklist", picklist=_pl("Hot", "Warm", "Cold")),
            _f("AnnualRevenue", "currency", precision=18),
            _f("NumberOfEmployees", "int", label="Employees", precision=8),
            _f("HasOptedOutOfEmail", "boolean", label="Email Opt Out", nillable=False,
               defaulted_on_create=True, default=False),
            _readonly("IsConverted", "boolean", label="Converted", nillable=False,
                      defaulted_on_create=True, default=False),
            _readonly("ConvertedDate", "date"),
            _readonly("ConvertedAccountId", "reference", reference_to=["Account"],
                      relationship_name="ConvertedAccount", label="Converted Account ID"),
            _readonly("ConvertedContactId", "reference", reference_to=["Contact"],
                      relationship_name="ConvertedContact", label="Converted Contact ID"),
            _readonly("ConvertedOpportunityId", "reference", reference_to=["Opportunity"],
                      relationship_name="ConvertedOpportunity",
                      label="Converted Opportunity ID"),
            _readonly("LastActivityDate", "date"),
        ], activities=False, layout_required=["LastName", "Company", "Status"]),
        _obj("Opportunity", "Opportunity", "Opportunities", [
            _ref("AccountId", ["Account"], "Account", label="Account ID"),
            _f("Name", "string", length=120, nillable=False, label="Opportunity Name"),
            _f("Description", "textarea"),
            _f("StageName", "picklist", label="Stage", nillable=False,
               picklist=_pl(*OPPORTUNITY_STAGES)),
            _f("Amount", "currency", precision=18, scale=2),
            _f("Probability", "percent", label="Probability (%)", precision=3),
            _f("CloseDate", "date", nillable=False),
            _f("Type", "picklist", label="Opportunity Type",
               picklist=_pl("Existing Customer - Upgrade", "Existing Customer - Replacement",
                            "Existing Customer - Downgrade", "New Customer")),
            _f("NextStep", "string", length=255),
            _f("LeadSource", "picklist", picklist=_pl(*_LEAD_SOURCES)),
            _readonly("IsClosed", "boolean", label="Closed", nillable=False,
                      defaulted_on_create=True, default=False),
            _readonly("IsWon", "boolean", label="Won", nillable=False, defaulted_on_create=True,
                      default=False),
            _readonly("ForecastCategoryName", "picklist", label="Forecast Category",
                      picklist=_pl("Omitted", "Pipeline", "Best Case", "Commit", "Closed")),
            _ref("ContactId", ["Contact"], "Contact", label="Contact ID"),
            _readonly("LastActivityDate", "date"),
        ], activities=True, layout_required=["Name", "StageName", "CloseDate"]),
        _obj("OpportunityContactRole", "Opportunity Contact Role", "Opportunity Contact Role", [
            _ref("OpportunityId", ["Opportunity"], "Opportunity", label="Opportunity ID",
                 nillable=False, updateable=False),
            _ref("ContactId", ["Contact"], "Contact", label="Contact ID", nillable=False),
            _f("Role", "picklist",
               picklist=_pl("Business User", "Decision Maker", "Economic Buyer",
                            "Economic Decision Maker", "Evaluator", "Executive Sponsor",
                            "Influencer", "Technical Buyer", "Other")),
            _f("IsPrimary", "boolean", label="Primary", nillable=False,
               defaulted_on_create=True, default=False),
        ], owned=False, layout_required=["ContactId"]),
        _obj("Task", "Task", "Tasks", _activity_fields(task=True), layout_required=[
            "Subject", "Status", "Priority"]),
        _obj("Event", "Event", "Events", _activity_fields(task=False), layout_required=[
            "Subject", "StartDateTime", "EndDateTime"]),
    ]
    return {o.name: o for o in objects}


def _activity_fields(task: bool) -> list[FieldDef]:
    common = [
        _ref("WhoId", ["Contact", "Lead"], "Who", label="Name ID"),
        # WhatId's referenceTo is completed per org with the activity-enabled objects.
        _ref("WhatId", ["Account", "Opportunity"], "What", label="Related To ID"),
        _f("Subject", "combobox", length=255,
           picklist=_pl("Call", "Email", "Send Letter", "Send Quote", "Other")
           if task else _pl("Call", "Email", "Meeting", "Send Letter/Quote", "Other")),
        _f("Location", "string", length=255) if not task else None,
        _f("Description", "textarea", length=32000, label="Description"),
        _readonly("AccountId", "reference", reference_to=["Account"],
                  relationship_name="Account", label="Account ID"),
        _f("Type", "picklist", picklist=_pl("Call", "Email", "Meeting", "Other")),
    ]
    if task:
        specific = [
            _f("ActivityDate", "date", label="Due Date Only"),
            _f("Status", "picklist", nillable=False, defaulted_on_create=True,
               default="Not Started", picklist=_pl(*TASK_STATUSES, default="Not Started")),
            _f("Priority", "picklist", nillable=False, defaulted_on_create=True,
               default="Normal", picklist=_pl("High", "Normal", "Low", default="Normal")),
            _readonly("IsClosed", "boolean", label="Closed", nillable=False,
                      defaulted_on_create=True, default=False),
            _readonly("CompletedDateTime", "datetime"),
            _f("TaskSubtype", "picklist", updateable=False,
               picklist=_pl("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")),
            _f("CallDurationInSeconds", "int", label="Call Duration", precision=8),
            _f("CallType", "picklist", picklist=_pl("Internal", "Inbound", "Outbound")),
            _f("CallDisposition", "string", length=255, label="Call Result"),
            _f("CallObject", "string", length=255, label="Call Object Identifier"),
            _f("ReminderDateTime", "datetime", label="Reminder Date/Time"),
            _f("IsReminderSet", "boolean", label="Reminder Set", nillable=False,
               defaulted_on_create=True, default=False),
        ]
    else:
        specific = [
            _f("StartDateTime", "datetime", label="Start Date Time"),
            _f("EndDateTime", "datetime", label="End Date Time"),
            _f("ActivityDateTime", "datetime", label="Due Date Time"),
            _f("ActivityDate", "date", label="Due Date Only"),
            _f("DurationInMinutes", "int", label="Duration", precision=8),
            _f("IsAllDayEvent", "boolean", label="All-Day Event", nillable=False,
               defaulted_on_create=True, default=False),
            _f("ShowAs", "picklist", label="Show Time As",
               picklist=_pl("Busy", "OutOfOffice", "Free", default="Busy")),
            _f("EventSubtype", "picklist", updateable=False, picklist=_pl("Event")),
        ]
    return [f for f in common if f is not None] + specific


_STANDARD = _build()


def standard_objects() -> dict[str, ObjectDef]:
    """A fresh, mutable copy of the standard objects (each org extends its own)."""
    return copy.deepcopy(_STANDARD)
