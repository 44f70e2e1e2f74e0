"""A throwaway venv holding the peers on top of the project's packages, from a hashed lock."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / "var" / "venv-peers"
LOCK = ROOT / "bench" / "requirements-peers.txt"
# One module of each peer: the venv is ready when every one imports.
PROBE = "import auditlog, easyaudit"


def site_packages(python: Path | str) -> str:
    """Return the purelib directory of the interpreter `python`."""
    return subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def throwaway_venv(*, venv: Path, lock: Path, probe: str, failed: str) -> tuple[str, str]:
    """Return (python, "") for `venv` with `lock` installed, or ("", why not).

    The venv sees the project's site-packages through a .pth file, so only what `lock`
    adds is installed there, never into the project's own venv. `probe` is code that
    runs once it is ready; `failed` starts the reason given when pip fails.
    """
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pth = Path(site_packages(python), "service-packages.pth")
            pth.write_text(site_packages(sys.executable) + "\n")
        if subprocess.run([str(python), "-c", probe], capture_output=True).returncode != 0:
            subprocess.run(
                # From its hash-pinned lock (make lock), like every package the project installs.
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--require-hashes",
                    "-r",
                    str(lock),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
    except subprocess.CalledProcessError as error:
        return "", f"{failed}: {(error.stderr or '')[-500:]}"
    return str(python), ""


def ensure_venv() -> tuple[str, str]:
    """Return (python, "") for a venv with the peers installed, or ("", why not)."""
    return throwaway_venv(
        venv=VENV, lock=LOCK, probe=PROBE, failed=f"the peers did not install from {LOCK.name}"
    )
