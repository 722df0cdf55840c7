"""The partner API's SOAP endpoint: ``login`` (as simple-salesforce and jsforce use it) and
``logout`` (jsforce's ``conn.logout()``), chosen by the element in the SOAP Body."""

from __future__ import annotations

from xml.sax.saxutils import escape

import defusedxml.ElementTree as ET
from starlette.requests import Request
from starlette.responses import Response

from sfemu.api.oauth import base_url
from sfemu.core import Emulator

_PARTNER_NS = "urn:partner.soap.sforce.com"
_ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
             'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
             f'xmlns="{_PARTNER_NS}" xmlns:sf="urn:fault.partner.soap.sforce.com" '
             'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>{}'
             '</soapenv:Body></soapenv:Envelope>')
_INVALID_LOGIN = "Invalid username, password, security token; or user locked out."


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def fault(code: str, message: str, kind: str = "LoginFault") -> Response:
    body = (f"<soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: "
            f"{escape(message)}</faultstring><detail><sf:{kind} xsi:type=\"sf:{kind}\">"
            f"<sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>"
            f"{escape(message)}</sf:exceptionMessage></sf:{kind}></detail></soapenv:Fault>")
    return Response(_ENVELOPE.format(body), status_code=500, media_type="text/xml")


def _client_fault(message: str) -> Response:
    body = (f"<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>"
            f"{escape(message)}</faultstring></soapenv:Fault>")
    return Response(_ENVELOPE.format(body), status_code=500, media_type="text/xml")


def _text(root: object, local: str) -> str:
    for el in root.iter():  # type: ignore[attr-defined]
        if _local(el.tag) == local:
            return str(el.text or "")
    return ""


def _operation(root: object) -> str:
    """The local name of the first element inside the SOAP Body (``login``, ``logout``)."""
    for el in root.iter():  # type: ignore[attr-defined]
        if _local(el.tag) == "Body":
            for child in el:
                return _local(child.tag)
    return ""


async def endpoint(request: Request, emu: Emulator, sandbox_host: bool) -> Response:
    try:
        root = ET.fromstring(await request.body())
    except ET.ParseError:
        return _client_fault("Unable to parse the SOAP request: not well-formed XML")
    operation = _operation(root)
    if operation == "login":
        return _login(request, emu, sandbox_host, root)
    if operation == "logout":
        return _logout(emu, root)
    return _client_fault(f"No operation available for request {{{_PARTNER_NS}}}{operation}, "
                         "please check the WSDL for the service.")


def _login(request: Request, emu: Emulator, sandbox_host: bool, root: object) -> Response:
    found = emu.authenticate(_text(root, "username"), _text(root, "password"))
    if found is None or found[0].is_sandbox != sandbox_host:
        return fault("INVALID_LOGIN", _INVALID_LOGIN)
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


def _logout(emu: Emulator, root: object) -> Response:
    """Ends the session named in the SessionHeader: later calls with it get
    INVALID_SESSION_ID, as after Salesforce's logout()."""
    session_id = _text(root, "sessionId")
    if emu.token_record(session_id, "access") is None:
        return fault("INVALID_SESSION_ID", "Invalid Session ID found in SessionHeader: Illegal "
                     "Session", kind="UnexpectedErrorFault")
    emu.revoke_token(session_id)
    return Response(_ENVELOPE.format("<logoutResponse/>"), media_type="text/xml")
