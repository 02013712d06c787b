"""HTTPS on `listen`: an SSL context from tls.cert_file and tls.key_file (PEM)."""

from __future__ import annotations

import os
import ssl

from daemon.config.settings import TlsConfig


class TlsProblem(Exception):
    """The certificate or key cannot be used; the message names the file and why."""


def server_context(tls: TlsConfig) -> ssl.SSLContext:
    for key, path in (("cert_file", tls.cert_file), ("key_file", tls.key_file)):
        if not os.access(path, os.R_OK):
            raise TlsProblem(f"tls.{key}: cannot read {path}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (ssl.SSLError, OSError) as exc:
        raise TlsProblem(
            f"tls: {tls.cert_file} and {tls.key_file} are not a usable certificate and key: {exc}"
        ) from None
    return context
