"""infra.upsert_dns: create or replace the A record ``<name>.<zone>`` in a Route 53 hosted zone."""

from __future__ import annotations

from typing import Any

from infra_aws import InfraAction, aws_errors, waiter_config
from infra_logic import StepFailed, record_name
from infra_zones import hosted_zone


class UpsertDns(InfraAction):
    def perform(
        self,
        name: str,
        zone: str,
        address: str,
        hosted_zone_id: str = "",
        ttl: int = 0,
        wait: bool = False,
    ) -> dict[str, Any]:
        fqdn = record_name(name, zone)
        if not address:
            raise StepFailed(f"no address for {fqdn}: the instance has no IP address of the kind asked for")
        seconds = int(ttl or self.config.get("dns_ttl") or 60)
        route53 = self.client("route53")
        zone_id = hosted_zone(route53, zone, hosted_zone_id, self.config)
        record = {"Name": fqdn, "Type": "A", "TTL": seconds, "ResourceRecords": [{"Value": address}]}
        batch = {
            "Comment": f"st2lite infra.upsert_dns {name}",
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}],
        }
        with aws_errors("ChangeResourceRecordSets", f"UPSERT {fqdn} A {address} in zone {zone_id}", self.config):
            change = route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch)["ChangeInfo"]
        status = str(change.get("Status", ""))
        if wait and status != "INSYNC":
            from botocore.exceptions import WaiterError

            settings = waiter_config(self.config)
            with aws_errors("GetChange", str(change["Id"]), self.config):
                try:
                    route53.get_waiter("resource_record_sets_changed").wait(Id=change["Id"], WaiterConfig=settings)
                except WaiterError as exc:
                    raise StepFailed(
                        f"the change {change['Id']} of {fqdn} is not INSYNC after {settings['MaxAttempts']} checks "
                        f"{settings['Delay']} s apart: {exc}; the record is written and will propagate, run without "
                        "wait or raise waiter_max_attempts",
                        "WaiterError",
                    ) from exc
            status = "INSYNC"
        return {
            "change_id": str(change["Id"]).rsplit("/", 1)[-1],
            "status": status,
            "hosted_zone_id": zone_id,
            "record_name": fqdn,
            "record": {"name": fqdn, "type": "A", "ttl": seconds, "value": address},
        }
