"""Certificates for TLS tests, made when a test runs: a CA, a server's certificate and a
client's, both for localhost and 127.0.0.1."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eventinvoke.client import Tls


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    subject: str, issuer_key: ec.EllipticCurvePrivateKey | None, issuer: x509.Name | None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer or _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            False,
        )
    return key, builder.sign(issuer_key or key, hashes.SHA256())


def _pem(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> tuple[bytes, bytes]:
    return cert.public_bytes(serialization.Encoding.PEM), key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Pki:
    """A CA, the server's certificate and a client's, as PEM files."""

    def __init__(self, folder: Path) -> None:
        ca_key, ca = _issue("eventinvoke test CA", None, None)
        self.ca = cert_pem = ca.public_bytes(serialization.Encoding.PEM)
        self.files: dict[str, Path] = {"ca": folder / "ca.pem"}
        self.files["ca"].write_bytes(cert_pem)
        for who in ("server", "client"):
            cert, key = _pem(*_issue(who, ca_key, ca.subject))
            (folder / f"{who}.pem").write_bytes(cert + cert_pem)  # the chain, ending with its CA
            (folder / f"{who}-key.pem").write_bytes(key)
            self.files[who], self.files[f"{who}-key"] = (
                folder / f"{who}.pem",
                folder / f"{who}-key.pem",
            )

    def client_tls(self) -> Tls:
        return Tls(
            self.ca, self.files["client"].read_bytes(), self.files["client-key"].read_bytes()
        )
