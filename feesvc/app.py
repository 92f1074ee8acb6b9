"""The Litestar application: ``create_app`` assembles it from the areas' controllers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, get
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import InitPluginProtocol
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.arrears.controller import ArrearsCaseController
from feesvc.auth.controller import TokenController
from feesvc.auth.middleware import OwnerSignInRequired, TokenAuthenticationMiddleware
from feesvc.auth.principal import Principal
from feesvc.auth.service import PrincipalCache
from feesvc.banking.controller import BankingController
from feesvc.billing.controller import BillingController
from feesvc.db import Database, create_engine, session_factory, utcnow
from feesvc.decoding import StrictRequest, install_path_id_parser, refuse_lax_query_values
from feesvc.errors import exception_handlers
from feesvc.evidence.controller import EvidencePackController
from feesvc.explorer import explorer_plugins
from feesvc.exports.controller import ExportController
from feesvc.fapiao.controller import FapiaoController
from feesvc.files import check_setting, open_store
from feesvc.imports.controller import ImportController
from feesvc.jobs.controller import JobsController
from feesvc.latefees.controller import LateFeeController
from feesvc.ledger.controller import LedgerController
from feesvc.letters.controller import LetterController
from feesvc.limitation.controller import LimitationController
from feesvc.logging_config import access_log_middleware
from feesvc.online.controller import NOTIFY_PATH, NotificationController, OnlinePaymentController
from feesvc.openapi import install_documentation
from feesvc.owner_pages.controller import OwnerPagesController
from feesvc.payments.controller import PaymentController
from feesvc.payoff.controller import PayoffController
from feesvc.plans.controller import InstallmentPlanController
from feesvc.prepay.controller import PrepayController
from feesvc.registry.controller import RegistryController
from feesvc.reports.controller import ReportsController
from feesvc.sales.controller import SalesController
from feesvc.service_records.controller import ServiceRecordsController
from feesvc.settings import Settings, get_settings
from feesvc.signin.controller import SignInController
from feesvc.signin.pages import PUBLIC_PAGES, owner_pages, sign_in_required
from feesvc.standards.controller import FeeStandardController
from feesvc.statements.controller import StatementController

CONTROLLERS = [
    EvidencePackController,
    LetterController,
    LimitationController,
    RegistryController,
    SalesController,
    FeeStandardController,
    LedgerController,
    PayoffController,
    BillingController,
    PaymentController,
    PrepayController,
    StatementController,
    LateFeeController,
    ServiceRecordsController,
    ArrearsCaseController,
    ReportsController,
    ExportController,
    ImportController,
    InstallmentPlanController,
    TokenController,
    JobsController,
    BankingController,
    FapiaoController,
    SignInController,
    OnlinePaymentController,
    NotificationController,
]
SCHEMA_PATH = "/schema"
# Online payment: the providers' notifications (verified by signature).
PUBLIC_PATHS = ["^/schema", "^/health", "^/api/v1/sign-in", *PUBLIC_PAGES, f"^{NOTIFY_PATH}/"]


# Each takes ``principal`` only so that Litestar resolves it after the principal: sibling
# dependencies are resolved in an anyio task group (litestar#4563), which cost a payment a tenth to
# a fifth of its CPU (bench/README.md).
async def provide_db(state: State, principal: Principal) -> AsyncIterator[AsyncSession]:
    """The request's session."""
    async with state.database.session() as session:
        yield session


def provide_database(state: State, principal: Principal) -> Database:
    """The engine and its sessions, for a route that picks its own way to the database (the desk)."""
    database: Database = state.database
    return database


def provide_principal(request: Request[Principal, Any, Any]) -> Principal:
    return request.user


@get("/health", include_in_schema=False, sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


class FeesvcPlugin(InitPluginProtocol):
    """Registers the controllers, dependencies, auth and error handling on the app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        # The owner's pages (sign-in, statement, pay …) on one router under /owner, one CSRF check for all their forms.
        app_config.route_handlers.extend([health, *CONTROLLERS, owner_pages(self.settings, OwnerPagesController)])
        app_config.dependencies.update(
            {
                "db": Provide(provide_db),
                "database": Provide(provide_database, sync_to_thread=False),
                "principal": Provide(provide_principal, sync_to_thread=False),
            }
        )
        app_config.exception_handlers.update(exception_handlers)
        app_config.exception_handlers[OwnerSignInRequired] = sign_in_required
        # Strict input on every route (feesvc.decoding): bodies, path ids and query integers.
        install_path_id_parser()
        app_config.request_class = StrictRequest
        app_config.before_request = refuse_lax_query_values
        app_config.middleware[:0] = [
            DefineMiddleware(TokenAuthenticationMiddleware, exclude=PUBLIC_PATHS),
        ]
        app_config.lifespan.append(self._database)
        return app_config

    @asynccontextmanager
    async def _database(self, app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(self.settings.database)
        app.state.database = Database(engine, session_factory(engine))
        # The clock sign-in and token expiry read; a test sets its own before the app starts.
        if "clock" not in app.state:
            app.state.clock = utcnow
        app.state.principal_cache = PrincipalCache(clock=app.state.clock)
        app.state.settings = self.settings
        app.state.files = open_store(self.settings, engine)  # feesvc.files: where files are kept
        # What is loaded by now lives as long as the process: keep it out of the collector's full
        # passes, which otherwise walk every SQLAlchemy, Litestar and Babel object mid-request.
        gc.freeze()
        try:
            yield
        finally:
            await engine.dispose()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    check_setting(settings)  # a file store the database cannot hold: refused before serving
    app = Litestar(
        plugins=[FeesvcPlugin(settings)],
        # Logging is the command line's to set up (feesvc.logging_config): Litestar's default would
        # set the root logger to INFO and let every library's progress lines through.
        logging_config=None,
        # Given here, not in the plugin: Litestar reads this one from its own argument only.
        request_max_body_size=settings.server.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="feesvc",
            version="1.0.0",
            description="Property-fee collection and arrears management",
            path=SCHEMA_PATH,
            render_plugins=explorer_plugins(SCHEMA_PATH),  # served from the package: no CDN
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", description="feesvc API token")
                }
            ),
            security=[{"bearer": []}],
            use_handler_docstrings=True,
        ),
    )
    # The document's errors, summaries, roles and examples, from the routes (feesvc.openapi).
    install_documentation(app)
    # Around everything, as Litestar's own OpenTelemetry middleware goes: the request id first, and
    # one access line for every answer, also those given before any route is found (404, 405).
    app.asgi_handler = access_log_middleware(app.asgi_handler)
    return app
