use super::*;

#[test]
fn aws_security_groups() {
    let list = parse_allowlist_rules("sg.json", SG, None, Direction::Egress, None).unwrap();
    assert_eq!(list.format, AllowlistFormat::AwsSg);
    assert_eq!(
        show(&list),
        [
            "192.0.2.0/24 tcp 443 @14",
            "2001:db8:1::/48 tcp 443 @17",
            "198.51.100.0/24 any * @27",
        ]
    );
    assert_eq!(skipped(&list), ["32: it admits only UDP, not TCP"]);
    assert_eq!(
        list.not_counted[0].rule,
        "security group sg-0123456789abcdef0"
    );
    let list = parse_allowlist_rules("sg.json", SG, None, Direction::Ingress, None).unwrap();
    assert_eq!(show(&list), ["203.0.113.5/32 tcp 22 @50"]);
    assert_eq!(skipped(&list), ["52: it admits only ICMP, not TCP"]);
}

#[test]
fn aws_sg_errors() {
    let input = "{\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"IpPermissionsEgress\": [\n {\"IpProtocol\": \"tcp\", \"FromPort\": 443, \"ToPort\": 443,\n  \"IpRanges\": [{\"CidrIp\": \"192.0.2.0/33\"}]},\n {\"IpProtocol\": \"tcp\", \"FromPort\": 500, \"ToPort\": 400, \"IpRanges\": []}]}]}";
    let errors =
        parse_allowlist_rules("sg.json", input, None, Direction::Egress, None).unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.origin.line).collect();
    assert_eq!(lines, [3, 4], "{errors:#?}");
    assert_eq!(errors[0].text, "192.0.2.0/33");
}
