"""NetBox REST list pages for bench/importers.py: ``n`` objects of one NetBox 4 instance.

One page file per endpoint, objects shaped as NetBox 4's API returns them (``url``,
``display``, nested references, ``a_terminations``/``b_terminations``, ``assigned_object``):
per 1,000 objects about 1 region, 2 sites, 20 racks, 2 tenants, 2 clusters, 30 VMs, then
devices, IP addresses and cables in the ratio 5:3:2 (a server in three has an address on
its first interface, a cable joins a server to its rack's switch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

FORMAT = "netbox"
API = "https://netbox.example.com/api"
ROLES = [
    {"id": 1, "name": "Server", "slug": "server"},
    {"id": 2, "name": "Top of rack", "slug": "tor-switch"},
    {"id": 3, "name": "Firewall", "slug": "firewall"},
]


def _nested(app: str, endpoint: str, ident: int, name: str) -> dict[str, Any]:
    return {
        "id": ident,
        "url": f"{API}/{app}/{endpoint}/{ident}/",
        "display": name,
        "name": name,
        "slug": name.lower(),
    }


def _page(directory: Path, name: str, results: list[dict[str, Any]]) -> Path:
    path = directory / f"{name}.json"
    doc = {"count": len(results), "next": None, "previous": None, "results": results}
    path.write_bytes(orjson.dumps(doc))
    return path


def generate(n: int, directory: Path) -> list[Path]:
    regions, sites = max(1, n // 1000), max(1, n // 500)
    racks, tenants = max(1, n // 50), max(1, n // 500)
    clusters, vms = max(1, n // 500), max(1, 3 * n // 100)
    rest = max(3, n - regions - sites - racks - tenants - clusters - vms)
    devices, ips = rest * 5 // 10, rest * 3 // 10
    cables = rest - devices - ips
    region = [_nested("dcim", "regions", i, f"region-{i}") for i in range(1, regions + 1)]
    site = [_nested("dcim", "sites", i, f"site-{i}") for i in range(1, sites + 1)]
    rack = [_nested("dcim", "racks", i, f"rack-{i}") for i in range(1, racks + 1)]
    tenant = [_nested("tenancy", "tenants", i, f"tenant-{i}") for i in range(1, tenants + 1)]
    cluster = [
        _nested("virtualization", "clusters", i, f"cluster-{i}") for i in range(1, clusters + 1)
    ]
    paths = [
        _page(
            directory,
            "dcim_regions",
            [{**r, "parent": None, "description": ""} for r in region],
        ),
        _page(
            directory,
            "dcim_sites",
            [
                {**s, "region": region[i % regions], "status": {"value": "active"}}
                for i, s in enumerate(site)
            ],
        ),
        _page(
            directory,
            "dcim_racks",
            [
                {**r, "site": site[i % sites], "location": None, "u_height": 42}
                for i, r in enumerate(rack)
            ],
        ),
        _page(directory, "tenancy_tenants", [{**t, "group": None} for t in tenant]),
        _page(
            directory,
            "virtualization_clusters",
            [
                {**c, "type": {"id": 1, "name": "VMware", "slug": "vmware"}, "group": None}
                for c in cluster
            ],
        ),
    ]
    paths.append(
        _page(
            directory,
            "dcim_devices",
            [_device(i, rack, site, tenant) for i in range(1, devices + 1)],
        )
    )
    paths.append(
        _page(directory, "ipam_ip_addresses", [_ip(i, devices) for i in range(1, ips + 1)])
    )
    paths.append(
        _page(directory, "dcim_cables", [_cable(i, devices, racks) for i in range(1, cables + 1)])
    )
    paths.append(
        _page(
            directory,
            "virtualization_virtual_machines",
            [
                {
                    **_nested("virtualization", "virtual-machines", i, f"vm-{i}"),
                    "cluster": cluster[i % clusters],
                    "status": {"value": "active", "label": "Active"},
                    "vcpus": 4.0,
                    "memory": 8192,
                    "disk": 100,
                }
                for i in range(1, vms + 1)
            ],
        )
    )
    return paths


def _device(
    i: int, rack: list[dict[str, Any]], site: list[dict[str, Any]], tenant: list[dict[str, Any]]
) -> dict[str, Any]:
    r = rack[i % len(rack)]
    # the first device of each rack is its switch, one in fifty a firewall, the rest servers
    role = ROLES[1] if i <= len(rack) else ROLES[2] if i % 50 == 0 else ROLES[0]
    return {
        **_nested("dcim", "devices", i, f"dev-{i:06d}"),
        "device_type": {
            "id": role["id"],
            "manufacturer": {"id": 1, "name": "Dell", "slug": "dell"},
            "model": "PowerEdge R650",
        },
        "role": role,
        "tenant": tenant[i % len(tenant)],
        "serial": f"SN{i:09d}",
        "asset_tag": f"AT{i:07d}" if i % 2 else None,
        "site": site[(i % len(rack)) % len(site)],
        "rack": r,
        "position": i % 42 + 1,
        "status": {"value": "active", "label": "Active"},
    }


def _ip(i: int, devices: int) -> dict[str, Any]:
    dev = i % devices + 1
    return {
        "id": i,
        "url": f"{API}/ipam/ip-addresses/{i}/",
        "address": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/24",
        "assigned_object_type": "dcim.interface",
        "assigned_object": {
            "id": i,
            "device": {"id": dev, "name": f"dev-{dev:06d}"},
            "name": "eth0",
        },
        "status": {"value": "active", "label": "Active"},
    }


def _cable(i: int, devices: int, racks: int) -> dict[str, Any]:
    server = i % devices + 1
    switch = server % racks + 1 if racks < devices else 1

    def end(dev: int, port: str) -> list[dict[str, Any]]:
        obj = {"id": dev * 100, "device": {"id": dev, "name": f"dev-{dev:06d}"}, "name": port}
        return [{"object_type": "dcim.interface", "object_id": dev * 100, "object": obj}]

    return {
        "id": i,
        "url": f"{API}/dcim/cables/{i}/",
        "a_terminations": end(server, f"eth{i % 4}"),
        "b_terminations": end(switch, f"Ethernet1/{i % 48 + 1}"),
        "status": {"value": "connected", "label": "Connected"},
    }
