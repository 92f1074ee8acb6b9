"""Schemathesis holds every route to the OpenAPI document (issue 18).

Every operation, with each role's token (cashier, manager, an owner), runs with data generated
from its schema, valid and invalid, under every check: no server error, only documented
statuses, content types and bodies as documented, invalid data refused, and valid data accepted
unless a business rule the operation's description names refuses it (422).

The examples per operation are bounded to fit CI on both databases; more for a long run:
``FEESVC_SCHEMATHESIS_EXAMPLES=200 pytest tests/test_schemathesis.py``.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import requests
import requests.adapters
import requests.structures
import schemathesis
import urllib3
from hypothesis import HealthCheck, Phase, settings
from litestar import Litestar
from litestar.serialization import encode_json
from litestar.testing import AsyncTestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.errors import FailureGroup
from schemathesis.transport.requests import REQUESTS_TRANSPORT

from feesvc.app import create_app
from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.auth.service import create_token
from feesvc.db import create_engine, session_factory
from feesvc.migrate import upgrade
from feesvc.settings import DatabaseSettings, ServerSettings, Settings
from tests.conftest import _in_thread
from tests.databases import fresh_postgres_database
from tests.support import Api

BASE_URL = "http://testserver"
EXAMPLES = int(os.environ.get("FEESVC_SCHEMATHESIS_EXAMPLES", "5"))
COVERAGE = os.environ.get("FEESVC_SCHEMATHESIS_COVERAGE", "") == "1"
ROLES = ("cashier", "manager", "owner")


def openapi_document() -> dict[str, Any]:
    # The document needs no database: an app that is never started gives it.
    app = create_app(Settings(database=DatabaseSettings(url="sqlite://")))
    document: dict[str, Any] = json.loads(encode_json(app.openapi_schema.to_schema()))
    return document


CONFIG = SchemathesisConfig.from_dict(
    {
        # Query parameters the document does not name are ignored, not refused (a proxy's or a
        # browser's cache-buster must not break a read); bodies refuse unknown fields.
        "generation": {"max-examples": EXAMPLES, "mode": "all", "allow-extra-parameters": False},
        "checks": {
            "enabled": True,
            # Valid data may meet a business rule (an overdue account cannot prepay, a plan cannot
            # start in the past): 422, documented on each operation a rule can refuse by, naming its
            # rules (feesvc/refusals.py), and named in the answer's detail (checked below). A 400
            # here would be the schema lying.
            # Signing in counts attempts per phone and address: valid data past the limit gets 429.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]},
        },
        # The coverage phase sends hundreds of boundary cases per operation whatever the example
        # count: for a long run only (FEESVC_SCHEMATHESIS_COVERAGE=1).
        "phases": {"coverage": {"enabled": COVERAGE}},
    }
)
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)


def _integral_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_integral_float(v) for v in value)
    return False


@schema.hook
def filter_body(context: Any, body: Any) -> bool:
    """JSON Schema counts 5.0 as an integer; the service takes integers written as integers only
    (issue 14: 100.0 fen is refused, naming the field). Those refusals are test_input_every_route's."""
    return not _integral_float(body)


@pytest.fixture(scope="module")
def fuzz_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of the run's kind for this module alone: what the fuzz writes touches no other test."""
    if DatabaseSettings(url=database_url).is_sqlite:
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
        _in_thread(lambda: upgrade(url))
        yield url
        return
    with fresh_postgres_database(database_url, "schemathesis") as url:
        _in_thread(lambda: upgrade(url))
        yield url


@pytest.fixture(scope="module")
async def fuzz_client(
    fuzz_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    files = tmp_path_factory.mktemp("fuzz-files")
    app = create_app(
        Settings(database=DatabaseSettings(url=fuzz_database_url), server=ServerSettings(files_dir=str(files)))
    )
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture(scope="module")
async def role_tokens(fuzz_client: AsyncTestClient[Litestar], fuzz_database_url: str) -> AsyncIterator[dict[str, str]]:
    """A token per role, an estate for the owner's, and one token for the fuzz to revoke (``revoke_target``).

    Written through an engine of this loop's own: the app's engine lives on the test client's loop
    (asyncpg's connections belong to the loop that opened them)."""
    engine = create_engine(DatabaseSettings(url=fuzz_database_url))
    sessions = session_factory(engine)
    made: dict[Role, str] = {}
    async with sessions() as session:
        for role in (Role.manager, Role.cashier, Role.system):
            made[role], _ = await create_token(session, COMMAND_LINE, role, f"fuzz-{role.value}")
        _, spare = await create_token(session, COMMAND_LINE, Role.cashier, "fuzz-revoke-target")
    api = Api(fuzz_client, made, sessions)
    estate = await api.make_estate(units=1)
    yield {
        "cashier": made[Role.cashier],
        "manager": made[Role.manager],
        "owner": await api.owner_token(estate.owner_ids[0]),
        "revoke_target": str(spare.id),
    }
    await engine.dispose()


class AppAdapter(requests.adapters.BaseAdapter):
    """Sends a ``requests`` request into the app on the test client's event loop, where its
    database engine lives, so schemathesis's own calls (a check may send a request again, without
    its token) reach the app as the case's call does."""

    def __init__(self, client: AsyncTestClient[Litestar]) -> None:
        super().__init__()
        self.client = client
        self.sent = 0

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:  # type: ignore[override]
        body = request.body.encode() if isinstance(request.body, str) else request.body

        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.client.app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
                answer = await http.request(
                    str(request.method), str(request.url), headers=dict(request.headers), content=body
                )
                await answer.aread()
                return answer

        answer = self.client.blocking_portal.call(call)
        self.sent += 1
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = requests.structures.CaseInsensitiveDict(answer.headers)
        # Schemathesis reads the headers from urllib3's response, as a real connection leaves them.
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(b""),
            headers=urllib3.HTTPHeaderDict(answer.headers.multi_items()),
            status=answer.status_code,
            version=11,
            preload_content=False,
        )
        response._content = answer.content
        response.url = str(request.url)
        response.request = request
        response.reason = answer.reason_phrase
        response.encoding = answer.encoding
        return response

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def session(fuzz_client: AsyncTestClient[Litestar]) -> Iterator[requests.Session]:
    http = requests.Session()
    http.mount(BASE_URL, AppAdapter(fuzz_client))
    # A check's probe (the same request without its token) is sent on a session of its own.
    send = REQUESTS_TRANSPORT.send

    def send_here(case: schemathesis.Case, *, session: requests.Session | None = None, **kwargs: Any) -> Any:
        return send(case, session=session or http, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(REQUESTS_TRANSPORT, "send", send_here)
        yield http


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES)
def test_every_operation_keeps_its_contract(
    case: schemathesis.Case, role: str, role_tokens: dict[str, str], session: requests.Session
) -> None:
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if case.operation.path == "/api/v1/tokens/{token_id}/revoke" and case.path_parameters and positive:
        # Only the token made to be revoked: the fuzz's own tokens must keep working.
        case.path_parameters["token_id"] = int(role_tokens["revoke_target"])
    headers = {"Authorization": f"Bearer {role_tokens[role]}"}
    response = case.call_and_validate(base_url=BASE_URL, session=session, headers=headers)
    if response.status_code == 422:
        assert len(response.json()["detail"]) > 10, response.text  # the rule, said in words


def _lacks_a_required_query(case: schemathesis.Case) -> bool:
    operation = schema.raw_schema["paths"][case.path][case.method.lower()]
    required = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query" and p.get("required")}
    return bool(required - set(case.query or {}))


def test_call_sequences_keep_the_contract(role_tokens: dict[str, str], session: requests.Session) -> None:
    """The stateful phase: sequences of calls, each taking ids from an earlier answer (the links
    schemathesis infers), with a manager's token. Generation only: the answers depend on what
    earlier examples wrote, so a replay (shrinking) would not draw the same sequence."""
    headers = {"Authorization": f"Bearer {role_tokens['manager']}"}

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": BASE_URL, "session": session, "headers": headers}

        def validate_response(self, response: Any, case: schemathesis.Case, *args: Any, **kwargs: Any) -> None:
            # A call built from a link may leave out a query parameter the operation requires (the
            # link has no value for it): the 400 that names it is right, not "valid data rejected".
            try:
                super().validate_response(response, case, *args, **kwargs)
            except FailureGroup as group:
                if not all(f.code == "ST202" and _lacks_a_required_query(case) for f in group.exceptions):
                    raise

    adapter = session.get_adapter(BASE_URL)
    assert isinstance(adapter, AppAdapter)
    before = adapter.sent
    Sequences.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=10,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
    assert adapter.sent - before >= EXAMPLES * 2, "the sequences made no calls"
