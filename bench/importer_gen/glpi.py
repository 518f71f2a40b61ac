"""GLPI agent inventories for bench/importers.py: ``n`` resources, one device per file.

Shapes as the GLPI agent writes them (``{"deviceid", "itemtype", "content"}``). Per 50
resources: one computer (hardware, BIOS, OS, two NICs) listing 45 installed packages
drawn from a pool of 2,000 (so packages repeat across computers, as they do), 2 virtual
machines and a database instance, and one switch in every 20 computers with 48 ports, each
port's MAC table naming one computer. Each computer, package entry, VM, database instance
and switch counts as a resource.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

FORMAT = "glpi"
PER_COMPUTER = 45
POOL = 2_000
STAMP = "2024-01-02-03-04-05"


def _mac(i: int, prefix: str = "18:66:da") -> str:
    return f"{prefix}:{(i >> 16) & 0xFF:02x}:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}"


def _computer(i: int) -> dict[str, Any]:
    name = f"pc{i:06d}"
    softwares = [
        {
            "name": f"package-{(i * 7 + k * 13) % POOL}",
            "version": f"1.{k % 9}.{(i + k) % 4}-1",
            "arch": "x86_64",
            "from": "rpm",
            "publisher": "Fedora Project",
            "install_date": "2023-12-01",
            "filesize": 1000 + k,
        }
        for k in range(PER_COMPUTER)
    ]
    return {
        "deviceid": f"{name}-{STAMP}",
        "itemtype": "Computer",
        "action": "inventory",
        "content": {
            "versionclient": "GLPI-Agent_v1.7",
            "hardware": {
                "name": name,
                "uuid": f"4c4c4544-0000-1000-8000-{i:012x}",
                "memory": 16000,
                "vmsystem": "Physical",
            },
            "bios": {"ssn": f"SN{i:08d}", "smanufacturer": "Dell Inc.", "smodel": "R640"},
            "operatingsystem": {
                "name": "Fedora",
                "version": "39",
                "fqdn": f"{name}.example.org",
                "dns_domain": "example.org",
                "arch": "x86_64",
            },
            "networks": [
                {
                    "description": "lo",
                    "type": "loopback",
                    "mac": "00:00:00:00:00:00",
                    "ipaddress": "127.0.0.1",
                    "virtualdev": True,
                },
                {
                    "description": "eth0",
                    "type": "ethernet",
                    "mac": _mac(i),
                    "ipaddress": f"10.{(i >> 16) & 0xFF}.{(i >> 8) & 0xFF}.{i & 0xFF}",
                    "virtualdev": False,
                },
            ],
            "softwares": softwares,
            "virtualmachines": [
                {
                    "name": f"{name}-vm{v}",
                    "uuid": f"c37f7ce8-af95-4676-{v:04x}-{i:012x}",
                    "vmtype": "libvirt",
                    "subsystem": "kvm",
                    "status": "running",
                    "vcpu": 2,
                    "memory": 2048,
                }
                for v in range(2)
            ],
            "databases_services": [
                {"name": "PostgreSQL", "version": "15.5", "port": 5432, "databases": []}
            ],
        },
    }


def _switch(s: int, computers: range) -> dict[str, Any]:
    ports = [
        {
            "ifnumber": p + 1,
            "ifname": f"Gi1/0/{p + 1}",
            "mac": _mac(s * 64 + p, "00:23:ac"),
            "ifstatus": 1,
            "connections": [{"mac": _mac(c)}],
        }
        for p, c in enumerate(computers[:48])
    ]
    return {
        "deviceid": f"agent-{STAMP}",
        "itemtype": "NetworkEquipment",
        "action": "netinventory",
        "content": {
            "versionclient": "4.1",
            "network_device": {
                "type": "Networking",
                "name": f"sw{s:04d}.example.org",
                "serial": f"FOC{s:08d}",
                "mac": _mac(s * 64 + 63, "00:23:ac"),
                "manufacturer": "Cisco",
                "model": "Catalyst 9300",
            },
            "network_ports": ports,
        },
    }


def generate(n: int, directory: Path) -> list[Path]:
    per = 1 + PER_COMPUTER + 2 + 1
    computers = max(1, n // per)
    switches = max(1, computers // 20)
    computers = max(1, (n - switches) // per)
    paths: list[Path] = []
    for i in range(computers):
        path = directory / f"computer_{i:06d}.json"
        path.write_bytes(orjson.dumps(_computer(i)))
        paths.append(path)
    for s in range(switches):
        path = directory / f"switch_{s:04d}.json"
        path.write_bytes(orjson.dumps(_switch(s, range(s * 20, s * 20 + 20))))
        paths.append(path)
    return paths
