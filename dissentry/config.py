"""Configuration: `dissentry.toml`, validated with pydantic.

An invalid file fails with one `ConfigError` that names the file and the key, never a traceback.
Relative paths in the file (warehouse_dir, import files) are resolved against the file's folder,
so a configuration means the same thing whatever the working directory.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from dissentry.connectors.identity import canonical_handle
from dissentry.connectors.registry import platforms
from dissentry.resources import ResourceSettings
from dissentry.secrets import ENVIRONMENT, Secrets

KNOWN_PLATFORMS: tuple[str, ...] = tuple(platforms())
"""Platforms a config may name: whatever `connectors.registry` lists."""

_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_LABEL_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")  # a csv/jsonl platform_label, as the tabular connector
_TABULAR = ("csv", "jsonl")  # platforms whose posts are stored under the source's platform_label

SCHEDULE_PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
"""The `@` schedules a source may name, as cron: Airflow's presets (the DAGs use the cron)."""
# one cron field: numbers, ranges, steps and lists ("*/15", "1-5", "0,30"), or month/day names ("mon-fri")
_CRON_FIELD = re.compile(r"^(?:[0-9*?][0-9A-Za-z*?/,#-]*|[A-Za-z]{3}(?:[-,][A-Za-z]{3})*)$")


def schedule_problem(expression: str) -> str | None:
    """Why `expression` is no schedule Airflow accepts, naming the forms that are; None if it is one."""
    expression = expression.strip()
    if expression in SCHEDULE_PRESETS:
        return None
    fields = expression.split()
    ok = len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)
    if ok:
        try:  # croniter comes with Airflow; without it the shape check above stands
            from croniter import croniter
        except ImportError:
            return None
        ok = bool(croniter.is_valid(expression))
    if ok:
        return None
    return (f"schedule {expression!r} is not a schedule: use one of {', '.join(SCHEDULE_PRESETS)}, or a cron "
            "expression of five fields (minute hour day-of-month month day-of-week) such as '0 6 * * *' "
            "(daily at 06:00 UTC) or '*/30 * * * *' (every 30 minutes)")


class ConfigError(ValueError):
    """A configuration that cannot be used. The message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_account_ref(ref: str) -> tuple[str, str]:
    """Split `platform:handle` into (platform, normalised handle).

    Handles are compared case-insensitively and without a leading `@`, so
    `mastodon:@Alice@Social.Example` and `mastodon:alice@social.example` are one account.
    """
    platform, sep, handle = ref.partition(":")
    platform = platform.strip().lower()
    # one spelling per account (NFKC, no zero-width or bidi characters, IDNA host), as the mappings
    handle = canonical_handle(handle)
    if not sep or not handle:
        raise ValueError(f"account {ref!r} must look like 'platform:handle', e.g. 'mastodon:@alice@social.example'")
    if platform not in KNOWN_PLATFORMS and not _LABEL_PATTERN.match(platform):
        # any other namespace must be a csv/jsonl source's platform_label: Config checks which ones exist
        raise ValueError(f"account {ref!r} names unknown platform {platform!r} (known: {', '.join(KNOWN_PLATFORMS)}, "
                         "or the platform_label of a csv or jsonl source)")
    if platform == "facebook":
        # Facebook exports name people, never usernames: the connector's handle is the name's slug,
        # so `facebook:Gustav Johansen` (the profile's name) means `facebook:gustav-johansen`
        from dissentry.connectors.facebook.connector import slug

        handle = slug(handle)
        if not handle:
            raise ValueError(f"account {ref!r}: a Facebook account is the owner's name, e.g. 'facebook:Gustav Johansen'"
                             " (read as 'facebook:gustav-johansen'), and this one has no letters or digits")
    return platform, handle


class Person(_Strict):
    """A member who may hold accounts on several platforms; member figures count people."""

    name: str = Field(min_length=1)
    accounts: list[str] = Field(min_length=1)

    @field_validator("accounts")
    @classmethod
    def _check_accounts(cls, accounts: list[str]) -> list[str]:
        for ref in accounts:
            parse_account_ref(ref)
        return accounts


class Group(_Strict):
    id: str
    name: str
    aliases: list[str] = []
    leaders: list[str] = []
    domains: list[str] = []
    accounts: list[str] = []
    bio_markers: list[str] = []
    members: list[str | Person] = []
    jargon: list[str] = []

    @field_validator("id")
    @classmethod
    def _check_id(cls, group_id: str) -> str:
        if not re.match(_ID_PATTERN, group_id):
            raise ValueError(
                f"group id {group_id!r} must be 1-64 lower-case letters, digits, '_', '.' or '-'"
            )
        return group_id

    @field_validator("accounts")
    @classmethod
    def _check_accounts(cls, accounts: list[str]) -> list[str]:
        for ref in accounts:
            parse_account_ref(ref)
        return accounts

    @field_validator("members")
    @classmethod
    def _check_members(cls, members: list[str | Person]) -> list[str | Person]:
        for member in members:
            if isinstance(member, str):
                parse_account_ref(member)
        return members

    @field_validator("domains")
    @classmethod
    def _normalise_domains(cls, domains: list[str]) -> list[str]:
        return [d.strip().lower().removeprefix("www.") for d in domains]

    def people(self) -> list[tuple[str, list[str]]]:
        """(person_id, account refs) for every listed member."""
        out: list[tuple[str, list[str]]] = []
        for member in self.members:
            if isinstance(member, str):
                platform, handle = parse_account_ref(member)
                out.append((f"{platform}:{handle}", [member]))
            else:
                out.append((f"person:{member.name}", list(member.accounts)))
        return out


class CollectionOverrides(_Strict):
    """A source's own `[sources.collection]`: any field of `[settings.collection]`, for this source only."""

    retry_attempts: Annotated[int, Field(ge=1, le=100)] | None = None
    backoff_seconds: Annotated[float, Field(gt=0, le=3600)] | None = None
    backoff_max_seconds: Annotated[float, Field(gt=0, le=86400)] | None = None
    max_wait_seconds: Annotated[float, Field(ge=0, le=86400)] | None = None
    request_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] | None = None
    max_requests: Annotated[int, Field(ge=1)] | None = None
    max_pages: Annotated[int, Field(ge=1)] | None = None
    task_retries: Annotated[int, Field(ge=0, le=100)] | None = None
    task_retry_delay_seconds: Annotated[float, Field(ge=0, le=86400)] | None = None
    task_timeout_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] | None = None


class CollectionSettings(_Strict):
    """`[settings.collection]`: how hard and how long collection tries. The HTTP client and the
    Airflow collection tasks are built from these figures (per source, see `Config.collection_for`)."""

    retry_attempts: Annotated[int, Field(ge=1, le=100)] = 6  # attempts per request on 5xx, timeouts, bad bodies
    backoff_seconds: Annotated[float, Field(gt=0, le=3600)] = 0.5  # retry n waits up to backoff * 2**n (jittered)
    backoff_max_seconds: Annotated[float, Field(gt=0, le=86400)] = 60.0  # cap of one backoff pause
    max_wait_seconds: Annotated[float, Field(ge=0, le=86400)] = 900.0  # most one request waits in all
    request_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0  # one HTTP attempt
    max_requests: Annotated[int, Field(ge=1)] | None = None  # request budget per source and run; None: no cap
    max_pages: Annotated[int, Field(ge=1)] = 1000  # pages per source and run; beyond, the run is partial
    task_retries: Annotated[int, Field(ge=0, le=100)] = 3  # Airflow retries of a failed collection task
    task_retry_delay_seconds: Annotated[float, Field(ge=0, le=86400)] = 60.0  # first retry's delay (then doubled)
    # a task's execution_timeout; None: the schedule's period, within 10 minutes and 6 hours
    task_timeout_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] | None = None

    def merged(self, overrides: CollectionOverrides) -> CollectionSettings:
        """These settings with a source's overrides on top (fields it leaves unset keep ours)."""
        return self.model_copy(update=overrides.model_dump(exclude_none=True))

    def http_client_options(self) -> dict[str, Any]:
        """The keyword arguments of `connectors.http.HttpClient` these settings decide."""
        return {
            "max_attempts": self.retry_attempts,
            "backoff_seconds": self.backoff_seconds,
            "backoff_max_seconds": self.backoff_max_seconds,
            "max_wait_seconds": self.max_wait_seconds,
            "timeout": self.request_timeout_seconds,
            "max_requests": self.max_requests,
        }


class Source(_Strict):
    """One thing to collect: API accounts/hashtags/query, or export files to import."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    platform: str
    instance: str | None = None
    accounts: list[str] = []
    hashtags: list[str] = []
    query: str | None = None
    files: list[str] = []
    options: dict[str, Any] = {}  # connector-specific settings (subreddits, feed URLs, column mapping, ...)
    schedule: str = "@daily"
    token_env: str | None = None
    conn_id: str | None = None
    collection: CollectionOverrides = CollectionOverrides()  # this source's `[settings.collection]` overrides
    max_pages: Annotated[int, Field(ge=1)] | None = None  # the same as collection.max_pages (older spelling)

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, platform: str) -> str:
        if platform not in KNOWN_PLATFORMS:
            raise ValueError(f"unknown platform {platform!r} (known: {', '.join(KNOWN_PLATFORMS)})")
        return platform

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, schedule: str) -> str:
        problem = schedule_problem(schedule)
        if problem:
            raise ValueError(problem)
        return schedule

    @model_validator(mode="after")
    def _has_something_to_collect(self) -> Source:
        if not (self.accounts or self.hashtags or self.query or self.files or self.options):
            raise ValueError("a source needs accounts, hashtags, query, files or options")
        return self

    @model_validator(mode="after")
    def _label_is_no_platform(self) -> Source:
        if self.platform in ("csv", "jsonl"):
            from dissentry.connectors.tabular.connector import label_problem

            label = self.options.get("platform_label")
            problem = label_problem(label, self.platform) if isinstance(label, str) else None
            if problem:
                raise ValueError(f"options.{problem}")
        return self

    @model_validator(mode="after")
    def _conn_id_needs_token_env(self) -> Source:
        if self.conn_id and not self.token_env:
            raise ValueError("conn_id needs token_env: the name the connection's secret is looked up by")
        return self

    @property
    def is_import(self) -> bool:
        return bool(self.files) and not (self.accounts or self.hashtags or self.query)


BUILTIN_CLASSIFIERS: tuple[str, ...] = ("vader_rules", "trained")
"""The one registry of the stance classifiers dissentry ships, by the name settings.stance.classifier
takes. It lives here, in the core layer, so that validation needs no import of transforms;
transforms/stance.py registers one class under each name and refuses to import if they differ."""
AUTO_CLASSIFIER = "auto"  # not a classifier: picks `trained` or `vader_rules` by the number of labels
_CLASSIFIER_CHOICES = (AUTO_CLASSIFIER, *BUILTIN_CLASSIFIERS)
_PLUGIN_CLASSIFIER = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


class StanceSettings(_Strict):
    # "auto": `trained` once min_training_labels consensus labels exist, else `vader_rules`;
    # "package.module:ClassName" loads a user's own classifier (see transforms/stance.py)
    classifier: str = "auto"
    min_training_labels: Annotated[int, Field(ge=10)] = 100
    cross_fit_folds: Annotated[int, Field(ge=2, le=20)] = 5
    seed: int = 0
    negative_threshold: float = -0.05
    positive_threshold: float = 0.05
    critical_cues: list[str] = [
        "disagree",
        "wrong about",
        "mistake",
        "failed",
        "failure",
        "resign",
        "undemocratic",
        "betrayed",
        "betrayal",
        "ashamed",
        "shameful",
        "incompetent",
        "out of touch",
        "step down",
        "disappointed",
        "hypocrisy",
        "hypocritical",
        "can't support",
        "cannot support",
        "no longer support",
    ]

    @field_validator("classifier")
    @classmethod
    def _known_classifier(cls, value: str) -> str:
        value = value.strip()
        if value in _CLASSIFIER_CHOICES or _PLUGIN_CLASSIFIER.match(value):
            return value
        raise ValueError(
            f"unknown stance classifier {value!r}: use one of {', '.join(_CLASSIFIER_CHOICES)} "
            "or 'package.module:ClassName' for your own class"
        )


class MembershipSettings(_Strict):
    infer_from_bio: bool = True
    infer_from_amplification: bool = True
    amplification_min_reposts: Annotated[int, Field(ge=1)] = 3


class Settings(_Strict):
    period: Literal["month", "week", "day", "year"] = "month"
    pseudonymise: bool = False
    pseudonym_key_env: str = "DISSENTRY_PSEUDONYM_KEY"
    raw_retention_days: Annotated[int, Field(ge=1)] | None = None  # raw payloads older than this are dropped
    collection: CollectionSettings = CollectionSettings()
    stance: StanceSettings = StanceSettings()
    membership: MembershipSettings = MembershipSettings()
    resources: ResourceSettings = ResourceSettings()


_SECRET_OPTION = re.compile(r"(key|secret|token|password|credential)", re.IGNORECASE)


class Config(_Strict):
    warehouse_dir: str = "data"  # a folder, or an object-store URL such as s3://bucket/prefix
    local_dir: str | None = None  # DuckDB file, locks, scratch; default: warehouse_dir, or "data" for a URL
    storage_options: dict[str, str | int | float | bool] = {}  # fsspec options of a remote lake, no secrets
    storage_conn_id: str | None = None  # Airflow Connection with the store's credentials (DAGs only)
    groups: list[Group] = []
    sources: list[Source] = []
    settings: Settings = Settings()
    config_path: Path | None = Field(default=None, exclude=True)
    # where secrets are read (dissentry/secrets.py): not a field, so never dumped, validated or shown
    _secrets: Secrets = PrivateAttr(default=ENVIRONMENT)

    def with_secrets(self, secrets: Secrets) -> Config:
        """This configuration, reading its secrets (tokens, the pseudonym key, the lake store's
        credentials) from `secrets` instead of the environment."""
        copy = self.model_copy()
        copy._secrets = secrets
        return copy

    def secrets(self, name: str) -> str:
        """The secret called `name` (an environment variable's name: `token_env`, ...); "" if unset."""
        return self._secrets(name)

    @property
    def secrets_from(self) -> str:
        """Where secrets are read, for a message (never a value)."""
        return self._secrets.where

    @property
    def lake_storage_options(self) -> dict[str, Any]:
        """The lake's file-system options: `storage_options` from the file, and the store's
        credentials when the secrets lookup carries them (an Airflow Connection's); otherwise the
        store's own chain (the environment, a profile, an instance role) finds them. An option the
        file sets (an endpoint_url) wins over the Connection's, as it won over the environment's."""
        return {**self._secrets.store_options(), **self.storage_options}

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        for what, names in (("groups", [g.id for g in self.groups]), ("sources", [s.name for s in self.sources])):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {what}: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _sources_fit_their_connectors(self) -> Config:
        """Every source's `options` through its connector's `Options`, and no API collection asked of
        an import-only platform: a typo fails here, at load, not halfway through an import."""
        from dissentry.connectors.base import options_problem
        from dissentry.connectors.registry import get_connector

        problems: list[str] = []
        for source in self.sources:
            connector = get_connector(source.platform)  # imported only now, when there is a source of it
            problem = options_problem(connector.Options, source.options)
            if problem:
                problems.append(f"source {source.name!r} ({source.platform}): {problem}")
            if not connector.can_collect and (source.accounts or source.hashtags or source.query):
                problems.append(f"source {source.name!r}: {connector.import_only_error()}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _account_namespaces_hold_data(self) -> Config:
        """Every account ref names a namespace posts are stored under: a platform, or the
        `platform_label` of a csv/jsonl source (whose posts are stored under the label, not under
        `csv:`/`jsonl:`). A ref to a namespace that can hold nothing would silently match nothing."""
        namespaces = self.account_namespaces()
        problems: list[str] = []
        for i, group in enumerate(self.groups):
            refs = [("accounts", n, r) for n, r in enumerate(group.accounts)]
            for n, member in enumerate(group.members):
                if isinstance(member, str):
                    refs.append(("members", n, member))
                else:
                    refs += [(f"members[{n}].accounts", k, r) for k, r in enumerate(member.accounts)]
            for field, n, ref in refs:
                namespace = ref.partition(":")[0].strip().lower()
                if namespace in namespaces:
                    continue
                where = f"groups[{i}] ({group.id}).{field}[{n}]"
                problems.append(f"{where}: account {ref!r} {self._namespace_hint(namespace, namespaces)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def account_namespaces(self) -> set[str]:
        """The namespaces account refs may use: every platform, except that csv and jsonl give way
        to their sources' platform_label (an unlabelled one, or `dissentry import csv FILE` without
        a source, stores under `csv:`/`jsonl:` itself)."""
        names = {p for p in KNOWN_PLATFORMS if p not in _TABULAR}
        for platform in _TABULAR:
            tabular = [s for s in self.sources if s.platform == platform]
            labels = {self._label_of(s) for s in tabular}
            names |= labels if tabular else {platform}
        return names

    @staticmethod
    def _label_of(source: Source) -> str:
        label = source.options.get("platform_label")
        return label if isinstance(label, str) and label else source.platform

    def _namespace_hint(self, namespace: str, namespaces: set[str]) -> str:
        if namespace in _TABULAR:
            labels = sorted({self._label_of(s) for s in self.sources if s.platform == namespace})
            named = ", ".join(repr(f"{label}:") for label in labels)
            return (f"matches no data: every {namespace} source stores its posts under its platform_label "
                    f"({', '.join(labels)}); write {named} instead")
        close = difflib.get_close_matches(namespace, sorted(namespaces), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0] + ':'!r}?" if close else ""
        return (f"names unknown platform {namespace!r} (known: {', '.join(sorted(namespaces))}; a csv or jsonl "
                f"source's platform_label is a namespace too){hint}")

    def collection_for(self, source: Source | str) -> CollectionSettings:
        """`[settings.collection]` with the source's own overrides (and its `max_pages`) on top."""
        if isinstance(source, str):
            source = self.source(source)
        settings = self.settings.collection.merged(source.collection)
        if source.max_pages is not None and source.collection.max_pages is None:
            settings = settings.model_copy(update={"max_pages": source.max_pages})
        return settings

    @field_validator("storage_options")
    @classmethod
    def _no_secrets_in_storage_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        secret = sorted(k for k in options if _SECRET_OPTION.search(k))
        if secret:
            raise ValueError(
                f"{', '.join(secret)}: credentials do not belong in the config file; set them in the environment "
                "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for S3) or an Airflow Connection"
            )
        return options

    @model_validator(mode="after")
    def _storage_conn_needs_s3(self) -> Config:
        if self.storage_conn_id and not self.warehouse_dir.startswith(("s3://", "s3a://")):
            raise ValueError("storage_conn_id: only an s3:// warehouse_dir takes its credentials from a Connection")
        return self

    @property
    def base_dir(self) -> Path:
        return self.config_path.parent if self.config_path else Path.cwd()

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def warehouse_is_remote(self) -> bool:
        return "://" in self.warehouse_dir and not self.warehouse_dir.startswith("file://")

    @property
    def warehouse_location(self) -> str:
        """The lake's root: a URL for an object store, an absolute path otherwise."""
        if self.warehouse_is_remote:
            return self.warehouse_dir
        return str(self.resolve(self.warehouse_dir.removeprefix("file://")))

    @property
    def warehouse_path(self) -> Path:
        """The local lake folder (a config with a remote lake has none: use `warehouse_location`)."""
        if self.warehouse_is_remote:
            raise ConfigError(f"{self.config_path}: warehouse_dir {self.warehouse_dir!r} is not a local folder")
        return Path(self.warehouse_location)

    @property
    def local_path(self) -> Path:
        """Where the DuckDB file, locks and scratch files live: always local disk."""
        if self.local_dir is not None:
            return self.resolve(self.local_dir)
        return self.resolve("data") if self.warehouse_is_remote else self.warehouse_path

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"{self.config_path}: no source named {name!r} (configured: {known})")


def _format_location(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    """`groups[0].accounts[1]` with the group's or source's id/name when there is one."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = ""
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                ident = node[item].get("id") or node[item].get("name")
                label = f" ({ident})" if ident else ""
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]{label}"]
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            # pydantic puts union branch names (e.g. 'str', 'Person') in the path: skip them
            if isinstance(node, dict) and item in node:
                parts.append(str(item))
                node = node[item]
            elif isinstance(node, dict) or node is None:
                parts.append(str(item))
                node = None
    return ".".join(parts) or "(top level)"


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file; raise ConfigError with a readable message."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from None
    try:
        return Config.model_validate({**data, "config_path": path.resolve()})
    except ValidationError as exc:
        problems = []
        seen: set[str] = set()
        for err in exc.errors():
            where = _format_location(tuple(err["loc"]), data)
            msg = re.sub(r"^Value error, ", "", err["msg"])
            # a check across the file (options, account namespaces) names its own keys
            line = msg if where == "(top level)" else f"{where}: {msg}"
            if line not in seen:
                seen.add(line)
                problems.append(line)
        raise ConfigError(f"{path}: invalid configuration: " + "; ".join(problems)) from None
