"""jsforce, unmodified, for tests: installed once with npm into a cache outside the repository
and run as small node scripts against a live sfemu.

The install lives in ``$XDG_CACHE_HOME/tether-tests/jsforce/<version>`` (``~/.cache`` by
default), keyed by the requested version and reused while it is there; it is written to a
temporary directory first and renamed into place, so an interrupted install is never reused.
Where node or npm is missing the tests are skipped, saying so; a failing install fails them.

Scripts trust sfemu's private CA through ``NODE_EXTRA_CA_CERTS`` (TLS verification stays on).
A script is the body of an ``async`` function with ``jsforce`` and the parameters ``P`` in
scope; what it returns comes back as JSON.  A jsforce error comes back as :class:`JsforceError`
with jsforce's ``name``, ``errorCode`` and ``message``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

JSFORCE_VERSION = "3"  # the major version third parties use today
_INSTALL_TIMEOUT = 600
_SCRIPT_TIMEOUT = 120
_PRELUDE = r"""
const jsforce = require('jsforce');
const P = JSON.parse(process.env.JSFORCE_TEST_PARAMS);
(async () => {
%s
})().then(
  (result) => { process.stdout.write('\n' + JSON.stringify({ok: true, result: result ?? null})); },
  (err) => {
    process.stdout.write('\n' + JSON.stringify({ok: false, error: {
      name: err && err.name, errorCode: err && err.errorCode, message: String(err && err.message),
    }}));
  });
"""


class JsforceError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('errorCode') or error.get('name')}: {error.get('message')}")
        self.name = str(error.get("name"))
        self.error_code = error.get("errorCode")
        self.message = str(error.get("message"))


def cache_dir(version: str = JSFORCE_VERSION) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "tether-tests" / "jsforce" / version


def ensure_jsforce(version: str = JSFORCE_VERSION) -> Path:
    """The node_modules directory holding jsforce@version, installing it the first time."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("jsforce tests need node and npm on PATH (apt-get install nodejs npm); "
                    f"missing: {', '.join(n for n, p in (('node', node), ('npm', npm)) if not p)}")
    target = cache_dir(version)
    modules = target / "node_modules"
    if (modules / "jsforce" / "package.json").is_file():
        return modules
    shutil.rmtree(target, ignore_errors=True)  # an unusable leftover
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{version}.", dir=target.parent))
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund",
             "--no-package-lock", "--loglevel=error", f"jsforce@{version}"],
            capture_output=True, text=True, timeout=_INSTALL_TIMEOUT, check=False)
        if done.returncode != 0:
            pytest.fail(f"npm install jsforce@{version} failed:\n{done.stdout}\n{done.stderr}")
        try:
            staging.rename(target)
        except OSError:  # another run installed it meanwhile: use that one
            if not (modules / "jsforce" / "package.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return modules


@dataclass
class Jsforce:
    node_modules: Path
    base_url: str
    ca_file: str

    @property
    def version(self) -> str:
        package = json.loads((self.node_modules / "jsforce" / "package.json").read_text())
        return str(package["version"])

    def run(self, body: str, **params: Any) -> Any:
        """Run ``body`` in node; answers what it returns, or raises JsforceError."""
        env = {**os.environ, "NODE_PATH": str(self.node_modules),
               "NODE_EXTRA_CA_CERTS": self.ca_file,
               "JSFORCE_TEST_PARAMS": json.dumps({"base": self.base_url, **params})}
        env.pop("NODE_TLS_REJECT_UNAUTHORIZED", None)
        with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as script:
            script.write(_PRELUDE % body)
        try:
            done = subprocess.run(["node", script.name], capture_output=True, text=True,
                                  env=env, timeout=_SCRIPT_TIMEOUT, check=False)
        finally:
            os.unlink(script.name)
        try:  # the answer is the last line (anything jsforce logs comes before it)
            answer = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError(f"node failed ({done.returncode}):\n{done.stdout}\n"
                                 f"{done.stderr}") from None
        if not answer["ok"]:
            raise JsforceError(answer["error"])
        return answer["result"]
