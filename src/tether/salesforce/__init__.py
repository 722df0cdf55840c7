"""Tether's Salesforce client over httpx: OAuth, REST, composite, sObject Collections,
Bulk API 2.0, one error classification table, and API usage from Sforce-Limit-Info."""

from tether.salesforce.auth import (
    PRODUCTION_LOGIN_URL,
    SANDBOX_LOGIN_URL,
    Credentials,
    Identity,
    OAuthApp,
    authorize_url,
    exchange_code,
    new_pkce,
    new_state,
    password_login,
    refresh,
    revoke,
)
from tether.salesforce.bulk2 import Bulk2Query, PollPolicy
from tether.salesforce.client import SalesforceClient
from tether.salesforce.composite import (
    CompositeResult,
    CompositeSubrequest,
    SaveResult,
    chunks,
)
from tether.salesforce.errors import (
    ErrorKind,
    RecordError,
    SalesforceError,
    classify,
    parse_error,
    rule_for,
)
from tether.salesforce.limits import ApiUsage, MemoryUsageLedger, UsageLedger, parse_limit_info
from tether.salesforce.retry import Backoff

__all__ = [
    "PRODUCTION_LOGIN_URL",
    "SANDBOX_LOGIN_URL",
    "ApiUsage",
    "Backoff",
    "Bulk2Query",
    "CompositeResult",
    "CompositeSubrequest",
    "Credentials",
    "ErrorKind",
    "Identity",
    "MemoryUsageLedger",
    "OAuthApp",
    "PollPolicy",
    "RecordError",
    "SalesforceClient",
    "SalesforceError",
    "SaveResult",
    "UsageLedger",
    "authorize_url",
    "chunks",
    "classify",
    "exchange_code",
    "new_pkce",
    "new_state",
    "parse_error",
    "parse_limit_info",
    "password_login",
    "refresh",
    "revoke",
    "rule_for",
]
