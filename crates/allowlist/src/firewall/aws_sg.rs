//! AWS `describe-security-groups` JSON: each permission of the direction's
//! list (`IpPermissionsEgress` / `IpPermissions`) with its address ranges.

use super::rules::{Matches, Out, ValueError, port_range, protocol_name};
use crate::json::{Node, snippet};
use crate::model::{Direction, PortRange};
use crate::text::parse_cidr;

pub(super) fn read_aws_sg(
    out: &mut Out<'_>,
    root: &Node,
    direction: Direction,
) -> Result<(), String> {
    let groups = root
        .get("SecurityGroups")
        .unwrap_or(root)
        .as_array()
        .ok_or("no `SecurityGroups` array")?;
    let key = match direction {
        Direction::Egress => "IpPermissionsEgress",
        Direction::Ingress => "IpPermissions",
    };
    for group in groups {
        let Some(perms) = group.get(key) else {
            continue;
        };
        let Some(perms) = perms.as_array() else {
            out.error(
                perms.line,
                &snippet(perms),
                format!("`{key}` is not an array"),
            );
            continue;
        };
        for perm in perms {
            let protocol = perm
                .get("IpProtocol")
                .and_then(Node::scalar_text)
                .unwrap_or("-1");
            let protocol = protocol_name(protocol);
            let ports = match protocol.as_deref() {
                Some("tcp" | "udp" | "sctp") => match sg_ports(perm) {
                    Ok(p) => p,
                    Err(e) => {
                        out.error(e.line, &e.text, e.reason);
                        continue;
                    }
                },
                _ => None,
            };
            let mut matches = Matches {
                ports: ports.clone(),
                ..Matches::default()
            };
            if let Some(p) = &protocol {
                matches.protos.only(&[p.as_str()]);
            }
            if let Some(reason) = matches.why_not_counted(out.blocks.port) {
                let id = group.get("GroupId").and_then(Node::as_str).unwrap_or("");
                out.list
                    .not_counted(perm.line, format!("security group {id}"), reason);
                continue;
            }
            for (list, field) in [("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6")] {
                let Some(ranges) = perm.get(list) else {
                    continue;
                };
                let Some(ranges) = ranges.as_array() else {
                    out.error(
                        ranges.line,
                        &snippet(ranges),
                        format!("`{list}` is not an array"),
                    );
                    continue;
                };
                for range in ranges {
                    let Some(cidr) = range.get(field) else {
                        out.error(
                            range.line,
                            &snippet(range),
                            format!("entry has no `{field}`"),
                        );
                        continue;
                    };
                    match cidr
                        .as_str()
                        .ok_or_else(|| "expected a CIDR string".to_owned())
                        .and_then(parse_cidr)
                    {
                        Ok(net) => out.entry(net, cidr.line, ports.as_ref(), protocol.as_ref()),
                        Err(reason) => out.error(cidr.line, &snippet(cidr), reason),
                    }
                }
            }
        }
    }
    Ok(())
}

fn sg_ports(perm: &Node) -> Result<Option<Vec<PortRange>>, ValueError> {
    let port = |key: &str| -> Result<Option<u16>, ValueError> {
        match perm.get(key) {
            None => Ok(None),
            Some(n) => n
                .as_i64()
                .and_then(|v| u16::try_from(v).ok())
                .map(Some)
                .ok_or_else(|| ValueError::at(n, format!("`{key}` is not a port"))),
        }
    };
    match (port("FromPort")?, port("ToPort")?) {
        (Some(first), Some(last)) => port_range(first, last)
            .map(|r| Some(vec![r]))
            .map_err(|r| ValueError::at(perm, r)),
        _ => Ok(None),
    }
}
