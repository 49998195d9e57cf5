"""DCI message security: SIKS's Ed25519 signing keys, integrators' public keys, message ids already seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP


class DciSigningKey(SQLModel, table=True):
    """One of SIKS's own signing keys. The newest without ``superseded_at`` signs; a superseded key stays
    published at ``/.well-known/jwks.json`` until ``publish_until`` so signatures it made still verify."""

    __tablename__ = "dci_signing_keys"

    kid: str = Field(primary_key=True, max_length=64, description="RFC 7638 thumbprint of the public key.")
    public_x: str = Field(max_length=64, description="The raw Ed25519 public key, base64url (the JWK's x).")
    private_pem: str = Field(sa_type=Text(), description="PKCS#8 PEM encrypted with SIKS_SECRET_KEY.")
    created_at: datetime = Field(sa_type=TIMESTAMP, index=True)
    superseded_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    publish_until: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class DciClientKey(SQLModel, table=True):
    """An integrator's Ed25519 public key, against which its requests' signatures are verified."""

    __tablename__ = "dci_client_keys"
    __table_args__ = (UniqueConstraint("user_id", "kid", name="uq_dci_client_keys_user_kid"),)

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    user_id: int = Field(foreign_key="users.id", index=True, sa_type=ID_TYPE)
    kid: str = Field(max_length=64, description="The key id the client names in its signature's kidId.")
    public_x: str = Field(max_length=64, description="The raw Ed25519 public key, base64url (the JWK's x).")
    source: str = Field(max_length=500, description="Where the key was read from: a file name or a JWKS URL.")
    created_at: datetime = Field(sa_type=TIMESTAMP)
    revoked_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class DciSeenMessage(SQLModel, table=True):
    """A signed message's id, kept while a replay of it could still pass the time window."""

    __tablename__ = "dci_seen_messages"

    sender: str = Field(primary_key=True, max_length=64, description="The integrator's username.")
    message_id: str = Field(primary_key=True, max_length=128)
    seen_at: datetime = Field(sa_type=TIMESTAMP)
    forget_after: datetime = Field(sa_type=TIMESTAMP, index=True)
