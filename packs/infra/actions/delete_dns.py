"""infra.delete_dns: delete the A record ``<name>.<zone>``; a record that is already gone counts as done.

Route 53 deletes a record only when the request repeats it exactly (TTL and values), so the action reads the
record first and deletes what is there.
"""

from __future__ import annotations

from typing import Any

from infra_aws import InfraAction, aws_errors, client_error
from infra_logic import find_record, record_name
from infra_zones import hosted_zone


class DeleteDns(InfraAction):
    def perform(self, name: str, zone: str, hosted_zone_id: str = "") -> dict[str, Any]:
        from botocore.exceptions import ClientError

        fqdn = record_name(name, zone)
        route53 = self.client("route53")
        zone_id = hosted_zone(route53, zone, hosted_zone_id, self.config)
        gone = {"record_name": fqdn, "hosted_zone_id": zone_id, "deleted": False, "already_gone": True}
        with aws_errors("ListResourceRecordSets", f"{fqdn} in zone {zone_id}", self.config):
            listed = route53.list_resource_record_sets(
                HostedZoneId=zone_id, StartRecordName=fqdn, StartRecordType="A", MaxItems="1"
            )["ResourceRecordSets"]
        record = find_record(listed, fqdn, "A")
        if record is None:
            return gone
        batch = {
            "Comment": f"st2lite infra.delete_dns {name}",
            "Changes": [{"Action": "DELETE", "ResourceRecordSet": record}],
        }
        with aws_errors("ChangeResourceRecordSets", f"DELETE {fqdn} A in zone {zone_id}", self.config):
            try:
                change = route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch)["ChangeInfo"]
            except ClientError as exc:
                error = exc.response.get("Error", {})
                if error.get("Code") == "InvalidChangeBatch" and "not found" in str(error.get("Message", "")):
                    return gone  # deleted by someone else between the read and the delete
                raise client_error(exc, "ChangeResourceRecordSets", f"DELETE {fqdn} A in zone {zone_id}") from exc
        values = [r.get("Value", "") for r in record.get("ResourceRecords", [])]
        return {
            "record_name": fqdn,
            "hosted_zone_id": zone_id,
            "deleted": True,
            "already_gone": False,
            "values": values,
            "change_id": str(change["Id"]).rsplit("/", 1)[-1],
        }
