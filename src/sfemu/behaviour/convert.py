"""Lead conversion and merge, the way Salesforce carries them out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sfemu.dml import Dml
from sfemu.errors import ApiError
from sfemu.org.ids import to18

_LEAD_TO_ACCOUNT = {"Company": "Name", "Street": "BillingStreet", "City": "BillingCity",
                    "State": "BillingState", "PostalCode": "BillingPostalCode",
                    "Country": "BillingCountry", "Phone": "Phone", "Website": "Website",
                    "Industry": "Industry", "AnnualRevenue": "AnnualRevenue",
                    "NumberOfEmployees": "NumberOfEmployees", "OwnerId": "OwnerId"}
_LEAD_TO_CONTACT = {"FirstName": "FirstName", "LastName": "LastName",
                    "Salutation": "Salutation", "Email": "Email", "Phone": "Phone",
                    "MobilePhone": "MobilePhone", "Title": "Title", "LeadSource": "LeadSource",
                    "Street": "MailingStreet", "City": "MailingCity", "State": "MailingState",
                    "PostalCode": "MailingPostalCode", "Country": "MailingCountry",
                    "Description": "Description", "HasOptedOutOfEmail": "HasOptedOutOfEmail",
                    "OwnerId": "OwnerId"}


def _copy(lead: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    return {target: lead[source] for source, target in mapping.items()
            if lead.get(source) is not None}


def convert_lead(dml: Dml, lead_id: str, *, create_opportunity: bool = True,
                 account_id: str | None = None, contact_id: str | None = None,
                 opportunity_name: str | None = None,
                 converted_status: str = "Closed - Converted") -> dict[str, Any]:
    leads = dml.schema.objects["Lead"]
    lead = dml.get(leads, lead_id)
    if lead["IsConverted"]:
        raise ApiError("CANNOT_UPDATE_CONVERTED_LEAD", "This lead was already converted.")
    if account_id:
        account_id = dml.get(dml.schema.objects["Account"], account_id)["Id"]
    else:
        account_id = dml.create("Account", _copy(lead, _LEAD_TO_ACCOUNT))
    if contact_id:
        contact_id = dml.get(dml.schema.objects["Contact"], contact_id)["Id"]
    else:
        contact_id = dml.create("Contact", {**_copy(lead, _LEAD_TO_CONTACT),
                                            "AccountId": account_id})
    opportunity_id = None
    if create_opportunity:
        close = (dml.emu.now() + dt.timedelta(days=30)).date().isoformat()
        opportunity_id = dml.create("Opportunity", {
            "AccountId": account_id, "Name": opportunity_name or f"{lead['Company']}-",
            "StageName": "Prospecting", "CloseDate": close, "OwnerId": lead["OwnerId"],
            "LeadSource": lead.get("LeadSource")})
        dml.create("OpportunityContactRole", {"OpportunityId": opportunity_id,
                                              "ContactId": contact_id, "IsPrimary": True})
    # The lead's activities move to the new contact.
    for sobject in ("Task", "Event"):
        obj = dml.schema.objects[sobject]
        for row in list(dml.emu.store.scan(sobject, dml.org.id,
                                           lookups={"WhoId": [lead["Id"]]})):
            dml.system_update(obj, row.id, {"WhoId": contact_id})
    dml.system_update(leads, lead["Id"], {
        "IsConverted": True, "ConvertedDate": dml.emu.now().date().isoformat(),
        "ConvertedAccountId": account_id, "ConvertedContactId": contact_id,
        "ConvertedOpportunityId": opportunity_id, "Status": converted_status})
    return {"leadId": lead["Id"], "accountId": account_id, "contactId": contact_id,
            "opportunityId": opportunity_id}


MERGEABLE = ("Account", "Contact", "Lead")


def merge(dml: Dml, sobject: str, master_id: str, merged_ids: list[str]) -> dict[str, Any]:
    """Merge up to two records into the master: children move to it, the losers are deleted
    with MasterRecordId set (visible through queryAll and getDeleted)."""
    if sobject not in MERGEABLE:
        raise ApiError("INVALID_TYPE", f"merge is supported for {', '.join(MERGEABLE)}, not "
                       f"{sobject}")
    if not 1 <= len(merged_ids) <= 2:
        raise ApiError("INVALID_FIELD", "merge takes one or two records to merge into the "
                       "master", ["merged_ids"])
    obj = dml.schema.objects[sobject]
    master = dml.get(obj, master_id)
    try:
        losers = [dml.get(obj, rid) for rid in merged_ids]
    except ApiError:
        raise ApiError("ENTITY_IS_DELETED", "entity is deleted", ["merged_ids"]) from None
    if any(to18(loser["Id"]) == master["Id"] for loser in losers):
        raise ApiError("INVALID_FIELD", "the master record cannot be merged into itself",
                       ["merged_ids"])
    moved = 0
    for loser in losers:
        for rel in obj.child_relationships:
            child_obj = dml.schema.objects[rel.child_object]
            for row in list(dml.emu.store.scan(rel.child_object, dml.org.id,
                                               lookups={rel.field: [loser["Id"]]})):
                dml.system_update(child_obj, row.id, {rel.field: master["Id"]})
                moved += 1
    dml.system_update(obj, master["Id"], {})
    for loser in losers:
        dml.delete_record(obj, loser, master_id=master["Id"])
    return {"id": master["Id"], "mergedRecordIds": [loser["Id"] for loser in losers],
            "updatedRelatedIds": moved}
