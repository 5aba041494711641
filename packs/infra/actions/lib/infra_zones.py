"""Which Route 53 hosted zone a zone name means (one ListHostedZonesByName call)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra_aws import aws_errors
from infra_logic import pick_hosted_zone, zone_id


def hosted_zone(route53: Any, zone: str, hosted_zone_id: str, config: Mapping[str, Any]) -> str:
    """``hosted_zone_id`` when given, else the id of the one hosted zone named ``zone``."""
    if hosted_zone_id.strip():
        return zone_id(hosted_zone_id)
    name = zone.strip().strip(".") + "."
    with aws_errors("ListHostedZonesByName", name, config):
        zones = route53.list_hosted_zones_by_name(DNSName=name, MaxItems="10")["HostedZones"]
    private = config.get("private_zone")
    return pick_hosted_zone(zones, zone, private=private if isinstance(private, bool) else None)
