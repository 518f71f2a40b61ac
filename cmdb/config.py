"""Configuration: the one place the process environment is read (prefix ``CMDB_``)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StoreKind(StrEnum):
    EMBEDDED = "embedded"
    NEO4J = "neo4j"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CMDB_", env_file=None, extra="ignore")

    store: StoreKind = Field(default=StoreKind.EMBEDDED, description="which store to use")
    db_path: Path = Field(
        default=Path(".cmdb/cmdb.db"), description="the embedded store's SQLite file"
    )
    neo4j_uri: str = Field(
        default="bolt://127.0.0.1:7687",
        description="Bolt URI; neo4j:// routes across a cluster",
    )
    neo4j_user: str = Field(default="neo4j", description="Neo4j user")
    neo4j_password: SecretStr | None = Field(
        default=None, description="Neo4j password (required for the neo4j store)"
    )
    neo4j_database: str = Field(default="neo4j", description="Neo4j database name")
    neo4j_tx_timeout_s: float = Field(
        default=30.0, gt=0, description="timeout of one Neo4j transaction, traversals included"
    )
    actor: str = Field(default="cli", description="who the CLI writes as, in history")
    discovery_precedence_file: Path | None = Field(
        default=None, description="YAML: which discovery sources own which fields"
    )
    discovery_stale_after_runs: int = Field(
        default=3, ge=1, description="successful runs a CI may go unseen before it is stale"
    )
    discovery_touch_after_s: float = Field(
        default=43_200.0, ge=0, description="age at which an unchanged CI's last-seen is refreshed"
    )
    practice_policy_file: Path | None = Field(
        default=None, description="YAML: change risk rules, approvals, incident priority matrix"
    )
    alert_rules_file: Path | None = Field(
        default=None, description="YAML/JSON: which alert labels name which CIs, grouping reach"
    )

    # -- the API server (cmdb serve) ------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="address `cmdb serve` listens on")
    api_port: int = Field(default=8000, ge=0, le=65535, description="port `cmdb serve` listens on")
    tokens_path: Path = Field(
        default=Path(".cmdb/tokens.db"), description="SQLite file of API tokens (hashed)"
    )
    auth_disabled: bool = Field(
        default=False,
        description="local development only: every request acts as admin, without a token",
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, gt=0, description="largest request body accepted (413 above)"
    )
    max_json_depth: int = Field(
        default=64, gt=0, description="deepest JSON nesting accepted in a body (400 above)"
    )
    page_limit_max: int = Field(default=1000, gt=0, description="largest page a client may ask")
    token_rate_per_min: int = Field(
        default=30, gt=0, description="credential requests per client address per minute"
    )
    token_cache_s: float = Field(
        default=5.0,
        ge=0,
        description="how long a server process trusts a token it verified: a revocation made"
        " elsewhere (the CLI, another process) takes effect everywhere within this",
    )
    graphiql: bool = Field(default=True, description="serve the GraphiQL explorer at /graphql")
    graphql_introspection: bool = Field(default=True, description="allow GraphQL introspection")
    graphql_max_depth: int = Field(default=12, gt=0, description="deepest GraphQL query accepted")
    graphql_max_aliases: int = Field(default=30, gt=0, description="aliases per GraphQL query")
    graphql_max_tokens: int = Field(default=2000, gt=0, description="tokens per GraphQL document")
    graphql_max_cost: int = Field(
        default=100_000, gt=0, description="estimated cost (fields x list sizes) per GraphQL query"
    )
    graphql_max_operations: int = Field(
        default=1, gt=0, description="operations per GraphQL request (batching)"
    )

    # -- operations: logs, metrics, health --------------------------------------------------
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`cmdb serve` logs: text, or json (one object per line, with the request id)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="the least severe log record `cmdb serve` writes"
    )
    metrics_enabled: bool = Field(default=True, description="serve Prometheus metrics at /metrics")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="bearer token /metrics asks for; unset, /metrics answers loopback clients only",
    )
    ready_timeout_s: float = Field(
        default=2.0, gt=0, description="how long /api/v1/health/ready waits for the store"
    )

    # -- webhooks: rules, the delivery worker ---------------------------------------------
    webhooks_allow_private: bool = Field(
        default=False,
        description="allow webhook URLs on private, loopback and link-local addresses",
    )
    webhooks_worker: bool = Field(
        default=False, description="`cmdb serve` also runs the webhook delivery worker"
    )
    webhooks_interval_s: float = Field(
        default=1.0, gt=0, description="how often an idle delivery worker looks for work"
    )
    webhooks_timeout_s: float = Field(
        default=10.0, gt=0, description="timeout of one webhook request (connect, read, write)"
    )
    webhooks_max_attempts: int = Field(
        default=10, ge=1, description="attempts before a delivery is marked failed"
    )
    webhooks_backoff_base_s: float = Field(
        default=5.0, gt=0, description="wait after a delivery's first failure, doubled after each"
    )
    webhooks_backoff_max_s: float = Field(
        default=3600.0, gt=0, description="longest wait between two attempts of a delivery"
    )
    webhooks_retention_days: float = Field(
        default=30.0,
        ge=0,
        description="days finished deliveries and their events are kept (0: for ever);"
        " the worker purges older ones hourly, `cmdb webhooks purge` at once",
    )
    # Not CMDB_*: the variable prometheus_client itself reads. `cmdb serve --workers N` sets
    # it to a directory of its own; set by hand only under another process manager.
    prometheus_multiproc_dir: Path | None = Field(
        default=None,
        validation_alias="PROMETHEUS_MULTIPROC_DIR",
        description="metrics shared by several server processes (prometheus_client's"
        " multiprocess mode); `cmdb serve --workers N` sets it",
    )


def load_settings() -> Settings:
    return Settings()
