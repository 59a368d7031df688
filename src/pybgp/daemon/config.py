"""pybgpd's TOML configuration: parse, validate everything at once, build frozen dataclasses.

Owns: `load_config(path)` / `parse_config(text, source)` returning a `DaemonConfig` or raising
`ConfigErrors` that lists EVERY problem found, each with file, line, key and what was expected (wrong
type, out of range, unknown key with the closest valid name, bad address or prefix, a reference to a
policy or prefix list that does not exist, duplicates). Every key is documented in docs/configuration.md.
Never does: touch the network or the kernel, or apply a config (that is `daemon.py`).
"""

from __future__ import annotations

import ipaddress
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from pybgp.daemon.config_reader import (
    MISSING,
    ConfigError,
    ConfigErrors,
    Ctx,
    Table,
    hint,
    parse_address,
    parse_community,
    parse_hostport,
    parse_ipv4,
    parse_prefix,
    parse_prefix_list_entry,
    type_name,
)
from pybgp.daemon.schema import (
    BUILTIN_POLICIES,
    FAMILY_NAMES,
    AddPathMode,
    BfdConfig,
    ControlConfig,
    DaemonConfig,
    DynamicNeighborConfig,
    GlobalConfig,
    KernelExportConfig,
    KernelImportConfig,
    LoggingConfig,
    MetricsConfig,
    NeighborConfig,
    OriginationConfig,
)
from pybgp.daemon.toml_lines import LineMap
from pybgp.rib.policy import PolicyError, Rule

__all__ = ["MISSING", "ConfigError", "ConfigErrors", "load_config", "parse_config"]


def _read_global(t: Table) -> GlobalConfig | None:
    asn = t.integer("asn", lo=1, hi=0xFFFFFFFF)
    router_id = t.convert("router_id", parse_ipv4, "IPv4 address")
    listen = t.converted_list("listen", parse_address, "IP address")
    port = t.integer("port", 179, lo=0, hi=65535)
    gr = t.integer("graceful_restart_time", None, lo=0, hi=4095)
    t.finish()
    if asn is None or router_id is None:
        return None
    return GlobalConfig(asn=asn, router_id=router_id, listen=listen, port=port, graceful_restart_time=gr)


def _read_bfd(t: Table | None, raw: object) -> BfdConfig:
    if t is None:
        return BfdConfig(enabled=raw is True)
    cfg = BfdConfig(
        enabled=t.boolean("enabled", True),
        min_tx_ms=t.integer("min_tx_ms", 400, lo=1, hi=60_000),
        min_rx_ms=t.integer("min_rx_ms", 400, lo=1, hi=60_000),
        multiplier=t.integer("multiplier", 5, lo=1, hi=255),
        strict=t.boolean("strict", False),
        multihop=t.boolean("multihop", False),
    )
    t.finish()
    return cfg


def _read_neighbor(t: Table, global_asn: int | None, dynamic: bool) -> NeighborConfig | None:
    name = t.string("name", None)
    # Without `address`, a neighbor on an `interface` is the first host of that interface's IPv4 subnet
    # (the ToR convention of TARGET.md), resolved from the kernel when the daemon starts or reloads.
    by_interface = not dynamic and "address" not in t.data and isinstance(t.data.get("interface"), str)
    address = None if dynamic or by_interface else t.convert("address", parse_address, "IP address")
    remote_as_raw = t.raw("remote_as")
    remote_as: int | None = None
    if remote_as_raw == "internal":
        remote_as = global_asn
    elif (
        isinstance(remote_as_raw, int)
        and not isinstance(remote_as_raw, bool)
        and 1 <= remote_as_raw <= 2**32 - 1
    ):
        remote_as = remote_as_raw
    elif remote_as_raw is not None:
        t.error("remote_as", f'expected an ASN 1..4294967295 or "internal", got {remote_as_raw!r}')
    families: list[tuple[int, int]] = []
    for fam in t.strings("families", ("ipv4-unicast",)):
        if fam in FAMILY_NAMES:
            families.append(FAMILY_NAMES[fam])
        else:
            t.error(
                "families",
                f"unknown family {fam!r}; expected one of {', '.join(FAMILY_NAMES)}"
                + hint(fam, list(FAMILY_NAMES)),
            )
    error_wait = (3.0, 300.0)
    ew = t.raw("error_wait", None)
    if ew is not None:
        if (
            isinstance(ew, list)
            and len(ew) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in ew)
            and 0 < ew[0] <= ew[1]
        ):
            error_wait = (float(ew[0]), float(ew[1]))
        else:
            t.error("error_wait", f"expected [MIN, MAX] seconds with 0 < MIN <= MAX, got {ew!r}")
    hold = t.integer("hold_time", 240, lo=0, hi=65535)
    if isinstance(hold, int) and hold in (1, 2):
        t.error("hold_time", "expected 0 or 3..65535 (RFC 4271 section 4.2), got " + str(hold))
    bfd_raw = t.data.get("bfd")
    bfd = _read_bfd(None, bfd_raw) if isinstance(bfd_raw, bool) else _read_bfd(t.table("bfd"), None)
    t.used.add("bfd")
    multihop_raw = t.raw("multihop", None)
    multihop: int | None = None
    if multihop_raw is True:
        multihop = 64
    elif isinstance(multihop_raw, int) and not isinstance(multihop_raw, bool) and 1 <= multihop_raw <= 255:
        multihop = multihop_raw
    elif multihop_raw not in (None, False):
        t.error("multihop", f"expected true/false or a TTL 1..255, got {multihop_raw!r}")
    cfg = dict(
        interface=t.string("interface", None),
        local_as=t.integer("local_as", None, lo=1, hi=0xFFFFFFFF),
        local_address=t.convert("local_address", parse_address, "IP address", None),
        description=t.string("description", ""),
        enabled=t.boolean("enabled", True),
        passive=t.boolean("passive", False),
        port=t.integer("port", 179, lo=1, hi=65535),
        hold_time=hold,
        keepalive_time=t.integer("keepalive_time", None, lo=0, hi=21845),
        connect_retry_time=t.integer("connect_retry_time", 5, lo=1, hi=65535),
        error_wait=error_wait,
        families=tuple(families) or ((1, 1),),
        next_hop_self=t.boolean("next_hop_self", False),
        route_reflector_client=t.boolean("route_reflector_client", False),
        import_table=t.boolean("import_table", False),
        add_path=AddPathMode(t.string("add_path", "off", choices=[m.value for m in AddPathMode]) or "off"),
        graceful_restart_time=t.integer("graceful_restart_time", None, lo=0, hi=4095),
        max_prefix=t.integer("max_prefix", None, lo=1),
        max_prefix_restart=t.number("max_prefix_restart", None),
        md5_password=t.string("md5_password", None),
        ttl_security=t.boolean("ttl_security", False),
        multihop=multihop,
        connected_subnet=t.convert("connected_subnet", parse_prefix, "prefix", None),
        import_policy=t.string("import", None),
        export_policy=t.string("export", None),
        bfd=bfd,
    )
    if cfg["ttl_security"] and multihop is not None:
        t.error("ttl_security", "cannot be combined with multihop (GTSM needs TTL 255 on arrival)")
    t.finish()
    if (
        remote_as is None
        or (address is None and not dynamic and not by_interface)
        or cfg["hold_time"] is None
    ):
        return None
    return NeighborConfig(
        name=name or (str(address) if address is not None else str(cfg["interface"] or "")),
        address=address,
        remote_as=remote_as,
        **cfg,
    )  # type: ignore[arg-type]


MATCH_KEYS = [
    "prefix",
    "prefix_list",
    "family",
    "source",
    "kernel_table",
    "neighbor",
    "learned_from",
    "as_path_contains",
    "as_path_regex",
    "as_path_length",
    "community",
    "large_community",
    "next_hop_in",
    "local_pref",
    "med",
]
SET_KEYS = [
    "local_pref",
    "med",
    "community_add",
    "community_remove",
    "large_community_add",
    "large_community_remove",
    "next_hop",
    "as_path_prepend",
]
RULE_KEYS = ["name", "match", "set", "action"]


def _read_policy(
    p_t: Table, name: str, prefix_lists: dict[str, tuple[str, ...]], neighbor_names: set[str]
) -> dict[str, Any] | None:
    """Check one `[policy.NAME]` key by key (for line numbers and hints), then let the RIB build it."""
    t = p_t.table(name)
    if t is None:
        return None
    default = t.string("default", "reject", choices=["accept", "reject"])
    spec: dict[str, Any] = {"default": default, "rules": []}
    for r in t.tables("rules"):
        rule: dict[str, Any] = {}
        for key in r.data:
            if key not in RULE_KEYS:
                r.error(key, "unknown key" + hint(key, RULE_KEYS))
        if "name" in r.data:
            rule["name"] = r.string("name")
        action = r.string("action", "accept", choices=["accept", "reject", "continue"])
        rule["action"] = action
        for section, known in (("match", MATCH_KEYS), ("set", SET_KEYS)):
            sub = r.data.get(section)
            if sub is None:
                continue
            if not isinstance(sub, dict):
                r.error(section, f"expected a table, got {type_name(sub)} {sub!r}")
                continue
            body = dict(sub)
            for key in sub:
                if key not in known:
                    r.error(
                        f"{section}.{key}" if False else section,
                        f"{section}.{key}: unknown key" + hint(key, known),
                    )
                    body.pop(key)
            if section == "match" and "prefix_list" in body:
                ref = body.pop("prefix_list")
                refs = ref if isinstance(ref, list) else [ref]
                entries: list[str] = list(
                    body.get("prefix", [])
                    if isinstance(body.get("prefix"), list)
                    else [body["prefix"]]
                    if "prefix" in body
                    else []
                )
                for item in refs:
                    if not isinstance(item, str) or item not in prefix_lists:
                        r.ctx.error(
                            (*r.path, "match", "prefix_list"),
                            f"prefix list {item!r} is not defined" + hint(str(item), sorted(prefix_lists)),
                        )
                    else:
                        entries.extend(prefix_lists[item])
                body["prefix"] = entries
            if section == "match" and "neighbor" in body:
                refs = body["neighbor"] if isinstance(body["neighbor"], list) else [body["neighbor"]]
                for item in refs:
                    if isinstance(item, str) and item not in neighbor_names and not _is_address(item):
                        r.ctx.error(
                            (*r.path, "match", "neighbor"),
                            f"neighbor {item!r} is not defined" + hint(item, sorted(neighbor_names)),
                        )
            rule[section] = body
        r.used.update(RULE_KEYS)
        try:
            Rule.from_dict(rule)
        except (PolicyError, ValueError, TypeError) as exc:
            r.error(None, f"invalid rule: {exc}")
        spec["rules"].append(rule)
    t.finish()
    return spec


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_config(text: str, source: str = "<config>") -> DaemonConfig:
    """Validate a whole document; raise `ConfigErrors` listing every problem."""
    lines = LineMap(text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        if line is None and (m := re.search(r"at line (\d+)", str(exc))) is not None:
            line = int(m.group(1))
        raise ConfigErrors(
            [ConfigError(file=source, line=line, key="", message=f"TOML syntax error: {exc}")]
        ) from None
    ctx = Ctx(source, lines)
    root = Table(ctx, (), doc)

    g_t = root.table("global")
    glob = _read_global(g_t) if g_t is not None else None
    if g_t is None:
        root.error("global", "required table [global] (asn, router_id) is missing")
    asn = glob.asn if glob else None

    neighbors: list[NeighborConfig] = []
    seen_names: dict[str, int] = {}
    seen_addresses: set[object] = set()
    neighbor_tables = root.tables("neighbor")
    for i, t in enumerate(neighbor_tables):
        n = _read_neighbor(t, asn, dynamic=False)
        if n is None:
            continue
        if n.name in seen_names:
            t.error(
                "name", f"duplicate neighbor name {n.name!r} (first used by neighbor[{seen_names[n.name]}])"
            )
        if n.address is not None and n.address in seen_addresses:
            t.error("address", f"duplicate neighbor address {n.address}")
        seen_names[n.name] = i
        seen_addresses.add(n.address)
        neighbors.append(n)

    dynamics: list[DynamicNeighborConfig] = []
    for t in root.tables("dynamic_neighbor"):
        prefix = t.convert("prefix", parse_prefix, "prefix")
        max_sessions = t.integer("max_sessions", 64, lo=1, hi=100_000)
        tmpl = _read_neighbor(t, asn, dynamic=True)
        if prefix is not None and tmpl is not None:
            dynamics.append(
                DynamicNeighborConfig(
                    name=tmpl.name or str(prefix), prefix=prefix, max_sessions=max_sessions, template=tmpl
                )
            )

    origination = OriginationConfig()
    o_t = root.table("origination")
    if o_t is not None:
        kernels: list[KernelImportConfig] = []
        for k in o_t.tables("kernel"):
            table_no = k.integer("table", lo=1, hi=0xFFFFFFFF)
            kernels.append(
                KernelImportConfig(
                    table=table_no or 0,
                    protocol=k.integer("protocol", None, lo=0, hi=255),
                    communities=k.converted_list("add_community", parse_community, "community"),
                )
            )
            k.finish()
        origination = OriginationConfig(
            interfaces=o_t.strings("interfaces"),
            static=o_t.converted_list("static", parse_prefix, "prefix"),
            kernel=tuple(kernels),
            resync_interval=o_t.number("resync_interval", 30.0, lo=0.1),
            communities=o_t.converted_list("add_community", parse_community, "community"),
        )
        o_t.finish()

    kernel = KernelExportConfig()
    k_t = root.table("kernel")
    if k_t is not None:
        kernel = KernelExportConfig(
            enabled=k_t.boolean("enabled", True),
            table=k_t.integer("table", 254, lo=1, hi=0xFFFFFFFF),
            protocol=k_t.integer("protocol", kernel.protocol, lo=0, hi=255),
            metric=k_t.integer("metric", 32, lo=0, hi=0xFFFFFFFF),
            keep_on_exit=k_t.boolean("keep_on_exit", False),
            merge_paths=k_t.integer("merge_paths", 16, lo=1, hi=256),
            nexthop_compat_mode=k_t.boolean("nexthop_compat_mode", None),
            install_local=k_t.boolean("install_local", False),
            exclude_communities=k_t.converted_list("exclude_community", parse_community, "community"),
            policy=k_t.string("export", "accept"),
            update_delay=k_t.number("update_delay", 0.0, lo=0.0),
            writer_thread=k_t.boolean("writer_thread", True),
        )
        k_t.finish()
        if not math.isfinite(kernel.update_delay):  # TOML has inf and nan; a hold must end
            k_t.error("update_delay", f"expected a finite number of seconds, got {kernel.update_delay}")
        if kernel.enabled and any(
            kernel.protocol == ki.protocol and kernel.table == ki.table for ki in origination.kernel
        ):
            k_t.error(
                "protocol",
                "kernel export uses the same table and protocol as an [[origination.kernel]] "
                "import: pybgpd would learn its own routes",
            )

    prefix_lists: dict[str, tuple[str, ...]] = {}
    pl_t = root.table("prefix_list")
    if pl_t is not None:
        for name in list(pl_t.data):
            pl_t.converted_list(name, parse_prefix_list_entry, "prefix list entry")
            prefix_lists[name] = (
                tuple(x for x in pl_t.data[name] if isinstance(x, str))
                if isinstance(pl_t.data[name], list)
                else ()
            )

    policies: dict[str, dict[str, Any]] = {}
    p_t = root.table("policy")
    if p_t is not None:
        for name in list(p_t.data):
            if name in BUILTIN_POLICIES:
                p_t.used.add(name)
                p_t.error(name, f"{name!r} is a built-in policy name; choose another")
                continue
            pol = _read_policy(p_t, name, prefix_lists, set(seen_names))
            if pol is not None:
                policies[name] = pol

    logging_cfg = LoggingConfig()
    l_t = root.table("logging")
    if l_t is not None:
        level = l_t.string("level", "info", choices=["debug", "info", "warning", "error"])
        fmt = l_t.string("format", "text", choices=["text", "json"])
        file = l_t.string("file", None)
        logging_cfg = LoggingConfig(level=level, format=fmt, file=Path(file) if file else None)
        l_t.finish()

    control = ControlConfig()
    c_t = root.table("control")
    if c_t is not None:
        sock = c_t.string("socket", str(control.socket))
        mode_raw = c_t.string("mode", "0660")
        mode = 0o660
        try:
            mode = int(mode_raw, 8)
        except (TypeError, ValueError):
            c_t.error("mode", f'expected an octal permission string like "0660", got {mode_raw!r}')
        control = ControlConfig(socket=Path(sock), mode=mode)
        c_t.finish()

    metrics = MetricsConfig()
    m_t = root.table("metrics")
    if m_t is not None:
        metrics = MetricsConfig(address=m_t.convert("address", parse_hostport, "HOST:PORT address", None))
        m_t.finish()

    root.finish()

    # Cross references, reported at the referring key.
    all_policies = set(policies) | set(BUILTIN_POLICIES)
    for idx, t in enumerate(neighbor_tables):
        for key in ("import", "export"):
            ref = t.data.get(key)
            if isinstance(ref, str) and ref not in all_policies:
                ctx.error(
                    ("neighbor", idx, key),
                    f"policy {ref!r} is not defined" + hint(ref, sorted(all_policies)),
                )
        del idx
    if k_t is not None:
        ref = k_t.data.get("export")
        if isinstance(ref, str) and ref not in all_policies:
            k_t.error("export", f"policy {ref!r} is not defined" + hint(ref, sorted(all_policies)))
    if ctx.errors or glob is None:
        if not ctx.errors:
            ctx.error(("global",), "invalid [global] table")
        raise ConfigErrors(sorted(ctx.errors, key=lambda e: e.line or 0))
    return DaemonConfig(
        source=Path(source),
        global_=glob,
        neighbors=tuple(neighbors),
        dynamic_neighbors=tuple(dynamics),
        origination=origination,
        kernel=kernel,
        prefix_lists=prefix_lists,
        policies=policies,
        logging=logging_cfg,
        control=control,
        metrics=metrics,
    )


def load_config(path: str | Path) -> DaemonConfig:
    """Read and validate a config file; `ConfigErrors` on any problem (including an unreadable file)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigErrors(
            [ConfigError(file=str(p), line=None, key="", message=f"cannot read: {exc}")]
        ) from None
    return parse_config(text, str(p))
