"""The configuration as tables inside DuckDB, so SQL models can join on groups, terms and accounts.

Values go in as Arrow tables, never spliced into SQL text: a group alias may contain any
character. The models match terms with the `contains_term` macro (substring search, no regex to
escape); `cfg_group_terms.pattern` holds the same rule as an RE2 pattern built in Python
(`dissentry.terms`), for ad-hoc queries such as `WHERE regexp_matches(text, pattern)`.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import duckdb
import pyarrow as pa

from dissentry.config import Config, parse_account_ref
from dissentry.privacy import Pseudonymiser, pseudonymiser_for
from dissentry.terms import clean_term, sql_pattern
from dissentry.warehouse.lake import Lake

log = logging.getLogger(__name__)

CFG_SCHEMAS: dict[str, pa.Schema] = {
    "cfg_groups": pa.schema([("group_id", pa.string()), ("name", pa.string())]),
    "cfg_group_terms": pa.schema(
        [
            ("group_id", pa.string()),
            ("kind", pa.string()),
            ("term", pa.string()),
            ("pattern", pa.string()),
        ]
    ),
    "cfg_group_domains": pa.schema([("group_id", pa.string()), ("domain", pa.string())]),
    "cfg_group_accounts": pa.schema(
        [("group_id", pa.string()), ("platform", pa.string()), ("handle", pa.string()), ("account_ref", pa.string())]
    ),
    "cfg_group_members": pa.schema(
        [
            ("group_id", pa.string()),
            ("person_id", pa.string()),
            ("platform", pa.string()),
            ("handle", pa.string()),
            ("account_ref", pa.string()),
        ]
    ),
    "cfg_settings": pa.schema(
        [
            ("period_unit", pa.string()),
            ("infer_from_bio", pa.bool_()),
            ("infer_from_amplification", pa.bool_()),
            ("amplification_min_reposts", pa.int64()),
        ]
    ),
}


def _group_terms(config: Config) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for group in config.groups:
        # The group's display name refers to the organisation as much as any alias does.
        by_kind = {
            "alias": [group.name, *group.aliases],
            "leader": group.leaders,
            "bio_marker": group.bio_markers,
            "jargon": group.jargon,
        }
        for kind, terms in by_kind.items():
            for raw in terms:
                term = clean_term(raw)
                key = (group.id, kind, term.casefold())
                if not term or key in seen:
                    continue
                seen.add(key)
                rows.append(
                    {
                        "group_id": group.id,
                        "kind": kind,
                        "term": term,
                        "pattern": sql_pattern(term),
                    }
                )
    return rows


def _account_row(group_id: str, ref: str, pseudonymiser: Pseudonymiser | None = None) -> dict[str, Any]:
    platform, handle = parse_account_ref(ref)
    if pseudonymiser is not None:  # the normalised layer holds pseudonyms: match them
        handle = pseudonymiser.handle(handle) or handle
    return {"group_id": group_id, "platform": platform, "handle": handle, "account_ref": f"{platform}:{handle}"}


def _erased_keys(config: Config) -> set[str]:
    """sha256 of the account ids `dissentry forget` erased (the lake's register)."""
    try:
        lake = Lake(config.warehouse_location, local_dir=config.local_path, storage_options=config.lake_storage_options)
        return set(lake.erased_account_keys())
    except (OSError, ValueError):  # no lake yet, or one that cannot be read: nothing was erased from it
        return set()


def _erased(ref: str, erased: set[str], group_id: str) -> bool:
    """An erased account the configuration still lists: it is the user's own text, so it is not
    edited, but it is said, and no cfg_ row (so no mart row) is built from it."""
    platform, handle = parse_account_ref(ref)
    if hashlib.sha256(f"{platform}:{handle}".encode()).hexdigest() not in erased:
        return False
    log.warning("group %s lists %s, which `dissentry forget` erased: remove it from the configuration "
                "(no mart row is built from it)", group_id, ref)
    return True


def config_rows(config: Config) -> dict[str, list[dict[str, Any]]]:
    """Rows of every cfg_ table, as plain dicts (the tables' contents before they reach DuckDB)."""
    pseudonymiser = pseudonymiser_for(config)
    erased = _erased_keys(config)
    groups = [{"group_id": g.id, "name": g.name} for g in config.groups]
    domains = sorted({(g.id, d) for g in config.groups for d in g.domains if d})
    accounts: dict[tuple[str, str], dict[str, Any]] = {}
    members: dict[tuple[str, str], dict[str, Any]] = {}
    for group in config.groups:
        for ref in group.accounts:
            if erased and _erased(ref, erased, group.id):
                continue
            row = _account_row(group.id, ref, pseudonymiser)
            accounts.setdefault((group.id, row["account_ref"]), row)
        for listed_person, refs in group.people():
            person_id = pseudonymiser.account_id(listed_person) if pseudonymiser is not None else listed_person
            for ref in refs:
                if erased and _erased(ref, erased, group.id):
                    continue
                row = {**_account_row(group.id, ref, pseudonymiser), "person_id": person_id}
                # An account listed twice keeps its first person: one account, one person.
                members.setdefault((group.id, row["account_ref"]), row)
    membership = config.settings.membership
    settings = [
        {
            "period_unit": config.settings.period,
            "infer_from_bio": membership.infer_from_bio,
            "infer_from_amplification": membership.infer_from_amplification,
            "amplification_min_reposts": membership.amplification_min_reposts,
        }
    ]
    return {
        "cfg_groups": groups,
        "cfg_group_terms": _group_terms(config),
        "cfg_group_domains": [{"group_id": g, "domain": d} for g, d in domains],
        "cfg_group_accounts": list(accounts.values()),
        "cfg_group_members": list(members.values()),
        "cfg_settings": settings,
    }


def load_config_tables(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """(Re)create the cfg_ tables from `config`."""
    for name, rows in config_rows(config).items():
        table = pa.Table.from_pylist(rows, schema=CFG_SCHEMAS[name])
        view = f"_cfg_arrow_{name}"
        con.register(view, table)
        try:
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {view}")
        finally:
            con.unregister(view)
