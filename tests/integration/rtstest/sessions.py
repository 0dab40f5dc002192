# SPDX-License-Identifier: Apache-2.0
"""Reads (and, for the benchmarks, writes) a session record the way the module stores it, so
tests can see the generation and the tokens without any help from the module (and stage a stolen
refresh token). Mirrors core/rts_session_codec.h (the binary plaintext), core/rts_record.c (the
sealing) and the key derivation (rts_secret_derive, bound to the issuer and client id)."""
import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import mc


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


SEAL_INFO = b"rtsession session v2"
COOKIE = "__Host-rtsession"


def session_cookie(browser) -> str:
    """The session cookie value a Browser holds for the test host."""
    return browser.cookies.get(COOKIE, domain="127.0.0.1")

FORMAT = 3           # format 2 (no tail) is still read by the module and by decode()
# (field, key in the dict read() returns): the order of core/rts_session_codec.h
# TIMES: at_expires, rt_expires, created, seen, intent_until (ms)
# STRS: sub, id_token, access_token, refresh_token, sid, intent_owner
TIMES = ("ae", "re", "c", "t", "lu")
STRS = ("s", "i", "a", "r", "sid", "lo")
ABSENT = 0xFFFF
# format 3 tail: at_issued, retry_at (ms), retry_step, rt_lost (answers lost for this RT)
TAIL = ("ai", "ra", "rs", "rl")


def decode(plain: bytes) -> dict:
    """The record plaintext as a dict with the keys above and "g"; unset fields are left out."""
    assert plain[0] in (2, FORMAT), f"record format {plain[0]}"
    gen, *times = struct.unpack_from(">Q5Q", plain, 1)
    rec = {"g": gen, **{k: v for k, v in zip(TIMES, times) if v}}
    off = 1 + 8 * 6
    for k in STRS:
        (n,) = struct.unpack_from(">H", plain, off)
        off += 2
        if n != ABSENT:
            assert plain[off + n] == 0
            rec[k] = plain[off:off + n].decode()
            off += n + 1
    if plain[0] == FORMAT:
        rec.update({k: v for k, v in zip(TAIL, struct.unpack_from(">QQBB", plain, off)) if v})
        off += 18
    assert off == len(plain), "trailing bytes"
    return rec


def encode(rec: dict) -> bytes:
    """The inverse of decode()."""
    out = struct.pack(">BQ5Q", FORMAT, rec.get("g", 1), *(rec.get(k, 0) for k in TIMES))
    for k in STRS:
        v = rec.get(k)
        out += struct.pack(">H", ABSENT) if v is None else \
            struct.pack(">H", len(v.encode())) + v.encode() + b"\0"
    return out + struct.pack(">QQBB", *(rec.get(k, 0) for k in TAIL))


def seal_key(key_seal: bytes, bound: bytes, info: bytes) -> bytes:
    """HKDF-Expand(PRK = key_seal, info || 0x00 || bound), one block (core/rts_record.c)."""
    return hmac.new(key_seal, info + b"\0" + bound + b"\x01", hashlib.sha256).digest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# Records are bound to one client of one provider (rts_secret_derive): the harness's OP sets its
# issuer here when it starts; "rts-test" is the client of the standard configuration.
DEFAULT_ISSUER: str | None = None
DEFAULT_CLIENT_ID = "rts-test"


def _info(label: bytes, issuer: str, client_id: str) -> bytes:
    return label + b"\0" + issuer.encode() + b"\0" + client_id.encode()


class SessionReader:
    def __init__(self, module_secret: str, memcached_port: int, host: str = "127.0.0.1",
                 issuer: str | None = None, client_id: str | None = None):
        secret = module_secret.encode()
        issuer = issuer or DEFAULT_ISSUER
        client_id = client_id or DEFAULT_CLIENT_ID
        assert issuer, "SessionReader: no issuer (start the OP first, or pass issuer=)"
        self.key_id = _hkdf(secret, b"mod_rtsession", _info(b"store key naming", issuer, client_id))
        self.key_seal = _hkdf(secret, b"mod_rtsession", _info(b"record sealing", issuer, client_id))
        self.addr = (host, memcached_port)

    def store_key(self, cookie: str) -> str:
        mac = hmac.new(self.key_id, b"s:" + cookie.encode(), hashlib.sha256).digest()
        return "rts:s:" + _b64url(mac)

    def raw(self, key: str) -> bytes | None:
        return mc.get(self.addr, key, timeout=5)

    def read(self, cookie: str) -> dict | None:
        """The session as a dict (g gen, a access token, r refresh token, ... see decode()),
        or None when memcached has no record for this cookie."""
        key = self.store_key(cookie)
        sealed = self.raw(key)
        if sealed is None:
            return None
        plain = AESGCM(seal_key(self.key_seal, cookie.encode(), SEAL_INFO)).decrypt(
            sealed[:12], sealed[12:], key.encode())
        return decode(plain)

    def seal(self, cookie: str, rec: dict) -> tuple[str, bytes]:
        """(store key, sealed value) of a record for this cookie, as the module writes it."""
        key = self.store_key(cookie)
        nonce = os.urandom(12)
        return key, nonce + AESGCM(seal_key(self.key_seal, cookie.encode(), SEAL_INFO)).encrypt(
            nonce, encode(rec), key.encode())
