# SPDX-License-Identifier: Apache-2.0
"""A throw-away test CA and a server certificate for 127.0.0.1/localhost."""
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class TestPKI:
    ca_cert: Path     # PEM, what clients trust (requests verify=, RTSessionCAFile)
    server_cert: Path  # PEM, server cert followed by nothing else (CA is the issuer)
    server_key: Path   # PEM, unencrypted


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mod_rtsession tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o644)   # httpd reads it as root before dropping privileges; test-only key


def make_pki(directory: Path) -> TestPKI:
    """Create (or reuse, if still valid for a day) the CA and server cert under directory."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = TestPKI(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    now = datetime.datetime.now(datetime.timezone.utc)
    if all(p.exists() for p in (pki.ca_cert, pki.server_cert, pki.server_key)):
        cert = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
        expires = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)  # cryptography 38 (Debian 12)
        if expires > now + datetime.timedelta(days=1):
            return pki

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder()
          .subject_name(_name("mod_rtsession test CA")).issuer_name(_name("mod_rtsession test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))

    pki.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, pki.server_key)
    # The CA key is not kept: nothing else is ever signed with it.
    return pki
