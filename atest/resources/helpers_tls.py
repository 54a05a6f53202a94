"""Writes a certificate, key and CA file of one's own, as a user would bring them."""

from pathlib import Path

import trustme


def write_certificate(directory: str) -> list[str]:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA()
    certificate = authority.issue_cert("localhost", "127.0.0.1")
    paths = [target / "cert.pem", target / "key.pem", target / "ca.pem"]
    certificate.cert_chain_pems[0].write_to_path(paths[0])
    certificate.private_key_pem.write_to_path(paths[1])
    authority.cert_pem.write_to_path(paths[2])
    return [str(path) for path in paths]
