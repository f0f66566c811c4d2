"""Provenance: what produced a checkpoint or a recording (versions, code, machine, command)."""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata

PACKAGES = ("pfcda", "torch", "numpy", "scipy", "h5py", "brian2", "pynwb", "tqdm")


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def code_version() -> str:
    """``git describe`` of the source tree when it is a checkout, else the installed version."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        desc = subprocess.run(["git", "-C", here, "describe", "--always", "--dirty", "--tags"],
                              capture_output=True, text=True, timeout=5)
        if desc.returncode == 0 and desc.stdout.strip():
            return "git:" + desc.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "pfcda " + package_versions().get("pfcda", "unknown")


def provenance() -> dict:
    return {
        "packages": package_versions(),
        "code_version": code_version(),
        "platform": platform.platform(),
        "command": " ".join(sys.argv),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
