"""Static checks of the Apex real-time package in salesforce-package/ (SFDX source format).

No machine here can reach Salesforce, so the Apex is never compiled or run by these tests. They
check what the source itself can prove: every metadata file is well-formed XML, the triggers
cover the documented objects and events and only delegate, every class and trigger targets API
59.0, the document that TetherPayload writes has exactly the keys docs/realtime-webhook.md
documents, the custom setting has its three fields, every class has a test class, and no class
runs SOQL or DML inside a loop.

One deeper check is opt-in: with TETHER_APEX_LS_CLASSPATH set to a classpath holding apex-ls
(Apex Dev Tools' semantic checker, shipped in the npm package
@salesforce/code-analyzer-pmd-engine under dist/java-lib/*) and a Java runtime, the package is
type-checked against the platform's types and its own objects: unknown fields, variables,
methods and types are reported, as a deploy would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from defusedxml import ElementTree

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "salesforce-package"
DEFAULT = PACKAGE / "force-app" / "main" / "default"
CLASSES = DEFAULT / "classes"
TRIGGERS = DEFAULT / "triggers"
OBJECTS = DEFAULT / "objects"
DOC = ROOT / "docs" / "realtime-webhook.md"

NS = "{http://soap.sforce.com/2006/04/metadata}"
API_VERSION = "59.0"
ACTIVITY_KEY = "Tether_Activity_Key__c"
# Custom fields of Task and Event are defined once, on Activity; their field-level security is
# granted per object (Task.X and Event.X), never as Activity.X.
ACTIVITY_OBJECTS = ("Task", "Event")
TRIGGERED_OBJECTS = ("Account", "Contact", "Event", "Lead", "Opportunity", "Task", "User")
AFTER_EVENTS = {"after insert", "after update", "after delete", "after undelete"}


# -- reading Apex -------------------------------------------------------------------------------
def _mask(source: str, *, strings: bool) -> str:
    """The source with comments (and, if asked, string contents) blanked, same length and lines.

    Keeping every offset lets a block found in the string-less skeleton be read back, strings
    and all, from the comment-less code.
    """
    out: list[str] = []
    i, n = 0, len(source)

    def blank(text: str) -> str:
        return "".join("\n" if ch == "\n" else " " for ch in text)

    while i < n:
        if source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            out.append(blank(source[i:end]))
            i = end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            assert end >= 0, "unterminated /* comment"
            out.append(blank(source[i : end + 2]))
            i = end + 2
        elif source[i] == "'":
            j = i + 1
            while j < n and source[j] != "'":
                assert source[j] != "\n", f"newline inside a string literal at offset {i}"
                j += 2 if source[j] == "\\" else 1
            assert j < n, "unterminated string literal"
            inner = source[i + 1 : j]
            out.append("'" + (blank(inner) if strings else inner) + "'")
            i = j + 1
        else:
            out.append(source[i])
            i += 1
    return "".join(out)


def _code(path: Path) -> str:
    """Apex without comments (string literals kept)."""
    return _mask(path.read_text(encoding="utf-8"), strings=False)


def _skeleton(path: Path) -> str:
    """Apex without comments and with string contents blanked: braces and keywords are code."""
    return _mask(path.read_text(encoding="utf-8"), strings=True)


def _matching(text: str, start: int, open_ch: str, close_ch: str) -> int:
    """Index just past the bracket that closes the one at text[start]."""
    assert text[start] == open_ch
    depth = 0
    for i in range(start, len(text)):
        if text[i] == open_ch:
            depth += 1
        elif text[i] == close_ch:
            depth -= 1
            if depth == 0:
                return i + 1
    raise AssertionError(f"unbalanced {open_ch}{close_ch} from offset {start}")


def _is_test_class(path: Path) -> bool:
    return re.search(r"@IsTest\s+(public|private|global)?\s*class\b", _code(path), re.I) is not None


def _classes() -> list[Path]:
    return sorted(CLASSES.glob("*.cls"))


def _production_classes() -> list[Path]:
    return [path for path in _classes() if not _is_test_class(path)]


# -- reading metadata ---------------------------------------------------------------------------
def _xml(path: Path) -> ElementTree.Element:
    return ElementTree.parse(path).getroot()


def _children(path: Path) -> dict[str, str]:
    """Direct child elements of a metadata file: local name -> text (first occurrence)."""
    result: dict[str, str] = {}
    for child in _xml(path):
        result.setdefault(child.tag.removeprefix(NS), (child.text or "").strip())
    return result


def _field(obj: str, name: str) -> dict[str, str]:
    return _children(OBJECTS / obj / "fields" / f"{name}.field-meta.xml")


# -- reading the documented contract ------------------------------------------------------------
def _doc_example() -> dict[str, object]:
    match = re.search(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, "docs/realtime-webhook.md has no JSON example"
    example = json.loads(match.group(1))
    assert isinstance(example, dict)
    return example


def _doc_request_headers() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```\n(POST /webhooks/salesforce/.*?)```", text, re.S)
    assert block, "docs/realtime-webhook.md has no request block"
    return dict(re.findall(r"^([A-Za-z-]+): (.+)$", block.group(1), re.M))


def _doc_operations() -> set[str]:
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `changes[].operation`"):
            meaning = line.split("|")[2]
            return set(re.findall(r"`(\w+)`", meaning))
    raise AssertionError("docs/realtime-webhook.md does not document changes[].operation")


# -- project and XML ----------------------------------------------------------------------------
def test_sfdx_project_points_at_force_app_with_api_59() -> None:
    project = json.loads((PACKAGE / "sfdx-project.json").read_text(encoding="utf-8"))
    directories = project["packageDirectories"]
    assert [d["path"] for d in directories if d.get("default")] == ["force-app"]
    assert project["sourceApiVersion"] == API_VERSION
    assert DEFAULT.is_dir()


def test_every_xml_file_parses_as_metadata() -> None:
    files = sorted(PACKAGE.rglob("*.xml"))
    expected = {
        *(p.with_name(p.name + "-meta.xml") for p in [*_classes(), *TRIGGERS.glob("*.trigger")]),
        *(OBJECTS / o / f"{o}.object-meta.xml" for o in ("Tether_Setting__c", "Tether_Outbox__c")),
        *OBJECTS.glob("*/fields/*.field-meta.xml"),
        DEFAULT / "remoteSiteSettings" / "Tether.remoteSite-meta.xml",
        DEFAULT / "permissionsets" / "Tether_Realtime.permissionset-meta.xml",
        OBJECTS / "Activity" / "fields" / f"{ACTIVITY_KEY}.field-meta.xml",
    }
    assert expected <= set(files), sorted(str(p) for p in expected - set(files))
    for path in files:
        root = _xml(path)  # raises on malformed XML
        assert root.tag.startswith(NS), f"{path.name}: root {root.tag} is not Metadata API"


# -- triggers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sobject", TRIGGERED_OBJECTS)
def test_trigger_covers_the_after_events_and_only_delegates(sobject: str) -> None:
    path = TRIGGERS / f"Tether{sobject}Trigger.trigger"
    assert path.is_file(), f"missing {path.name}"
    match = re.fullmatch(
        r"\s*trigger\s+(\w+)\s+on\s+(\w+)\s*\(([^)]*)\)\s*\{(.*)\}\s*", _code(path), re.S
    )
    assert match, f"{path.name} is not a single trigger declaration"
    name, target, events, body = match.groups()
    assert name == path.stem
    assert target == sobject
    assert {" ".join(e.split()).lower() for e in events.split(",")} == AFTER_EVENTS
    assert body.split() == [f"TetherTriggerHandler.handle('{sobject}');"]

    meta = _children(path.with_name(path.name + "-meta.xml"))
    assert meta["apiVersion"] == API_VERSION
    assert meta["status"] == "Active"


def test_no_trigger_on_an_object_outside_the_documented_list() -> None:
    for path in sorted(TRIGGERS.glob("*.trigger")):
        target = re.search(r"\btrigger\s+\w+\s+on\s+(\w+)", _code(path))
        assert target, path.name
        assert target.group(1) in TRIGGERED_OBJECTS, f"{path.name} is on {target.group(1)}"
    assert len(list(TRIGGERS.glob("*.trigger"))) == len(TRIGGERED_OBJECTS)


# -- classes ------------------------------------------------------------------------------------
def test_every_class_has_meta_with_api_59_and_its_own_name() -> None:
    classes = _classes()
    assert {p.stem for p in _production_classes()} >= {
        "TetherTriggerHandler",
        "TetherDelivery",
        "TetherOutboxFlush",
        "TetherPayload",
    }
    for path in classes:
        meta_path = path.with_name(path.name + "-meta.xml")
        assert meta_path.is_file(), f"{path.name} has no -meta.xml"
        meta = _children(meta_path)
        assert meta["apiVersion"] == API_VERSION, path.name
        assert meta["status"] == "Active", path.name
        declared = re.search(r"\bclass\s+(\w+)", _code(path))
        assert declared and declared.group(1) == path.stem, path.name


def test_production_classes_declare_their_sharing() -> None:
    for path in _production_classes():
        header = re.search(r"\b(public|global)\s+(.*?)\bclass\s+" + path.stem, _code(path))
        assert header, path.name
        assert re.search(r"\b(with|without|inherited)\s+sharing\b", header.group(2)), path.name


def test_every_class_has_a_test_class() -> None:
    for path in _production_classes():
        test = CLASSES / f"{path.stem}Test.cls"
        assert test.is_file(), f"{path.stem} has no {test.name}"
        assert _is_test_class(test), f"{test.name} is not @IsTest"
        methods = re.findall(r"@IsTest\s+(?:private\s+|public\s+)?static\s+void\s+\w+", _code(test))
        assert methods, f"{test.name} has no test method"


def test_no_soql_or_dml_inside_a_loop() -> None:
    forbidden = re.compile(
        r"\[\s*(SELECT|FIND)\b"
        r"|\b(insert|update|upsert|delete|undelete|merge)\s+[\w(\[]"
        r"|\bDatabase\s*\.\s*(insert|update|upsert|delete|undelete|merge|query)\b",
        re.I,
    )
    for path in _production_classes():
        skeleton = _skeleton(path)
        for loop in re.finditer(r"\b(for|while)\s*\(", skeleton):
            after_header = _matching(skeleton, loop.end() - 1, "(", ")")
            rest = skeleton[after_header:]
            offset = after_header + len(rest) - len(rest.lstrip())
            if skeleton[offset] == "{":
                body = skeleton[offset : _matching(skeleton, offset, "{", "}")]
            else:
                body = skeleton[offset : skeleton.index(";", offset) + 1]
            found = forbidden.search(body)
            assert not found, f"{path.name}: {found.group(0)!r} inside a loop"


# -- the document ---------------------------------------------------------------------------------
def test_payload_writes_exactly_the_documented_keys() -> None:
    example = _doc_example()
    changes = example["changes"]
    assert isinstance(changes, list) and isinstance(changes[0], dict)
    documented = {frozenset(example), frozenset(changes[0])}

    code = _code(CLASSES / "TetherPayload.cls")
    skeleton = _skeleton(CLASSES / "TetherPayload.cls")
    written = set()
    for literal in re.finditer(r"new\s+Map\s*<\s*String\s*,\s*Object\s*>\s*\{", skeleton):
        block = code[literal.end() - 1 : _matching(skeleton, literal.end() - 1, "{", "}")]
        written.add(frozenset(re.findall(r"'(\w+)'\s*=>", block)))
    assert written == documented

    assert re.search(r"\bDOCUMENT_SCHEMA\s*=\s*'([^']*)'", code).group(1) == example["schema"]
    # The records are spliced in at the empty "records" list of the serialized envelope.
    marker = re.search(r"RECORDS_MARKER\s*=\s*'([^']*)'", code).group(1)
    assert json.loads("{" + marker + "}") == {"records": []}
    assert "records" in changes[0]


def test_payload_datetime_format_matches_the_documented_one() -> None:
    code = _code(CLASSES / "TetherPayload.cls")
    pattern = re.search(r"DATETIME_FORMAT\s*=\s*'((?:\\.|[^'\\])*)'", code).group(1)
    pattern = pattern.replace("\\'", "'")
    assert pattern == "yyyy-MM-dd'T'HH:mm:ss.SSS'+0000'"
    committed_at = _doc_example()["committed_at"]
    assert isinstance(committed_at, str)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", committed_at)


def test_handler_operations_are_the_documented_ones() -> None:
    code = _code(CLASSES / "TetherTriggerHandler.cls")
    start = code.index("static String operationName(")
    method = code[start : _matching(code, code.index("{", start), "{", "}")]
    assert set(re.findall(r"operation\s*=\s*'(\w+)'", method)) == _doc_operations()


def test_delivery_sends_the_documented_request() -> None:
    code = _code(CLASSES / "TetherDelivery.cls")
    assert re.search(r"implements\s+Queueable\s*,\s*Database\.AllowsCallouts\b", code)
    assert re.search(r"@future\s*\(\s*callout\s*=\s*true\s*\)", code, re.I)
    assert "setMethod('POST')" in code
    headers = _doc_request_headers()
    assert set(headers) == {"Content-Type", "X-Tether-Token"}
    assert f"setHeader('Content-Type', '{headers['Content-Type']}')" in code
    assert re.search(r"setHeader\('X-Tether-Token',\s*setting\.Token__c\)", code)
    assert "request.setEndpoint(setting.Webhook_URL__c)" in code

    flush = _code(CLASSES / "TetherOutboxFlush.cls")
    assert re.search(
        r"implements\s+Schedulable\s*,\s*Queueable\s*,\s*Database\.AllowsCallouts", flush
    )
    assert "TetherDelivery.post(" in flush, "the flush must send the same request"


# -- custom setting, outbox, remote site, permission set ---------------------------------------
def test_custom_setting_is_a_hierarchy_with_its_three_fields() -> None:
    setting = _children(OBJECTS / "Tether_Setting__c" / "Tether_Setting__c.object-meta.xml")
    assert setting["customSettingsType"] == "Hierarchy"
    assert setting["label"] == "Tether Setting"

    fields = {
        p.name.removesuffix(".field-meta.xml")
        for p in (OBJECTS / "Tether_Setting__c" / "fields").iterdir()
    }
    assert fields == {"Webhook_URL__c", "Token__c", "Enabled__c"}
    for name in fields:
        assert _field("Tether_Setting__c", name)["fullName"] == name

    url = _field("Tether_Setting__c", "Webhook_URL__c")
    assert url["type"] == "Url" or (url["type"] == "Text" and url["length"] == "255")
    token = _field("Tether_Setting__c", "Token__c")
    assert (token["type"], token["length"]) == ("Text", "255")
    enabled = _field("Tether_Setting__c", "Enabled__c")
    assert (enabled["type"], enabled["defaultValue"]) == ("Checkbox", "true")


def test_outbox_holds_a_whole_document_and_is_private() -> None:
    outbox = _children(OBJECTS / "Tether_Outbox__c" / "Tether_Outbox__c.object-meta.xml")
    assert outbox["sharingModel"] == "Private"
    assert outbox["deploymentStatus"] == "Deployed"
    payload = _field("Tether_Outbox__c", "Payload__c")
    assert (payload["type"], payload["length"]) == ("LongTextArea", "131072")
    assert _field("Tether_Outbox__c", "Attempts__c")["type"] == "Number"
    for path in (OBJECTS / "Tether_Outbox__c" / "fields").iterdir():
        assert _children(path)["fullName"] == path.name.removesuffix(".field-meta.xml")

    # Documents are split to fit the outbox field exactly.
    code = _code(CLASSES / "TetherPayload.cls")
    assert re.search(r"maxDocumentChars\s*=\s*(\d+)", code).group(1) == payload["length"]


def test_remote_site_placeholder_is_documented_in_the_readme() -> None:
    site = _children(DEFAULT / "remoteSiteSettings" / "Tether.remoteSite-meta.xml")
    assert site["url"].startswith("https://")
    assert site["isActive"] == "true"
    assert site["disableProtocolSecurity"] == "false"

    readme = (PACKAGE / "README.md").read_text(encoding="utf-8")
    assert site["url"] in readme
    assert "/webhooks/salesforce/<workspace id>" in readme
    for step in ("Remote Site", "Custom Settings", "Tether Setting", "Token", "Tether_Realtime"):
        assert step in readme or step.replace("_", " ") in readme, step
    links = re.findall(r"\]\((\.\./[^)]+)\)", readme)
    assert "../docs/realtime-webhook.md" in links
    for link in links:
        assert (PACKAGE / link).resolve().is_file(), link


def test_permission_set_grants_only_what_exists() -> None:
    root = _xml(DEFAULT / "permissionsets" / "Tether_Realtime.permissionset-meta.xml")

    def values(section: str, key: str) -> list[str]:
        return [
            (element.findtext(f"{NS}{key}") or "").strip()
            for element in root.findall(f"{NS}{section}")
        ]

    settings = values("customSettingAccesses", "name")
    assert settings == ["Tether_Setting__c"]
    for obj in values("objectPermissions", "object"):
        assert (OBJECTS / obj / f"{obj}.object-meta.xml").is_file(), obj
    assert "Tether_Outbox__c" in values("objectPermissions", "object")
    for field in values("fieldPermissions", "field"):
        obj, name = field.split(".")
        assert obj != "Activity", f"{field}: grant Activity fields as Task.X and Event.X"
        meta = _field("Activity" if obj in ACTIVITY_OBJECTS else obj, name)  # exists
        assert meta.get("required", "false") == "false", f"{field}: required fields take no FLS"
    for apex_class in values("classAccesses", "apexClass"):
        assert (CLASSES / f"{apex_class}.cls").is_file(), apex_class


def test_metadata_descriptions_fit_their_fields() -> None:
    """Deploys fail on a description longer than the platform allows."""
    permission_set = DEFAULT / "permissionsets" / "Tether_Realtime.permissionset-meta.xml"
    assert len(_children(permission_set)["description"]) <= 255
    for path in OBJECTS.glob("*/fields/*.field-meta.xml"):
        meta = _children(path)
        assert len(meta.get("description", "")) <= 1000, path.name
        assert len(meta.get("inlineHelpText", "")) <= 510, path.name


# -- the activity key field ---------------------------------------------------------------------
def test_activity_key_is_a_unique_case_sensitive_external_id_on_activity() -> None:
    key = _field("Activity", ACTIVITY_KEY)
    assert key["fullName"] == ACTIVITY_KEY
    assert (key["type"], key["length"], key["label"]) == ("Text", "80", "Tether Activity Key")
    assert (key["externalId"], key["unique"], key["caseSensitive"]) == ("true", "true", "true")
    assert key["required"] == "false"
    assert "upsert" in key["description"]
    # Task and Event take no custom fields of their own in metadata: they are Activity's.
    for obj in ACTIVITY_OBJECTS:
        assert not (OBJECTS / obj).exists(), f"objects/{obj}: author activity fields on Activity"
    assert [p.name for p in (OBJECTS / "Activity").iterdir()] == ["fields"]


def test_activity_key_matches_the_emulated_package() -> None:
    """sfemu's package install adds the same field, so Tether is tested against what ships."""
    from sfemu.api.admin import ACTIVITY_KEY_FIELD

    key = _field("Activity", ACTIVITY_KEY)
    assert ACTIVITY_KEY_FIELD["name"] == key["fullName"]
    assert ACTIVITY_KEY_FIELD["label"] == key["label"]
    assert str(ACTIVITY_KEY_FIELD["length"]) == key["length"]
    for attribute in ("externalId", "unique", "caseSensitive"):
        assert str(ACTIVITY_KEY_FIELD[attribute]).lower() == key[attribute], attribute


def test_permission_set_lets_tether_write_the_activity_key() -> None:
    root = _xml(DEFAULT / "permissionsets" / "Tether_Realtime.permissionset-meta.xml")
    grants = {
        (element.findtext(f"{NS}field") or "").strip(): (
            element.findtext(f"{NS}readable"),
            element.findtext(f"{NS}editable"),
        )
        for element in root.findall(f"{NS}fieldPermissions")
    }
    for obj in ACTIVITY_OBJECTS:
        assert grants.get(f"{obj}.{ACTIVITY_KEY}") == ("true", "true"), obj
    assert f"Activity.{ACTIVITY_KEY}" not in grants


def test_readme_explains_the_activity_key() -> None:
    readme = (PACKAGE / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The activity key field") :]
    section = " ".join(section[: section.index("\n## ", 1)].split())
    assert ACTIVITY_KEY in section
    assert "upsert" in section and "never duplicates" in section
    for obj in ACTIVITY_OBJECTS:
        assert f"{obj}.{ACTIVITY_KEY}" in section
    assert "objects/Activity/fields/" in section


# -- opt-in: semantic check with apex-ls ---------------------------------------------------------
APEX_LS_CLASSPATH = os.environ.get("TETHER_APEX_LS_CLASSPATH", "")


@pytest.mark.skipif(
    not APEX_LS_CLASSPATH or shutil.which("java") is None,
    reason="set TETHER_APEX_LS_CLASSPATH (and have java) to type-check the Apex with apex-ls",
)
def test_apex_ls_reports_no_errors() -> None:
    command = [
        *("java", "-cp", APEX_LS_CLASSPATH, "io.github.apexdevtools.apexls.CheckForIssues"),
        *("--workspace", str(PACKAGE), "--nocache", "--format", "json"),
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["files"] == [], json.dumps(report["files"], indent=1)
    assert result.returncode == 0, result.stderr
