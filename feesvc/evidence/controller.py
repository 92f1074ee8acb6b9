from __future__ import annotations

from datetime import date

from litestar import Controller, post
from litestar.datastructures import State
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import managers
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.errors import InvalidInput
from feesvc.evidence.pack import ZIP, keep_evidence_pack, pack_filename
from feesvc.files import FileStore
from feesvc.files.http import stream_stored
from feesvc.schemas import Body, Id, PathId


class EvidencePackCreate(Body):
    # The day the pack states the position on (default today): arrears, late fees and limitation.
    as_of: date | None = None
    # The defendant: whose periods the pack claims. Default: the only owner with arrears on the unit;
    # when several owners have arrears (a sold unit) the request must name one (409 lists them).
    owner_id: Id | None = None


class EvidencePackController(Controller):
    path = "/api/v1"
    tags = ["legal follow-up"]

    @post("/units/{unit_id:int}/evidence-packs", guards=[managers], status_code=200, media_type=ZIP)
    async def build(
        self,
        db: AsyncSession,
        principal: Principal,
        state: State,
        unit_id: PathId,
        data: EvidencePackCreate | None = None,
    ) -> Stream:
        """One owner's evidence pack (证据包) for a property-fee case on the unit, as a ZIP.

        It holds the numbered evidence list, the parties and the fee basis (the owner's personal data
        in full: only here), the arrears with their calculation, the demands with delivery proofs, the
        service record, the limitation clock per period, plans and case history, ``filing.json`` and
        ``manifest.json`` (SHA-256 of every file). It holds the facts of ``owner_id``'s periods only
        (ledger extract, letters to that owner, limitation, complaints, filing data); the address
        for service is that owner's contact address. 409 when the unit (or that owner) has no
        arrears on ``as_of``, or when several owners have arrears and ``owner_id`` is not given.
        The pack is kept in the file store as given out and streamed from there.
        """
        today = business_today()
        as_of = (data.as_of if data else None) or today
        if as_of > today:
            raise InvalidInput("an evidence pack cannot be dated in the future", field="as_of")
        files: FileStore = state.files
        pack = await keep_evidence_pack(db, unit_id, as_of, principal, files, owner_id=data.owner_id if data else None)
        headers = {
            "Content-Disposition": f'attachment; filename="{pack_filename(unit_id, as_of)}"',
            "Cache-Control": "no-store",  # personal data in full
        }
        return await stream_stored(files, pack.ref, pack.sha256, ZIP, headers, f"the evidence pack of unit {unit_id}")
