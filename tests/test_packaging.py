"""The wheel, installed into a clean virtual environment with one extra."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    out = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, cwd=cwd
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheel_with_only_urllib3(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT)
    [wheel] = dist.glob("batchdelete-*.whl")
    names = _run(sys.executable, "-m", "zipfile", "-l", wheel)
    for module in (
        "batchdelete_requests.py",
        "batchdelete_httpx.py",
        "batchdelete_urllib3.py",
        "batchdelete/py.typed",
        "batchdelete/__init__.py",
        "batchdelete/emulator/__init__.py",
        "batchdelete/emulator/pytest_plugin.py",
        "batchdelete/cli/__init__.py",
        "batchdelete/bench/__init__.py",
        "batchdelete/bench/_worker.py",
        "batchdelete/bench/_server.py",
    ):
        assert module in names
    assert "plugins/" not in names and "tests/" not in names

    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    _run(py, "-m", "pip", "install", "-q", f"batchdelete[urllib3] @ {wheel.as_uri()}")
    rows = {
        r["name"]: r
        for r in json.loads(_run(env / "bin" / "batchdelete", "transports", "--json", cwd=tmp_path))
    }
    assert rows["urllib3"]["available"] and rows["urllib3"]["version"]
    for name in ("httpx", "requests"):
        assert not rows[name]["available"]
        assert rows[name]["install"] == f"pip install 'batchdelete[{name}]'"
        assert name in rows[name]["reason"]
    installed = _run(py, "-m", "pip", "list", "--format=json")
    packages = {p["name"].lower() for p in json.loads(installed)}
    assert {"msgspec", "pluggy", "urllib3"} <= packages
    assert not packages & {"requests", "httpx"}
    # Automatic choice works with what is there; asking for the rest explains.
    code = (
        "import batchdelete as bd\n"
        "print(bd.Client(api_key='k').transport.name)\n"
        "try:\n    bd.Client(api_key='k', transport='httpx')\n"
        "except bd.ConfigurationError as e:\n    print(e)\n"
    )
    out = _run(py, "-c", code, cwd=tmp_path)
    assert out.splitlines()[0] == "urllib3"
    assert "pip install 'batchdelete[httpx]'" in out
    # The emulator and the workflows run with only the core and urllib3.
    out = _run(env / "bin" / "batchdelete", "demo", cwd=tmp_path)
    assert "urllib3" in out and "0 batches left" in out
    # So do the benchmarks: what is not installed is skipped, never an ImportError.
    out = _run(
        env / "bin" / "batchdelete", "bench", "--quick", "--only", "decode,latency", cwd=tmp_path
    )
    assert "batchdelete[urllib3]" in out and "bare urllib3" in out and "bare http.client" in out
    for skipped in ("anthropic SDK: not installed", "pydantic v2", "orjson + dict"):
        assert skipped in out
    assert "batchdelete[httpx]: not installed (pip install 'batchdelete[httpx]')" in out
    assert out.rstrip().splitlines()[-1].startswith("Recommendation: use the ")
