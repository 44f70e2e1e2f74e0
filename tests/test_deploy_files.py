"""docs/deploy: the systemd units start what exists, and HAProxy checks what the app serves."""

import configparser
import importlib
import re
import shlex
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands, load_command_class

DEPLOY = Path(settings.BASE_DIR) / "docs" / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
# The witness runs on another host or for another party: it gets none of the service's
# environment (no database, no secret), only its own key and the log's public key.
WITNESS = DEPLOY / "systemd" / "ocr-witness.service"
SERVICE_UNITS = [unit for unit in UNITS if unit != WITNESS]


def service_section(unit: Path) -> configparser.SectionProxy:
    # systemd repeats keys (Environment=); the last one wins here, which is enough to read
    # ExecStart. Keys keep their case.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    return parser["Service"]


def test_there_is_a_unit_for_web_worker_sealer_and_witness():
    names = {unit.name for unit in UNITS}
    assert names == {
        "ocr-web.service",
        "ocr-worker@.service",
        "ocr-sealer.service",
        "ocr-witness.service",
    }


def test_the_witness_restarts_as_its_own_user_without_the_services_environment():
    service = service_section(WITNESS)

    assert (service["Restart"], service["User"]) == ("always", "ocr-witness")
    assert "EnvironmentFile" not in service


@pytest.mark.parametrize("unit", SERVICE_UNITS, ids=lambda unit: unit.name)
def test_each_unit_restarts_as_a_dedicated_user_with_the_shared_environment(unit):
    service = service_section(unit)

    assert service["Restart"] == "always"
    assert service["RestartSec"]
    assert service["EnvironmentFile"] == "/etc/ocr/env"
    assert service["User"] not in {"", "root"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_each_exec_start_names_a_command_or_module_that_exists(unit, tmp_path):
    argv = shlex.split(service_section(unit)["ExecStart"])
    if "--log-key" in argv:
        # The witness reads the log's key file as it parses: give it one, in key form.
        from audit.transparency.verifier.signed_note import generate_key

        key_file = tmp_path / "audit-log-key.txt"
        key_file.write_text(generate_key("ocr.example.com/audit")[1] + "\n")
        argv[argv.index("--log-key") + 1] = str(key_file)

    if "manage.py" in argv:
        name, *arguments = argv[argv.index("manage.py") + 1 :]
        app = get_commands()[name]
        # The command's own parser: an option it lacks (say --no-reload) fails here.
        load_command_class(app, name).create_parser("manage.py", name).parse_args(arguments)
    else:
        assert Path(argv[0]).name == "gunicorn"
        module = importlib.import_module(argv[1])
        assert callable(module.application)


@pytest.mark.django_db
def test_the_load_balancer_checks_the_path_the_app_serves(client, settings):
    config = (DEPLOY / "haproxy.cfg").read_text()
    [(method, path)] = re.findall(r"^\s*option httpchk (\S+) (\S+)\s*$", config, re.M)
    [host] = re.findall(r"^\s*http-check send hdr Host (\S+)\s*$", config, re.M)
    # The site that proxy fronts names its host in ALLOWED_HOSTS (README, Deployment).
    settings.ALLOWED_HOSTS = [host]

    response = client.generic(method, path, HTTP_HOST=host)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def pins(lock: Path) -> dict[str, str]:
    """Return a lock's pins, name to version, asserting each is followed by its hashes."""
    text = lock.read_text()
    # name==version, an environment marker perhaps, then the hashes on the next lines.
    pin = r"^([a-z0-9][a-z0-9._-]*)==(\S+)(?: ;[^\\\n]*)? \\\n +--hash=sha256:"
    found = dict(re.findall(pin, text, re.M))
    assert len(found) == len(re.findall(r"^[a-z0-9][a-z0-9._-]*==", text, re.M))
    return found


def test_the_s3_backend_is_locked_with_hashes_and_agrees_with_the_runtime_lock():
    base = Path(settings.BASE_DIR)
    runtime, s3 = pins(base / "requirements.txt"), pins(base / "requirements-s3.txt")
    assert {"django-storages", "boto3", "botocore"} <= set(s3) - set(runtime)
    # The S3 lock is the runtime lock plus the backend: every shared pin is the same.
    assert {name: s3[name] for name in runtime} == runtime
    readme = (base / "README.md").read_text()
    assert "pip install --require-hashes -r requirements-s3.txt" in readme
    assert "pip install 'django-storages" not in readme
