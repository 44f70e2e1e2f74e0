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


def ensure_venv() -> tuple[str, str]:
    """Return (python, "") for a venv with the peers installed, or ("", why not).

    The venv sees the project's site-packages through a .pth file, so only the peers
    themselves are installed there, never into the project's own venv.
    """
    python = VENV / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            pth = Path(site_packages(python), "service-packages.pth")
            pth.write_text(site_packages(sys.executable) + "\n")
        if subprocess.run([str(python), "-c", PROBE], capture_output=True).returncode != 0:
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--require-hashes",
                    "-r",
                    str(LOCK),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
    except subprocess.CalledProcessError as error:
        return "", f"the peers did not install from {LOCK.name}: {(error.stderr or '')[-500:]}"
    return str(python), ""
