"""Kafka security for real clusters: one set of settings, applied to every client the project
creates, faust's aiokafka clients and confluent-kafka's alike.

PLAINTEXT (the default), SSL (TLS, optionally with a client certificate), SASL_PLAINTEXT and
SASL_SSL with PLAIN or SCRAM-SHA-256/512. Secrets are SecretStr in the settings and go only into
the client configs, never into a log line, an error or `--help`.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from streams.errors import DriftlineError

if TYPE_CHECKING:
    from streams.settings import KafkaSettings, Settings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def confluent_security(settings: "KafkaSettings") -> dict[str, str]:
    """librdkafka's security properties for the settings."""
    protocol = settings.kafka_security_protocol
    config = {"security.protocol": protocol.lower()}
    if protocol.startswith("SASL"):
        config.update({"sasl.mechanism": settings.kafka_sasl_mechanism,
                       "sasl.username": settings.kafka_sasl_username,
                       "sasl.password": settings.kafka_sasl_password.get_secret_value()})
    if protocol.endswith("SSL"):
        if settings.kafka_ssl_ca_file:
            config["ssl.ca.location"] = str(settings.kafka_ssl_ca_file)
        if settings.kafka_ssl_cert_file:
            config["ssl.certificate.location"] = str(settings.kafka_ssl_cert_file)
        if settings.kafka_ssl_key_file:
            config["ssl.key.location"] = str(settings.kafka_ssl_key_file)
    return config


def ssl_context(settings: "Settings") -> ssl.SSLContext:
    """A verifying TLS context: the CA file (or the system's CAs), and the client certificate."""
    try:
        context = ssl.create_default_context(cafile=str(settings.kafka_ssl_ca_file) if settings.kafka_ssl_ca_file
                                             else None)
        if settings.kafka_ssl_cert_file:
            context.load_cert_chain(str(settings.kafka_ssl_cert_file),
                                    str(settings.kafka_ssl_key_file) if settings.kafka_ssl_key_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise DriftlineError(f"Kafka TLS files: {exc}") from exc
    return context


def faust_credentials(settings: "Settings"):
    """faust's `broker_credentials` for the settings (None for PLAINTEXT)."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context(settings))
    return faust.SASLCredentials(username=settings.kafka_sasl_username,
                                 password=settings.kafka_sasl_password.get_secret_value(),
                                 ssl_context=ssl_context(settings) if protocol == "SASL_SSL" else None,
                                 mechanism=settings.kafka_sasl_mechanism)
