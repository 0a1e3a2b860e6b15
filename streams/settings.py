"""All settings of driftline, from DRIFTLINE_* environment variables or the `.driftline.env` file
that `make stack-up` writes. Secrets are SecretStr so they never reach a log line."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """What a Kafka client of driftline needs: the brokers, their security, the topic names.
    The producer SDK (driftline/) reads only these, so that a service logging predictions does
    not import the worker's statistics to validate settings it does not use."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_", env_file=".driftline.env", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_ca_file: Optional[Path] = None  # PEM; default: the system's CAs
    kafka_ssl_cert_file: Optional[Path] = None  # PEM client certificate (mutual TLS)
    kafka_ssl_key_file: Optional[Path] = None  # PEM key of the client certificate
    topic_prefix: str = Field("driftline", min_length=1)

    def kafka_client_config(self) -> dict[str, object]:
        """The connection part of every confluent-kafka client's config (one place for it). Its
        log lines go through Python logging (driftline.kafka), where repeats are collapsed."""
        import logging

        from streams.kafka.security import confluent_security

        return {"bootstrap.servers": self.bootstrap_servers, "logger": logging.getLogger("driftline.kafka"),
                **confluent_security(self)}

    @property
    def predictions_topic(self) -> str:
        return f"{self.topic_prefix}.predictions"


class Settings(KafkaSettings):
    influx_url: str = "http://127.0.0.1:8086"
    influx_token: SecretStr = SecretStr("")
    influx_token_file: Optional[Path] = None  # read the token from this file instead (e.g. a mounted secret)
    influx_org: str = "driftline"
    influx_bucket: str = "driftline"
    window_seconds: float = Field(60.0, gt=0)
    allowed_lateness_seconds: float = Field(5.0, ge=0)
    idle_grace_seconds: float = Field(5.0, ge=0)
    psi_threshold: float = Field(0.2, gt=0)
    psi_major_threshold: float = Field(0.25, gt=0)
    drift_statistics: str = "psi,ks,js,wasserstein,chi2"
    drift_alpha: float = Field(0.05, gt=0, lt=1)
    adwin_delta: float = Field(0.002, ge=0, lt=1)  # 0 switches the per-event ADWIN watch off
    # Below this many events a window gets its statistics but no verdict: PSI's noise under no
    # drift is about (bins - 1) / n, so at n = 100 it already reaches the 0.1 minor threshold.
    min_window_events: int = Field(100, ge=1)
    alert_repeat_seconds: float = Field(4 * 3600, ge=0)  # an open incident's reminder (event time); 0: none
    alert_clear_ratio: float = Field(0.8, gt=0, le=1)  # an incident clears below this share of its threshold
    alert_clear_windows: int = Field(2, ge=1)  # ... for this many consecutive windows
    topic_partitions: int = Field(4, ge=1)  # of the predictions topic, when driftline creates it
    partials_partitions: int = Field(4, ge=1)  # of the internal partials topic and its merge table
    # The label join (#11): labels on <prefix>.labels meet their predictions in join partitions.
    # Which models' predictions are kept for their labels: "auto" (the default) those whose
    # profile records performance (`profile build --label-column`), "all", or "off" (no labels
    # or join agents at all).
    label_join: Literal["auto", "all", "off"] = "auto"
    join_partitions: int = Field(4, ge=1)  # of the internal join topic
    label_horizon_seconds: float = Field(7 * 86_400, gt=0)  # how long a prediction waits for its label
    label_wait_seconds: float = Field(600, ge=0)  # how long a label waits for its prediction
    # Performance alerts (accuracy_drop, mae_rise): significantly worse than the profile's baseline
    # by more than the margin (detectors/stats/performance_drop.py), judged from this many labels.
    performance_margin: float = Field(0.05, gt=0, lt=1)
    performance_alpha: float = Field(0.01, gt=0, lt=1)
    performance_min_labels: int = Field(100, ge=1)
    app_id: str = "driftline-worker"
    worker_data_dir: Path = Path.home() / ".cache" / "driftline" / "worker"
    log_level: str = "info"
    # One INFO line per partial and progress sent and merged (logger driftline.trace): for
    # diagnosing delivery, not for every day (a line per window per partition).
    trace_delivery: bool = False
    # /metrics (Prometheus) and /health: "host:port", or "off"; a taken port is logged, not fatal.
    metrics_address: str = "127.0.0.1:9477"
    metrics_max_models: int = Field(100, ge=1)  # (model, version) pairs with series of their own
    # Predictions messages read ahead of the windows (faust's stream buffer): the slack that keeps
    # the windows busy while the consumer fetches; memory up to this many messages.
    read_ahead_messages: int = Field(4096, ge=1)

    @model_validator(mode="after")
    def _token_from_file(self) -> "Settings":
        if self.influx_token_file is not None:
            try:
                token = self.influx_token_file.read_text().strip()
            except OSError as exc:
                raise ValueError(f"DRIFTLINE_INFLUX_TOKEN_FILE: cannot read {self.influx_token_file}: "
                                 f"{exc.strerror}") from None
            self.influx_token = SecretStr(token)
        return self

    @field_validator("drift_statistics")
    @classmethod
    def _known_statistics(cls, value: str) -> str:
        from streams.core.findings import STATISTICS

        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in STATISTICS]
        if unknown or not names:
            raise ValueError(f"unknown statistics {unknown}; choose from {', '.join(STATISTICS)}")
        return ",".join(names)

    @property
    def statistic_names(self) -> list[str]:
        return self.drift_statistics.split(",")

    @property
    def alerts_topic(self) -> str:
        return f"{self.topic_prefix}.alerts"

    @property
    def labels_topic(self) -> str:
        return f"{self.topic_prefix}.labels"

    @property
    def labels_dlq_topic(self) -> str:
        return f"{self.topic_prefix}.labels.dlq"

    @property
    def join_topic(self) -> str:
        """Internal: predictions and labels, partitioned by (model, event id) (schemas/join.py)."""
        return f"{self.app_id}.join"

    @property
    def profiles_topic(self) -> str:
        return f"{self.topic_prefix}.profiles"

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic_prefix}.predictions.dlq"

    @property
    def checkpoints_topic(self) -> str:
        """Internal: per-partition window checkpoints of this worker group (see checkpoint.py)."""
        return f"{self.app_id}.checkpoints"

    @property
    def partials_topic(self) -> str:
        """Internal: closed windows of each predictions partition, for the merge stage (merger.py)."""
        return f"{self.app_id}.partials"

    @property
    def merge_changelog_topic(self) -> str:
        """Internal: the changelog of the merge stage's faust Table (its state across restarts),
        named as faust names it (`<app id>-<table>-changelog`)."""
        return f"{self.app_id}-merge-changelog"

    @property
    def window_ms(self) -> int:
        return int(round(self.window_seconds * 1000))

    @property
    def lateness_ms(self) -> int:
        return int(round(self.allowed_lateness_seconds * 1000))

    @property
    def idle_grace_ms(self) -> int:
        return int(round(self.idle_grace_seconds * 1000))

    def safe_summary(self) -> dict[str, object]:
        """Settings fit for a log line: the token is never included."""
        data = self.model_dump(exclude={"influx_token", "kafka_sasl_password"})
        data["influx_token"] = "***" if self.influx_token.get_secret_value() else "(unset)"
        data["kafka_sasl_password"] = "***" if self.kafka_sasl_password.get_secret_value() else "(unset)"
        return data
