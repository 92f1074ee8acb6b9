"""The database store's tables: a file's row and its chunks (``feesvc.files.database``)."""

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, utcnow


class FileRecord(SQLModel, table=True):
    """A file kept in the database: its hash (which names it), size and media type."""

    __tablename__ = "stored_file"

    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    size: int = Field(sa_type=BigInteger)
    media_type: str = Field(max_length=100)
    # The area it was first kept for; a file kept for an issued area is never deleted.
    area: str = Field(max_length=40)
    issued: bool
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class FileChunk(SQLModel, table=True):
    """One chunk of a file (1 MiB; the last one shorter), ``seq`` from 0."""

    __tablename__ = "stored_file_chunk"

    sha256: str = Field(sa_column=Column(String(64), ForeignKey("stored_file.sha256"), primary_key=True))
    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
