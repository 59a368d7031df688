"""Reload by difference: compare the running config with a new, validated one; touch only what changed.

Owns: the classification of every neighbor (added, removed, re-created because a session parameter
changed, policy-only change, enable/disable, untouched), applying it through the Speaker's live
operations (a new import policy is re-run over the kept Adj-RIB-In; without one, `import_table = false`,
the peer is sent ROUTE-REFRESH, or the session is reset when it has no route refresh, as BIRD does; a new
export policy re-advertises the difference), BFD session updates, origination and kernel export changes (the
kernel is reconciled with the Loc-RIB under the new filter), and the list of settings that need a
restart (ASN, router ID, listen addresses, kernel table/protocol, metrics address), which are kept as
they were and reported.
Never does: validate (config.py) or parse; a config with errors never reaches this module.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pybgp.daemon.logsetup import event
from pybgp.daemon.schema import DaemonConfig, NeighborConfig
from pybgp.daemon.translate import compile_policy

if TYPE_CHECKING:
    from pybgp.daemon.daemon import Daemon

log = logging.getLogger("pybgp.daemon.reload")


def _policies_used(n: NeighborConfig) -> set[str]:
    return {p for p in (n.import_policy, n.export_policy) if p is not None}


def plan(old: DaemonConfig, new: DaemonConfig) -> dict[str, list[str]]:
    """What a reload from `old` to `new` does, by neighbor name (pure: no side effects)."""
    old_n = {n.name: n for n in old.neighbors}
    new_n = {n.name: n for n in new.neighbors}
    changed_policies = {
        name
        for name in set(old.policies) | set(new.policies)
        if old.policies.get(name) != new.policies.get(name)
    }
    out: dict[str, list[str]] = {
        "added": [],
        "removed": [],
        "recreated": [],
        "import_policy": [],
        "export_policy": [],
        "enabled": [],
        "disabled": [],
        "bfd": [],
        "unchanged": [],
    }
    for name in sorted(set(old_n) - set(new_n)):
        out["removed"].append(name)
    for name, n in sorted(new_n.items()):
        o = old_n.get(name)
        if o is None:
            out["added"].append(name)
            continue
        if o.session_identity() != n.session_identity():
            out["recreated"].append(name)
            continue
        touched = False
        if o.import_policy != n.import_policy or (n.import_policy in changed_policies):
            out["import_policy"].append(name)
            touched = True
        if o.export_policy != n.export_policy or (n.export_policy in changed_policies):
            out["export_policy"].append(name)
            touched = True
        if o.enabled != n.enabled:
            out["enabled" if n.enabled else "disabled"].append(name)
            touched = True
        if o.bfd != n.bfd:
            out["bfd"].append(name)
            touched = True
        if not touched:
            out["unchanged"].append(name)
    return out


def restart_needed(old: DaemonConfig, new: DaemonConfig) -> list[str]:
    keys = []
    if old.global_ != new.global_:
        keys.append("global")
    if (
        old.kernel.table,
        old.kernel.protocol,
        old.kernel.metric,
        old.kernel.enabled,
        old.kernel.merge_paths,
        old.kernel.nexthop_compat_mode,
    ) != (
        new.kernel.table,
        new.kernel.protocol,
        new.kernel.metric,
        new.kernel.enabled,
        new.kernel.merge_paths,
        new.kernel.nexthop_compat_mode,
    ):
        keys.append("kernel.table/protocol/metric/enabled/merge_paths/nexthop_compat_mode")
    if old.metrics != new.metrics:
        keys.append("metrics")
    if old.dynamic_neighbors != new.dynamic_neighbors:
        keys.append("dynamic_neighbor")
    return keys


async def apply_reload(d: Daemon, new: DaemonConfig) -> dict[str, Any]:
    old = d.cfg
    steps = plan(old, new)
    pending_restart = restart_needed(old, new)
    # Settings that need a restart keep their running values; everything else is applied.
    effective = replace(
        new,
        global_=old.global_,
        metrics=old.metrics,
        dynamic_neighbors=old.dynamic_neighbors,
        kernel=replace(
            new.kernel,
            table=old.kernel.table,
            protocol=old.kernel.protocol,
            metric=old.kernel.metric,
            enabled=old.kernel.enabled,
            merge_paths=old.kernel.merge_paths,
            nexthop_compat_mode=old.kernel.nexthop_compat_mode,
        ),
    )
    d.set_config(effective)
    sp = d.speaker
    for name in steps["removed"] + steps["recreated"]:
        await sp.remove_neighbor(name)
        d.metrics.forget_neighbor(name)
    new_by_name = {n.name: n for n in effective.neighbors}
    for name in steps["added"] + steps["recreated"]:
        d._add_neighbor(effective, new_by_name[name])
    for name in steps["import_policy"]:
        action = sp.set_import_policy(name, compile_policy(effective, new_by_name[name].import_policy))
        if action in ("refresh", "reset"):  # no import table to re-run it over (`import_table = false`)
            event(log, f"import-policy-{action}",
                  f"import policy of {name} changed: "
                  + ("ROUTE-REFRESH sent" if action == "refresh" else
                     "session reset (Cease/Administrative Reset): no import table, no route refresh"),
                  level=logging.INFO if action == "refresh" else logging.WARNING, neighbor=name)
    for name in steps["export_policy"]:
        sp.set_export_policy(name, compile_policy(effective, new_by_name[name].export_policy))
    for name in steps["disabled"]:
        await sp.disable_neighbor(name, "disabled by configuration")
    for name in steps["enabled"]:
        n = new_by_name[name]
        if not (n.bfd.enabled and n.bfd.strict) or d.bfd.is_up(name):
            sp.enable_neighbor(name)
    d.bfd.sync(list(effective.neighbors))
    if effective.origination != old.origination:
        d.origination.reconfigure(effective.origination)
        steps["origination"] = ["changed"]
    kernel_changed = effective.kernel != old.kernel or effective.policies.get(
        effective.kernel.policy
    ) != old.policies.get(old.kernel.policy)
    d.exporter.reconfigure(effective)
    if kernel_changed:
        d.reconcile_kernel()
        steps["kernel"] = ["re-evaluated"]
    steps["restart_required"] = pending_restart
    for key in pending_restart:
        event(
            log,
            "reload-restart-needed",
            f"{key} changed: takes effect at the next restart",
            level=logging.WARNING,
            key=key,
        )
    return steps
