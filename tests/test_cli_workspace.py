"""Workspaces on the command line and in the tool layer, against the
emulator: `--workspace` on every command that talks to the API, refused
before any request unless it is a workspace id; the workspace in the
journal (and a resume that keeps to it), in the outcomes, the report and
the "not found" lines; `-v` naming the credential's step of the chain."""

from __future__ import annotations

import asyncio
import csv
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import batchdelete as bd
from batchdelete._ids import InvalidWorkspaceIdError, check_workspace_id
from batchdelete.emulator import DEFAULT_WORKSPACE_ID, Emulator
from tests.test_cli import run

pytestmark = pytest.mark.timeout(90)

WS_A, WS_B = "wrkspc_A", "wrkspc_B"
KEY_A = "sk-ant-test-key-of-A-SECRET-7f3e9a"
KEY_B = "sk-ant-test-key-of-B-SECRET-91c2d4"
HEADER = "anthropic-workspace-id"
#: What could point a client elsewhere than the emulator's key.
CHAIN_VARS = (
    *("ANTHROPIC_PROFILE", "ANTHROPIC_FEDERATION_RULE_ID", "ANTHROPIC_ORGANIZATION_ID"),
    *("ANTHROPIC_IDENTITY_TOKEN", "ANTHROPIC_IDENTITY_TOKEN_FILE", "ANTHROPIC_WORKSPACE_ID"),
    *("ANTHROPIC_SERVICE_ACCOUNT_ID", "ANTHROPIC_CUSTOM_HEADERS"),
)
MODES = pytest.mark.parametrize("mode", [[], ["--async"]], ids=["sync", "async"])


@pytest.fixture
def api(batch_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Emulator:
    """The emulator with a key bound to wrkspc_A (in ANTHROPIC_API_KEY) and
    one bound to wrkspc_B; nothing else of the credential chain is set."""
    for name in CHAIN_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "no-profiles"))
    batch_emulator.add_api_key(KEY_A, workspace_id=WS_A)
    batch_emulator.add_api_key(KEY_B, workspace_id=WS_B)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY_A)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", batch_emulator.base_url)
    return batch_emulator


def api_requests(api: Emulator) -> list[dict[str, str]]:
    """The headers of every API request (the token endpoint's left out)."""
    return [r.headers for r in api.requests if r.route not in (None, "token")]


def deletes(api: Emulator) -> Counter[tuple[str, int | None]]:
    """(batch id, status) of every DELETE the emulator answered."""
    return Counter(
        (r.target.rsplit("/", 1)[-1], r.status) for r in api.requests if r.route == "delete"
    )


def ids_in(api: Emulator, workspace: str) -> set[str]:
    return {b["id"] for b in api.batches(workspace)}


def journal_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- --workspace on every command ---------------------------------------------------

Argv = Callable[[str, str], list[str]]
COMMANDS: dict[str, Argv] = {
    "delete": lambda ended, running: ["delete", ended],
    "delete-async": lambda ended, running: ["delete", "--async", ended],
    "delete-force": lambda ended, running: ["delete", "--force", running],
    "prune-plan": lambda ended, running: ["prune", "--older-than", "0s"],
    "prune": lambda ended, running: ["prune", "--older-than", "0s", "--yes"],
    "prune-async": lambda ended, running: ["prune", "--async", "--older-than", "0s", "--yes"],
    "list": lambda ended, running: ["list"],
    "get": lambda ended, running: ["get", ended, running],
    "cancel": lambda ended, running: ["cancel", running],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_sends_the_workspace(
    api: Emulator, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    ended = api.add_batch("ended", workspace_id=WS_A).id
    running = api.add_batch("in_progress", workspace_id=WS_A).id
    code, _, err = run(capsys, *COMMANDS[command](ended, running), "--workspace", WS_A)
    assert code == 0, err
    sent = api_requests(api)
    assert sent and all(headers.get(HEADER) == WS_A for headers in sent)


def test_without_workspace_no_header_is_sent(
    api: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    ended = api.add_batch("ended", workspace_id=WS_A).id
    code, out, _ = run(capsys, "delete", ended)
    assert code == 0 and out.startswith(f"deleted {ended}")
    assert api_requests(api) and all(HEADER not in h for h in api_requests(api))


BAD_WORKSPACES = [
    *("default", "", "wrkspc_", "WRKSPC_A", "workspace_A", " wrkspc_A", "wrkspc_A "),
    *("wrkspc_A\n", "wrkspc_A,wrkspc_B", "wrkspc_a-b", "wrkspc_é", "msgbatch_A"),
]


@pytest.mark.parametrize("value", BAD_WORKSPACES)
def test_a_bad_workspace_is_refused_before_any_request(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    batch = api.add_batch("ended", workspace_id=WS_A).id
    journal, report = tmp_path / "run.jsonl", tmp_path / "run.csv"
    argv = ["delete", batch, "--journal", str(journal), "--report", str(report)]
    code, out, err = run(capsys, *argv, f"--workspace={value}")
    assert code == 2 and out == ""
    assert f"argument --workspace: {value!r} is not a workspace id" in err
    assert "Nothing was sent" in err and err.count("\n") == 1
    assert api.requests == [] and not journal.exists() and not report.exists()
    assert api.batch(batch) is not None


@pytest.mark.parametrize("command", COMMANDS)
def test_default_is_refused_on_every_command(
    api: Emulator, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    ended = api.add_batch("ended", workspace_id=WS_A).id
    running = api.add_batch("in_progress", workspace_id=WS_A).id
    argv = [*COMMANDS[command](ended, running), "--workspace", "default", "--json"]
    code, out, err = run(capsys, *argv)
    assert code == 2 and "(the default workspace too is named by its id here)" in err
    row = json.loads(out)
    assert row["ok"] is False and row["error"] == "UsageError" and row["exit_code"] == 2
    assert api.requests == []


def test_the_emulators_workspace_ids_pass_the_check(api: Emulator) -> None:
    for value in (DEFAULT_WORKSPACE_ID, api.workspace_id, WS_A, WS_B, "wrkspc_01JwQvzr7rX"):
        assert check_workspace_id(value) == value
    for bad in (*BAD_WORKSPACES, None, 7, b"wrkspc_A"):
        with pytest.raises(InvalidWorkspaceIdError) as caught:
            check_workspace_id(bad)
        assert isinstance(caught.value, bd.ConfigurationError)
        assert caught.value.workspace_id == bad


def test_the_workflows_refuse_a_bad_workspace_before_any_request(
    api: Emulator, tmp_path: Path
) -> None:
    batch = api.add_batch("ended").id
    journal = tmp_path / "run.jsonl"
    url = api.base_url
    with bd.Client(api_key=api.api_key, base_url=url, workspace_id="default") as client:
        with pytest.raises(InvalidWorkspaceIdError, match="'default' is not a workspace id"):
            bd.delete_many(client, [batch], journal=journal)
        with pytest.raises(InvalidWorkspaceIdError):
            bd.delete_batch(client, batch)

    async def adelete() -> None:
        async with bd.AsyncClient(api_key=api.api_key, base_url=url, workspace_id="x") as c:
            with pytest.raises(InvalidWorkspaceIdError):
                await bd.adelete_many(c, [batch])
            with pytest.raises(InvalidWorkspaceIdError):
                await bd.adelete_batch(c, batch)

    asyncio.run(adelete())
    assert api.requests == [] and not journal.exists() and api.batch(batch) is not None


def test_a_workspace_header_from_elsewhere_is_sent_and_recorded(
    api: Emulator, tmp_path: Path
) -> None:
    """Only a `workspace_id=` given to the client is checked: a workspace
    header from elsewhere (a profile's, the SDK's literal "default" among
    them; here through default_headers) is left to the API, and recorded."""
    journal = tmp_path / "run.jsonl"
    for value, status in ((WS_A, "deleted"), ("default", "failed")):
        batch = api.add_batch("ended", workspace_id=WS_A).id
        headers = {HEADER: value}
        with bd.Client(api_key=KEY_A, base_url=api.base_url, default_headers=headers) as c:
            [outcome] = bd.delete_many(c, [batch], journal=journal)
        assert (outcome.status, outcome.workspace) == (status, value)
    assert isinstance(outcome.error, bd.BadRequestError)  # the emulator's 400 for "default"
    assert [line["workspace"] for line in journal_lines(journal)] == [WS_A, "default"]


# -- the journal and the outcomes ---------------------------------------------------


@MODES
def test_journal_lines_and_outcomes_carry_the_workspace(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: list[str]
) -> None:
    ids = [api.add_batch("ended", workspace_id=WS_A).id for _ in range(3)]
    journal = tmp_path / "run.jsonl"
    argv = ["delete", *mode, *ids, "--journal", str(journal), "--json"]
    code, out, err = run(capsys, *argv, "--workspace", WS_A)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["id"] for r in rows} == set(ids) and all(r["workspace"] == WS_A for r in rows)
    assert [(r["id"], r["workspace"]) for r in journal_lines(journal)] == [
        (r["id"], WS_A) for r in rows
    ]
    # Without --workspace the key's own workspace acts, and the answer names it.
    more = api.add_batch("ended", workspace_id=WS_A).id
    code, out, err = run(capsys, "delete", *mode, more, "--journal", str(journal), "--json")
    assert code == 0 and json.loads(out)["workspace"] == WS_A
    assert journal_lines(journal)[-1]["id"] == more
    assert journal_lines(journal)[-1]["workspace"] == WS_A


def test_library_outcomes_carry_the_client_workspace(api: Emulator) -> None:
    ids = [api.add_batch("ended", workspace_id=WS_A).id for _ in range(2)]
    with bd.Client(api_key=KEY_A, base_url=api.base_url, workspace_id=WS_A) as client:
        outcomes = bd.delete_many(client, [*ids, "msgbatch_nowhere"], missing_ok=True)
        assert {o.workspace for o in outcomes} == {WS_A}
        assert bd.delete_batch(client, "msgbatch_gone", missing_ok=True).workspace == WS_A
    with bd.Client(api_key=KEY_A, base_url=api.base_url, workspace_id=WS_B) as client:
        [denied] = bd.delete_many(client, ["msgbatch_x"])
        assert denied.status == "failed" and denied.workspace == WS_B
        assert isinstance(denied.error, bd.PermissionDeniedError)


@MODES
def test_a_resume_in_another_workspace_skips_only_the_deleted(
    api: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: list[str],
) -> None:
    in_a = api.add_batch("ended", workspace_id=WS_A).id
    in_b = api.add_batch("ended", workspace_id=WS_B).id
    journal = str(tmp_path / "run.jsonl")
    argv = ["delete", *mode, in_a, in_b, "--missing-ok", "--journal", journal]
    # In wrkspc_A: one deleted, the other not found there (it is in wrkspc_B).
    code, out, err = run(capsys, *argv, "--workspace", WS_A)
    assert code == 0, err
    assert f"deleted {in_a}" in out and f"not found in {WS_A} {in_b}" in out
    assert ids_in(api, WS_B) == {in_b}
    # In wrkspc_B, with its key: the one deleted is skipped (an id is unique across
    # workspaces), the one not found in wrkspc_A is tried here, and deleted.
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY_B)
    code, out, err = run(capsys, *argv, "--workspace", WS_B)
    assert code == 0, err
    assert out.startswith(f"deleted {in_b}") and in_a not in out
    assert "; 1 skipped as already done." in err
    assert api.batches() == []
    # Again in each: both are done there now, nothing is sent.
    before = deletes(api)
    for key, workspace in ((KEY_A, WS_A), (KEY_B, WS_B)):
        monkeypatch.setenv("ANTHROPIC_API_KEY", key)
        code, out, err = run(capsys, *argv, "--workspace", workspace)
        assert code == 0 and out == "" and "; 2 skipped as already done." in err
    assert deletes(api) == before
    workspaces = [(line["id"], line["workspace"]) for line in journal_lines(Path(journal))]
    assert sorted(workspaces) == sorted([(in_a, WS_A), (in_b, WS_A), (in_b, WS_B)])


def test_an_older_journal_counts_as_no_workspace(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Lines written before the field existed have no "workspace": a deleted
    one is done for every run (ids are unique across workspaces); a missing
    one only for a run that names no workspace."""
    batch = api.add_batch("ended", workspace_id=WS_A).id
    journal = tmp_path / "old.jsonl"
    old = {"canceled": False, "attempts": 1, "request_id": None, "elapsed": 0.1}
    lines = [{"id": "msgbatch_deleted", "status": "deleted"}, {"id": batch, "status": "missing"}]
    journal.write_text("".join(json.dumps({**line, **old}) + "\n" for line in lines))
    with bd.Journal(journal) as log:
        assert log.done == log.done_in(None) == {"msgbatch_deleted", batch}
        assert log.done_in(WS_A) == {"msgbatch_deleted"}
        assert log.pending([batch]) == [] and log.pending([batch], workspace=WS_A) == [batch]
    code, out, err = run(capsys, "delete", batch, "--journal", str(journal))
    assert code == 0 and out == "" and "1 skipped as already done" in err
    argv = ["delete", batch, "msgbatch_deleted", "--journal", str(journal)]
    code, out, err = run(capsys, *argv, "--workspace", WS_A)
    assert code == 0 and out.startswith(f"deleted {batch}") and "1 skipped" in err
    assert api.batches() == []


def test_a_journal_line_with_a_bad_workspace_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "bad.jsonl"
    line = {"id": "msgbatch_a", "workspace": 7, "status": "deleted"}
    journal.write_text(json.dumps(line) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(bd.ConfigurationError, match="Line 1 of the journal"):
        bd.Journal(journal)


@MODES
def test_a_prune_resume_keeps_to_its_workspace(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: list[str]
) -> None:
    ids = [api.add_batch("ended", age=7200, workspace_id=WS_A).id for _ in range(6)]
    other = api.add_batch("ended", age=7200, workspace_id=WS_B).id
    journal = tmp_path / "prune.jsonl"
    with bd.Journal(journal) as log:
        for batch_id in ids[:2]:  # recorded deleted in wrkspc_A: skipped
            log.record(bd.Outcome(batch_id, "deleted", attempts=1, workspace=WS_A))
        for batch_id in ids[2:4]:  # not found elsewhere: deleted here all the same
            log.record(bd.Outcome(batch_id, "missing", attempts=1, workspace=WS_B))
        log.record(bd.Outcome(ids[4], "deleted", attempts=1))  # deleted: skipped anywhere
    argv = ["prune", *mode, "--older-than", "1h", "--yes", "--journal", str(journal)]
    code, out, err = run(capsys, *argv, "--workspace", WS_A)
    assert code == 0, err
    assert sorted(line.split()[1] for line in out.splitlines()) == sorted([*ids[2:4], ids[5]])
    assert "; 3 skipped as already done." in err
    assert ids_in(api, WS_A) == {*ids[:2], ids[4]} and ids_in(api, WS_B) == {other}
    assert all(line["workspace"] == WS_A for line in journal_lines(journal)[5:])


# -- "not found" names the workspace -----------------------------------------------


@MODES
def test_not_found_names_the_workspace(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: list[str]
) -> None:
    in_a = api.add_batch("ended", workspace_id=WS_A).id
    in_b = api.add_batch("ended", workspace_id=WS_B).id
    report = tmp_path / "report.csv"
    argv = ["delete", *mode, in_a, in_b, "--missing-ok", "--report", str(report)]
    code, out, err = run(capsys, *argv, "--workspace", WS_A)
    assert code == 0, err
    assert f"not found in {WS_A} {in_b}  (already gone, or in another workspace;" in out
    assert not any(line.startswith("already gone") for line in out.splitlines())
    assert f"1 deleted (0 after canceling), 1 not found in {WS_A}, 0 failed" in err
    with report.open(newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert rows[in_b]["status"] == "missing" and rows[in_b]["workspace"] == WS_A
    assert rows[in_a]["workspace"] == WS_A
    assert ids_in(api, WS_B) == {in_b}  # looked for in the wrong workspace: still there
    # Without --missing-ok: exit 4, saying where it was looked for.
    code, out, err = run(capsys, "delete", *mode, in_b, "--workspace", WS_A)
    assert code == 4 and out == ""
    assert f"(Looked for in workspace {WS_A} only: a batch of another workspace" in err


def test_not_found_without_a_workspace_names_the_credentials_one(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # No --workspace: the key is bound to one, and the answers name it
    # (anthropic-workspace-id), so that is where the batches were looked for.
    report = tmp_path / "report.jsonl"
    argv = ["delete", "msgbatch_gone", "msgbatch_gone2", "--missing-ok", "--report", str(report)]
    code, out, err = run(capsys, *argv)
    keys = WS_A  # the key in ANTHROPIC_API_KEY is bound to it
    lines = sorted(out.splitlines())  # the two answers may come in either order
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith(f"not found in {keys} msgbatch_gone  (")
    assert lines[1].startswith(f"not found in {keys} msgbatch_gone2  (")
    assert f"2 not found in {keys}" in err
    rows = [json.loads(r) for r in report.read_text().splitlines()]
    assert [r["workspace"] for r in rows] == [keys] * 2


def test_a_missing_batch_without_a_known_workspace_is_already_gone() -> None:
    # An answer that names no workspace (and no --workspace): the plain wording.
    from batchdelete.cli._summary import _text_line

    outcome = bd.Outcome("msgbatch_gone", "missing", False, 1, "req_1", 0.0)
    assert _text_line(outcome, "urllib3") == "already gone msgbatch_gone  (request id req_1)\n"
    named = bd.Outcome("msgbatch_gone", "missing", False, 1, "req_1", 0.0, workspace=WS_A)
    assert _text_line(named, "urllib3").startswith(f"not found in {WS_A} msgbatch_gone  (")


def test_get_and_json_name_the_workspace(api: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    in_b = api.add_batch("ended", workspace_id=WS_B).id
    code, out, err = run(capsys, "get", in_b, "--workspace", WS_A, "--json")
    assert code == 4
    row = json.loads(out)
    assert row["ok"] is False and row["status_code"] == 404
    assert f"Looked for in workspace {WS_A} only" in row["message"] and WS_A in err
    code, out, err = run(capsys, "delete", in_b, "--workspace", WS_A, "--missing-ok", "--json")
    row = json.loads(out)
    assert code == 0 and (row["status"], row["workspace"]) == ("missing", WS_A)


# -- a credential of another workspace ----------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["delete"], ["delete", "--async"], ["delete", "--missing-ok"], ["get"], ["cancel"]],
    ids=" ".join,
)
def test_a_key_of_workspace_a_naming_b_is_refused_clearly(
    api: Emulator, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    in_b = api.add_batch("in_progress", workspace_id=WS_B).id
    code, out, err = run(capsys, *command, in_b, "--workspace", WS_B)
    assert code == 5 and out == ""
    assert "Error code 403 (permission_error)" in err
    assert f"cannot act in workspace {WS_B}" in err  # the API's own message
    assert f"(The requests named workspace {WS_B}: check that the credential may act" in err
    assert "already gone" not in err and "not found" not in err
    assert KEY_A not in out + err
    assert ids_in(api, WS_B) == {in_b}


@pytest.mark.parametrize("command", [["list"], ["prune", "--older-than", "0s", "--yes"]])
def test_a_listing_in_a_workspace_the_key_cannot_act_in(
    api: Emulator, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    api.add_batch("ended", workspace_id=WS_B)
    code, out, err = run(capsys, *command, "--workspace", WS_B)
    assert code == 5 and out == ""
    assert err.startswith("batchdelete: Listing the batches failed: Error code 403")
    assert f"(The requests named workspace {WS_B}:" in err
    assert len(api.batches(WS_B)) == 1


# -- -v: where the credential came from ---------------------------------------------


def test_verbose_names_the_api_key_variable(
    api: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = api.add_batch("ended", workspace_id=WS_A).id
    code, out, err = run(capsys, "delete", batch, "-v", "--workspace", WS_A)
    assert code == 0
    lines = err.splitlines()
    assert lines[0] == f"batchdelete: credentials: ANTHROPIC_API_KEY; workspace: {WS_A}"
    assert any(line.startswith("batchdelete: DELETE ") for line in lines[1:])
    assert KEY_A not in out + err
    code, out, err = run(capsys, "list", "-v")
    assert code == 0 and err.splitlines()[0] == "batchdelete: credentials: ANTHROPIC_API_KEY"
    code, out, err = run(capsys, "list")
    assert "credentials" not in err


@pytest.mark.batch_emulator(auth_tokens=("emulator-static-token-SECRET-5d1f0b",))
def test_verbose_names_the_auth_token_variable(
    api: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "emulator-static-token-SECRET-5d1f0b")
    code, out, err = run(capsys, "list", "-v")
    assert code == 0, err
    assert err.splitlines()[0] == "batchdelete: credentials: ANTHROPIC_AUTH_TOKEN"
    assert "SECRET" not in out + err


@pytest.mark.slow  # the first import of the SDK's credentials library
@MODES
def test_verbose_names_workload_identity_federation(
    api: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    mode: list[str],
) -> None:
    """An organization-level token (a federation rule over every workspace)
    must name a workspace; -v says where it came from, never a token."""
    pytest.importorskip("anthropic.lib.credentials")
    rule = api.add_federation_rule("identity-jwt-SECRET-0a9b8c7d6e5f")
    env = api.federation_env(rule)
    token_file = tmp_path / "identity.jwt"
    token_file.write_text(env.pop("ANTHROPIC_IDENTITY_TOKEN"))
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    for name, value in {**env, "ANTHROPIC_IDENTITY_TOKEN_FILE": str(token_file)}.items():
        monkeypatch.setenv(name, value)
    in_a = api.add_batch("ended", workspace_id=WS_A).id
    in_b = api.add_batch("ended", workspace_id=WS_B).id
    argv = ["delete", *mode, in_a, in_b, "--missing-ok", "-v", "--workspace", WS_A]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    step = "workload identity federation (ANTHROPIC_IDENTITY_TOKEN_FILE)"
    assert f"batchdelete: credentials: {step}; workspace: {WS_A}" in err.splitlines()
    assert f"not found in {WS_A} {in_b}" in out
    assert "SECRET" not in out + err and "Bearer" not in err
    assert "sk-ant-oat" not in out + err  # the emulator's access tokens
    assert ids_in(api, WS_B) == {in_b} and ids_in(api, WS_A) == set()
