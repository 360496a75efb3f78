"""`make test-matrix`: the test suite on every CPython 3.10 to 3.13 on this machine.

Each interpreter gets a virtual environment of its own, `.venv-3.X` (installed
with `.[all,dev]`, again only when pyproject.toml changes), and runs pytest in
it: the quick set (`-m "not slow"`) by default, everything with `--full`
(`make test-matrix FULL=1`); arguments after `--` go to pytest. The version of
`--covered PYTHON`, the interpreter `make test` runs on, is skipped: `make
test` covers it in full.

Interpreters are looked for in pyenv's versions folder (`$PYENV_ROOT`, `pyenv
root`, `~/.pyenv`) and as `python3.X` on PATH; a pyenv shim that is not active
does not count. Each one missing, or unable to make a venv, is named with the
reason; none found is not a failure. Exit status: 1 if any run failed.
`--which 3.X` prints the interpreter found for 3.X (exit 1 if none): `make
test-min` runs on the oldest.

Standard library only: it runs on whatever `python3` make finds.
"""

# ruff: noqa: S603, S607  (it runs interpreters, pip and pyenv: its own commands)
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ("3.10", "3.11", "3.12", "3.13")
PROBE = (
    "import sys, venv, ensurepip; "
    "print(sys.implementation.name, '%d.%d' % sys.version_info[:2], sys.version.split()[0])"
)


@dataclass
class Found:
    version: str  # "3.12"
    full: str  # "3.12.1"
    python: Path


def _probe(python: Path) -> tuple[str, str, str] | None:
    """(implementation, "3.X", "3.X.Y") of a working interpreter with venv, or None."""
    try:
        out = subprocess.run(
            [str(python), "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    words = out.stdout.split()
    if out.returncode != 0 or len(words) != 3:
        return None
    return words[0], words[1], words[2]


def _pyenv_root() -> Path | None:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    if shutil.which("pyenv"):
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    home = Path.home() / ".pyenv"
    return home if home.is_dir() else None


def _patch_key(folder: Path) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in folder.name.split("."))
    except ValueError:
        return (-1,)


def _candidates(version: str) -> list[Path]:
    """Where a CPython `version` may be: pyenv's newest patch release first, then PATH."""
    found: list[Path] = []
    root = _pyenv_root()
    if root is not None and (root / "versions").is_dir():
        # Plain CPython folders only ("3.12.1", not "3.13.0t" or "pypy3.10-...").
        folders = [
            d
            for d in (root / "versions").glob(f"{version}.*")
            if _patch_key(d) != (-1,) and (d / "bin" / f"python{version}").exists()
        ]
        found += [d / "bin" / f"python{version}" for d in sorted(folders, key=_patch_key)[::-1]]
    on_path = shutil.which(f"python{version}")
    if on_path is not None:
        found.append(Path(on_path))
    return found


def find(version: str) -> tuple[Found | None, str]:
    """The interpreter for `version`, or None and why not."""
    candidates = _candidates(version)
    for python in candidates:
        probed = _probe(python)
        if probed is not None and probed[0] == "cpython" and probed[1] == version:
            return Found(version, probed[2], python), ""
    if not candidates:
        return None, f"no python{version} in pyenv's versions or on PATH"
    tried = ", ".join(str(c) for c in candidates)
    return None, f"python{version} does not run, is not CPython or has no venv module ({tried})"


def _version_of(command: str) -> str | None:
    """The "3.X" of the interpreter `command` (a name on PATH or a path), or None."""
    path = shutil.which(command)
    probed = _probe(Path(path)) if path is not None else None
    return probed[1] if probed is not None else None


def _install_stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _run(argv: list[str], log: Path | None = None) -> int:
    print("+", " ".join(argv), flush=True)
    if log is None:
        return subprocess.run(argv, cwd=ROOT, check=False).returncode
    with log.open("w") as out:
        code = subprocess.run(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False)
    if code.returncode != 0:
        print(log.read_text()[-5000:], flush=True)
    return code.returncode


def setup_venv(found: Found) -> tuple[Path, str]:
    """`.venv-3.X` with `.[all,dev]`, made or brought up to date; (its python, error)."""
    venv = ROOT / f".venv-{found.version}"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if python.exists() and _probe(python) is None:
        shutil.rmtree(venv)  # its interpreter is gone or changed: start again
    if not python.exists() and _run([str(found.python), "-m", "venv", str(venv)]) != 0:
        return python, "could not create the venv"
    if stamp.exists() and stamp.read_text() == _install_stamp():
        return python, ""
    log = venv / "install.log"
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    if _run([*pip, "--upgrade", "pip"], log) != 0:
        return python, f"pip upgrade failed (see {log})"
    if _run([*pip, "-e", ".[all,dev]"], log) != 0:
        return python, f"pip install -e .[all,dev] failed (see {log})"
    stamp.write_text(_install_stamp())
    return python, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="run every test, slow ones too")
    parser.add_argument(
        "--covered", metavar="PYTHON", help="skip this interpreter's version (`make test` runs it)"
    )
    parser.add_argument("--which", metavar="3.X", help="print where CPython 3.X is, and stop")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --)")
    args = parser.parse_args(argv)

    if args.which:
        found, why = find(args.which)
        print(found.python if found is not None else why, file=sys.stdout if found else sys.stderr)
        return 0 if found is not None else 1
    default = _version_of(args.covered) if args.covered else None
    selection = [] if args.full else ["-m", "not slow"]
    results: list[tuple[str, str, float]] = []  # (version, outcome, seconds)
    for version in VERSIONS:
        found, why = find(version)
        if found is None:
            results.append((version, f"skipped: {why}", 0.0))
            continue
        if version == default:
            results.append((version, f"skipped: `make test` runs it in full ({args.covered})", 0.0))
            continue
        print(f"\n=== CPython {found.full} ({found.python})", flush=True)
        start = time.monotonic()
        python, error = setup_venv(found)
        installed = time.monotonic()
        if error:
            results.append((version, f"FAILED: {error}", installed - start))
            continue
        code = _run([str(python), "-m", "pytest", *selection, *args.pytest_args])
        done = time.monotonic()
        outcome = "passed" if code == 0 else f"FAILED (pytest exit {code})"
        which = "all tests" if args.full else "quick set"
        results.append(
            (
                version,
                f"{outcome}: {which} on {found.full} in {done - installed:.0f} s "
                f"(+ {installed - start:.0f} s venv)",
                done - start,
            )
        )

    print("\n=== make test-matrix")
    for version, outcome, _ in results:
        print(f"  {version}: {outcome}")
    print(f"  total {sum(s for _, _, s in results):.0f} s")
    return 1 if any("FAILED" in outcome for _, outcome, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
