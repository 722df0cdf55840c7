"""The SOAP ``login`` call of the partner API, as simple-salesforce uses it."""

from __future__ import annotations

from xml.sax.saxutils import escape

import defusedxml.ElementTree as ET
from starlette.requests import Request
from starlette.responses import Response

from sfemu.api.oauth import base_url
from sfemu.core import Emulator

_ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
             'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
             'xmlns="urn:partner.soap.sforce.com" xmlns:sf="urn:fault.partner.soap.sforce.com" '
             'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>{}'
             '</soapenv:Body></soapenv:Envelope>')


def fault(code: str, message: str) -> Response:
    body = (f"<soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: "
            f"{escape(message)}</faultstring><detail><sf:LoginFault xsi:type=\"sf:LoginFault\">"
            f"<sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>"
            f"{escape(message)}</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>")
    return Response(_ENVELOPE.format(body), status_code=500, media_type="text/xml")


def _text(root: object, local: str) -> str:
    for el in root.iter():  # type: ignore[attr-defined]
        if str(el.tag).rsplit("}", 1)[-1] == local:
            return str(el.text or "")
    return ""


async def login(request: Request, emu: Emulator, sandbox_host: bool) -> Response:
    try:
        root = ET.fromstring(await request.body())
    except ET.ParseError:
        return fault("INVALID_LOGIN", "Invalid username, password, security token; or user "
                     "locked out.")
    username, password = _text(root, "username"), _text(root, "password")
    found = emu.authenticate(username, password)
    if found is None or found[0].is_sandbox != sandbox_host:
        return fault("INVALID_LOGIN", "Invalid username, password, security token; or user "
                     "locked out.")
    org, user_id = found
    if not org.api_enabled:
        return fault("API_DISABLED_FOR_ORG", "API is not enabled for this Organization or "
                     "Partner")
    version = request.path_params.get("version", "59.0")
    session_id = emu.issue_token(org, user_id, "access", ttl=emu.token_ttl)
    user = emu.user(org, user_id)
    base = base_url(request)
    result = (
        f"<loginResponse><result><metadataServerUrl>{base}/services/Soap/m/{version}/"
        f"{org.id[:15]}</metadataServerUrl><passwordExpired>false</passwordExpired>"
        f"<sandbox>{str(org.is_sandbox).lower()}</sandbox><serverUrl>{base}/services/Soap/u/"
        f"{version}/{org.id[:15]}</serverUrl><sessionId>{escape(session_id)}</sessionId>"
        f"<userId>{user_id}</userId><userInfo><organizationId>{org.id}</organizationId>"
        f"<organizationName>{escape(org.name)}</organizationName><profileId>"
        f"{user['ProfileId']}</profileId><sessionSecondsValid>{int(emu.token_ttl)}"
        f"</sessionSecondsValid><userEmail>{escape(user['Email'])}</userEmail><userFullName>"
        f"{escape(user['Name'])}</userFullName><userId>{user_id}</userId><userName>"
        f"{escape(user['Username'])}</userName></userInfo></result></loginResponse>")
    return Response(_ENVELOPE.format(result), media_type="text/xml")
