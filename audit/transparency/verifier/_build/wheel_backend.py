"""A PEP 517 build backend for the verifier: a pure-Python wheel, the standard library only.

pip calls build_wheel (and build_sdist for an sdist); the metadata comes from
../pyproject.toml's [project] table. What goes in: every *.py file beside
pyproject.toml, as the package ``ocr_audit_verifier``, and the console script of
[project.scripts]. Nothing is generated or compiled.
"""

import base64
import hashlib
import io
import tarfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ocr_audit_verifier"


def _project() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["project"]


def _metadata(project: dict) -> str:
    """Return the core metadata (version 2.1) of the [project] table."""
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"Requires-Python: {project['requires-python']}",
        *(f"Requires-Dist: {requirement}" for requirement in project["dependencies"]),
        "Description-Content-Type: text/markdown",
    ]
    return "\n".join(lines) + "\n\n" + (ROOT / project["readme"]).read_text("utf-8")


def _sources() -> list[Path]:
    return sorted(ROOT.glob("*.py"))


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings: dict | None = None) -> list[str]:
    return []


def get_requires_for_build_sdist(config_settings: dict | None = None) -> list[str]:
    return []


def build_wheel(
    wheel_directory: str,
    config_settings: dict | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Write the wheel into wheel_directory and return its file name."""
    project = _project()
    stem = f"{PACKAGE}-{project['version']}"
    info = f"{stem}.dist-info"
    scripts = "".join(f"{name} = {target}\n" for name, target in project["scripts"].items())
    files = [(f"{PACKAGE}/{path.name}", path.read_bytes()) for path in _sources()]
    files += [
        (f"{info}/METADATA", _metadata(project).encode()),
        (
            f"{info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: wheel_backend\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n",
        ),
        (f"{info}/entry_points.txt", f"[console_scripts]\n{scripts}".encode()),
    ]
    record = [_record_line(name, data) for name, data in files] + [f"{info}/RECORD,,"]
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    wheel_name = f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / wheel_name, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files:
            wheel.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return wheel_name


def build_sdist(sdist_directory: str, config_settings: dict | None = None) -> str:
    """Write the source distribution into sdist_directory and return its file name."""
    project = _project()
    stem = f"{PACKAGE}-{project['version']}"
    members = [*_sources(), ROOT / "pyproject.toml", ROOT / project["readme"], Path(__file__)]
    name = f"{stem}.tar.gz"
    with tarfile.open(Path(sdist_directory) / name, "w:gz") as sdist:
        for path in members:
            sdist.add(path, arcname=f"{stem}/{path.relative_to(ROOT)}")
        info = tarfile.TarInfo(f"{stem}/PKG-INFO")
        data = _metadata(project).encode()
        info.size = len(data)
        sdist.addfile(info, io.BytesIO(data))
    return name
