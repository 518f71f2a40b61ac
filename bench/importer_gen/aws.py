"""AWS describe replies for bench/importers.py: ``n`` resources in one account and region.

Shapes as the AWS CLI prints them (``describe-instances`` and friends), the instances as a
recorded ``{"status_code", "data"}`` reply like Cloud Custodian's: per 1,000 resources about
2 VPCs, 10 subnets, 10 security groups, 5 ALBs each with a listener and a target group,
10 DB instances, the rest instances (in reservations of 4), and a target health reply per
target group (named after its id) with 20 targets, one in ten unhealthy. Health entries
are memberships, not resources: they are not counted in ``n``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

FORMAT = "aws"
ACCOUNT = "111122223333"
REGION = "eu-west-1"
ELB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"


def _hex(i: int, width: int = 17) -> str:
    return f"{i:0{width}x}"


def _write(directory: Path, name: str, doc: dict[str, Any]) -> Path:
    path = directory / name
    path.write_bytes(orjson.dumps(doc))
    return path


def generate(n: int, directory: Path) -> list[Path]:
    vpcs = max(1, n // 500)
    subnets = max(1, n // 100)
    groups = max(1, n // 100)
    lbs = max(1, n // 200)
    dbs = max(1, n // 100)
    instances = max(1, n - vpcs - subnets - groups - 3 * lbs - dbs)
    vpc = [f"vpc-{_hex(i)}" for i in range(vpcs)]
    subnet = [f"subnet-{_hex(i)}" for i in range(subnets)]
    sg = [f"sg-{_hex(i)}" for i in range(groups)]
    paths = [
        _write(directory, "vpcs.json", {"Vpcs": [_vpc(v, i) for i, v in enumerate(vpc)]}),
        _write(
            directory,
            "subnets.json",
            {"Subnets": [_subnet(s, vpc[i % vpcs], i) for i, s in enumerate(subnet)]},
        ),
        _write(
            directory,
            "security-groups.json",
            {"SecurityGroups": [_group(g, vpc[i % vpcs]) for i, g in enumerate(sg)]},
        ),
    ]
    inst_ids = [f"i-{_hex(i)}" for i in range(instances)]
    reservations = [
        {
            "OwnerId": ACCOUNT,
            "ReservationId": f"r-{_hex(r)}",
            "Instances": [
                _instance(iid, j, subnet[j % subnets], vpc[(j % subnets) % vpcs], sg[j % groups])
                for j, iid in enumerate(inst_ids[r * 4 : r * 4 + 4], start=r * 4)
            ],
        }
        for r in range(-(-instances // 4))
    ]
    paths.append(
        _write(
            directory,
            "ec2.DescribeInstances_1.json",
            {"status_code": 200, "data": {"Reservations": reservations}},
        )
    )
    balancers, listeners, target_groups = [], [], []
    for b in range(lbs):
        lb_arn = f"{ELB}:loadbalancer/app/lb-{b}/{_hex(b, 16)}"
        tg_id = _hex(b + 1, 16)
        tg_arn = f"{ELB}:targetgroup/tg-{b}/{tg_id}"
        balancers.append(_balancer(lb_arn, b, vpc[b % vpcs], subnet, sg[b % groups]))
        listeners.append(_listener(lb_arn, tg_arn, b))
        target_groups.append(_target_group(tg_arn, lb_arn, b, vpc[b % vpcs]))
        targets = [inst_ids[(b * 20 + t) % instances] for t in range(20)]
        paths.append(
            _write(
                directory,
                f"tg-{tg_id}-health.json",
                {
                    "TargetHealthDescriptions": [
                        {
                            "Target": {"Id": t, "Port": 80},
                            "HealthCheckPort": "80",
                            "TargetHealth": {"State": "unhealthy" if k % 10 == 9 else "healthy"},
                        }
                        for k, t in enumerate(targets)
                    ]
                },
            )
        )
    paths.append(_write(directory, "load-balancers.json", {"LoadBalancers": balancers}))
    paths.append(_write(directory, "listeners.json", {"Listeners": listeners}))
    paths.append(_write(directory, "target-groups.json", {"TargetGroups": target_groups}))
    db_list = [_db(d, vpc[d % vpcs], subnet, sg[d % groups]) for d in range(dbs)]
    paths.append(_write(directory, "db-instances.json", {"DBInstances": db_list}))
    return paths


def _tags(name: str) -> list[dict[str, str]]:
    return [{"Key": "Name", "Value": name}, {"Key": "env", "Value": "prod"}]


def _vpc(vid: str, i: int) -> dict[str, Any]:
    return {
        "VpcId": vid,
        "OwnerId": ACCOUNT,
        "CidrBlock": f"10.{i % 256}.0.0/16",
        "State": "available",
        "IsDefault": i == 0,
        "InstanceTenancy": "default",
        "Tags": _tags(f"vpc-{i}"),
    }


def _subnet(sid: str, vid: str, i: int) -> dict[str, Any]:
    return {
        "SubnetId": sid,
        "SubnetArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{sid}",
        "VpcId": vid,
        "CidrBlock": f"10.{i % 256}.{i // 256 % 256}.0/24",
        "AvailabilityZone": f"{REGION}{'abc'[i % 3]}",
        "AvailableIpAddressCount": 250,
        "DefaultForAz": False,
        "State": "available",
        "Tags": _tags(f"subnet-{i}"),
    }


def _group(gid: str, vid: str) -> dict[str, Any]:
    return {
        "GroupId": gid,
        "GroupName": f"group-{gid}",
        "Description": "web tier",
        "VpcId": vid,
        "OwnerId": ACCOUNT,
        "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
             "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "UserIdGroupPairs": []},
        ],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    }  # fmt: skip


def _instance(iid: str, j: int, sid: str, vid: str, gid: str) -> dict[str, Any]:
    ip = f"10.{j // 65536 % 256}.{j // 256 % 256}.{j % 256}"
    return {
        "InstanceId": iid,
        "InstanceType": "m5.large",
        "ImageId": "ami-0123456789abcdef0",
        "State": {"Code": 16, "Name": "running"},
        "Placement": {"AvailabilityZone": f"{REGION}a", "Tenancy": "default"},
        "PrivateIpAddress": ip,
        "PrivateDnsName": f"ip-{ip.replace('.', '-')}.{REGION}.compute.internal",
        "PublicDnsName": "",
        "LaunchTime": {"__class__": "datetime", "year": 2024, "month": 3, "day": 1,
                       "hour": 9, "minute": 30, "second": 0, "microsecond": 0},
        "SubnetId": sid,
        "VpcId": vid,
        "Architecture": "x86_64",
        "SecurityGroups": [{"GroupName": f"group-{gid}", "GroupId": gid}],
        "Tags": _tags(f"web-{j}"),
    }  # fmt: skip


def _balancer(arn: str, b: int, vid: str, subnets: list[str], gid: str) -> dict[str, Any]:
    zones = [{"ZoneName": f"{REGION}{z}", "SubnetId": subnets[(b + k) % len(subnets)]}
             for k, z in enumerate("ab")]  # fmt: skip
    return {
        "LoadBalancerArn": arn,
        "DNSName": f"lb-{b}-{b * 7919}.{REGION}.elb.amazonaws.com",
        "LoadBalancerName": f"lb-{b}",
        "Scheme": "internet-facing",
        "VpcId": vid,
        "State": {"Code": "active"},
        "Type": "application",
        "AvailabilityZones": zones,
        "SecurityGroups": [gid],
        "CreatedTime": "2024-01-05T10:00:00+00:00",
    }


def _listener(lb_arn: str, tg_arn: str, b: int) -> dict[str, Any]:
    return {
        "ListenerArn": lb_arn.replace(":loadbalancer/", ":listener/") + f"/{_hex(b, 16)}",
        "LoadBalancerArn": lb_arn,
        "Port": 443,
        "Protocol": "HTTPS",
        "DefaultActions": [
            {"Type": "forward", "TargetGroupArn": tg_arn,
             "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tg_arn, "Weight": 1}]}},
        ],
    }  # fmt: skip


def _target_group(arn: str, lb_arn: str, b: int, vid: str) -> dict[str, Any]:
    return {
        "TargetGroupArn": arn,
        "TargetGroupName": f"tg-{b}",
        "Protocol": "HTTP",
        "Port": 80,
        "VpcId": vid,
        "TargetType": "instance",
        "HealthCheckPath": "/health",
        "LoadBalancerArns": [lb_arn],
    }


def _db(d: int, vid: str, subnets: list[str], gid: str) -> dict[str, Any]:
    name = f"db-{d}"
    return {
        "DBInstanceIdentifier": name,
        "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{name}",
        "DBInstanceClass": "db.m5.large",
        "Engine": "postgres",
        "EngineVersion": "15.4",
        "DBInstanceStatus": "available",
        "Endpoint": {"Address": f"{name}.abcdefgh.{REGION}.rds.amazonaws.com", "Port": 5432},
        "MultiAZ": True,
        "AvailabilityZone": f"{REGION}a",
        "AllocatedStorage": 100,
        "DBSubnetGroup": {
            "VpcId": vid,
            "Subnets": [{"SubnetIdentifier": subnets[(d + k) % len(subnets)]} for k in range(2)],
        },
        "VpcSecurityGroups": [{"VpcSecurityGroupId": gid, "Status": "active"}],
        "DbiResourceId": f"db-{_hex(d, 26).upper()}",
    }
