"""Request building and value objects, before any I/O."""

from __future__ import annotations

import pytest

import batchdelete as bd
from batchdelete._spec import batches_url, beta_header, encode_batch_id


def test_timeout_value_object() -> None:
    t = bd.Timeout()
    assert (t.connect, t.read, t.deadline) == (5.0, 60.0, None)
    assert (
        repr(bd.Timeout(connect=2, read=10))
        == "Timeout(connect=2.0, read=10.0, deadline=None, attempt=120.0)"
    )
    both = bd.Timeout.coerce(3)
    assert (both.connect, both.read, both.deadline) == (3.0, 3.0, None)
    assert bd.Timeout.coerce(t) is t
    changed = t.replace(deadline=30)
    assert changed.deadline == 30.0 and t.deadline is None  # copied, not mutated
    with pytest.raises(AttributeError):
        t.connect = 1.0  # type: ignore[misc]
    assert bd.Timeout(1, 2) == bd.Timeout(1.0, 2.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"connect": 0}, "connect must be a finite number of seconds greater than 0, got 0"),
        ({"read": -1}, "read must be a finite number of seconds greater than 0, got -1"),
        ({"read": float("inf")}, "read must be a finite"),
        ({"connect": float("nan")}, "connect must be a finite"),
        ({"connect": "5"}, "connect must be a number of seconds, got str"),
        ({"read": True}, "read must be a number of seconds, got bool"),
        ({"deadline": 0}, "deadline must be a finite"),
        ({"connect": None}, "connect must be a number of seconds, got NoneType"),
    ],
)
def test_timeout_refuses_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(bd.ConfigurationError, match=message):
        bd.Timeout(**kwargs)  # type: ignore[arg-type]


def test_timeout_refuses_unknown_fields() -> None:
    with pytest.raises(TypeError):
        bd.Timeout(total=3)  # type: ignore[call-arg]


def test_client_timeout_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    client = bd.Client(api_key="k", transport="urllib3", timeout=7)
    assert client._timeout == bd.Timeout(connect=7, read=7)
    for bad in (0, -1, "3", None):
        with pytest.raises(bd.ConfigurationError):
            bd.Client(api_key="k", transport="urllib3", timeout=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-1, 1.5, True, "2", None])
def test_max_retries_must_be_a_count(value: object) -> None:
    with pytest.raises(bd.ConfigurationError, match="max_retries"):
        bd.Client(api_key="k", transport="urllib3", max_retries=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-1, float("inf"), float("nan"), "60", True])
def test_max_retry_wait_must_be_seconds(value: object) -> None:
    with pytest.raises(bd.ConfigurationError, match="max_retry_wait"):
        bd.Client(api_key="k", transport="urllib3", max_retry_wait=value)  # type: ignore[arg-type]


def test_encode_batch_id_fast_path_and_slow_path() -> None:
    assert (
        encode_batch_id("msgbatch_013Zva2CMHLNnXjNJJKqJ2EF") == "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
    )
    assert encode_batch_id("a/b") == "a%2Fb"
    assert encode_batch_id("\u00a0") == "%C2%A0"  # non-ASCII space: encoded, not refused


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://api.anthropic.com", "https://api.anthropic.com/v1/messages/batches/"),
        ("https://api.anthropic.com/", "https://api.anthropic.com/v1/messages/batches/"),
        ("http://h:8080/p", "http://h:8080/p/v1/messages/batches/"),
        ("http://h/p/", "http://h/p/v1/messages/batches/"),
        ("http://[::1]:9/", "http://[::1]:9/v1/messages/batches/"),
    ],
)
def test_batches_url(base: str, expected: str) -> None:
    assert batches_url(base) == expected


@pytest.mark.parametrize(
    ("base", "why"),
    [
        ("api.anthropic.com", "https://host"),
        ("ftp://h", "https://host"),
        ("https://", "https://host"),
        ("https://user:pw@h", "user name or password"),
        ("https://h?x=1", "query or fragment"),
        ("https://h/#frag", "query or fragment"),
        ("https://h?", "query or fragment"),
        ("https://h/p q", "spaces or control"),
        ("https://h/\r\nx", "spaces or control"),
        ("https://h:99999", "not valid"),
    ],
)
def test_bad_base_urls(base: str, why: str) -> None:
    with pytest.raises(bd.ConfigurationError, match=why):
        batches_url(base)
    with pytest.raises(bd.ConfigurationError):
        bd.Client(api_key="k", base_url=base, transport="urllib3")


def test_password_in_base_url_is_not_echoed() -> None:
    with pytest.raises(bd.ConfigurationError) as info:
        batches_url("https://user:hunter2@h")
    assert "hunter2" not in str(info.value)


def test_empty_base_url_env_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "")
    assert bd.Client(api_key="k", transport="urllib3").base_url == "https://api.anthropic.com"


def test_beta_header() -> None:
    assert beta_header(None) is None
    assert beta_header([]) is None
    assert beta_header("files-api-2025-04-14") == "files-api-2025-04-14"
    assert beta_header([bd.AnthropicBeta.SKILLS_2025_10_02, "x-1"]) == "skills-2025-10-02,x-1"
    assert beta_header(iter(["a", "b"])) == "a,b"
    with pytest.raises(bd.ConfigurationError, match="Invalid beta"):
        beta_header([1])  # type: ignore[list-item]


def test_anthropic_beta_enum_lists_the_seed_page() -> None:
    assert len(bd.AnthropicBeta) == 20
    assert str(bd.AnthropicBeta.FAST_MODE_2026_02_01) == "fast-mode-2026-02-01"
    assert bd.AnthropicBeta("mcp-client-2025-11-20") is bd.AnthropicBeta.MCP_CLIENT_2025_11_20


def test_api_version_is_checked() -> None:
    with pytest.raises(bd.ConfigurationError, match="api_version"):
        bd.Client(api_key="k", transport="urllib3", api_version="")
    with pytest.raises(bd.ConfigurationError, match="control"):
        bd.Client(api_key="k", transport="urllib3", api_version="2023-06-01\r\nx: y")


def test_public_api_is_sorted_and_complete() -> None:
    # ruff's isort-style order (RUF022): constants, then classes, then the rest.
    def kind(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert bd.__all__ == sorted(bd.__all__, key=kind)
    for name in bd.__all__:
        assert hasattr(bd, name)
    names = {
        "APIError",
        "APIStatusError",
        "BadRequestError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "RequestTimeoutError",
        "ConflictError",
        "RequestTooLargeError",
        "UnprocessableEntityError",
        "RateLimitError",
        "InternalServerError",
        "ServiceUnavailableError",
        "GatewayTimeoutError",
        "OverloadedError",
        "APIConnectionError",
        "APITimeoutError",
        "APIResponseValidationError",
    }
    for name in names:
        cls = getattr(bd, name)
        assert issubclass(cls, bd.BatchDeleteError) and cls.__name__.endswith("Error")
