"""Reads a session record the way the module stores it, so tests can see the generation and
the tokens without any help from the module (and stage a stolen refresh token).
Mirrors core/rts_session.c and the key derivation in mod_rtsession_config.c."""
import base64
import hashlib
import hmac
import json
import socket

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SessionReader:
    def __init__(self, module_secret: str, memcached_port: int, host: str = "127.0.0.1"):
        secret = module_secret.encode()
        self.key_id = _hkdf(secret, b"mod_rtsession", b"store key naming")
        self.key_seal = _hkdf(secret, b"mod_rtsession", b"record sealing")
        self.addr = (host, memcached_port)

    def store_key(self, cookie: str) -> str:
        mac = hmac.new(self.key_id, b"s:" + cookie.encode(), hashlib.sha256).digest()
        return "rts:s:" + _b64url(mac)

    def raw(self, key: str) -> bytes | None:
        with socket.create_connection(self.addr, timeout=5) as s:
            s.sendall(f"get {key}\r\n".encode())
            buf = b""
            while not buf.endswith(b"END\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        if not buf.startswith(b"VALUE "):
            return None
        header, rest = buf.split(b"\r\n", 1)
        length = int(header.split()[3])
        return rest[:length]

    def read(self, cookie: str) -> dict | None:
        """The session as JSON (keys as stored: g gen, a access token, r refresh token, ...),
        or None when memcached has no record for this cookie."""
        key = self.store_key(cookie)
        sealed = self.raw(key)
        if sealed is None:
            return None
        seal_key = _hkdf(self.key_seal, cookie.encode(), b"rtsession session v1")
        plain = AESGCM(seal_key).decrypt(sealed[:12], sealed[12:], key.encode())
        return json.loads(plain)
