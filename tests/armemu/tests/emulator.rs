//! The emulator itself, over real HTTP: tokens, 401, swagger validation, server-
//! computed fields, 409 across resource groups, faults.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fleetdns_armemu::{ArmEmu, Fault};
use serde_json::{json, Value};

const SUB: &str = "00000000-0000-0000-0000-0000000000e1";

/// One HTTP/1.1 request; (status, headers, body). Status 0 when the connection drops.
fn http(
    emu: &ArmEmu,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(emu.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    req += body;
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let Some((head, body)) = out.split_once("\r\n\r\n") else {
        return (0, String::new(), String::new());
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn token(emu: &ArmEmu) -> String {
    let (status, _, body) = http(
        emu,
        "POST",
        "/tenant-1/oauth2/v2.0/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "grant_type=client_credentials&client_id=c&scope=https%3A%2F%2Fmanagement.azure.com%2F.default&client_secret=pw",
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn profile_path(rg: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/trafficmanagerprofiles/{name}?api-version=2022-04-01")
}

fn profile_body(relative: &str) -> String {
    json!({"location": "global", "properties": {"profileStatus": "Enabled", "trafficRoutingMethod": "Weighted",
        "dnsConfig": {"relativeName": relative, "ttl": 60}, "monitorConfig": {"protocol": "HTTP", "port": 80, "path": "/"}}})
    .to_string()
}

#[test]
fn arm_semantics_validation_and_tokens() {
    let emu = ArmEmu::start("127.0.90.200:0");
    emu.set_client_secret("c", "pw");
    let bearer = format!("Bearer {}", token(&emu));
    let auth = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];

    // No token, wrong secret, no Metadata header.
    assert_eq!(http(&emu, "GET", &profile_path("rg", "p1"), &[], "").0, 401);
    let (st, _, _) = http(
        &emu,
        "POST",
        "/t/oauth2/v2.0/token",
        &[],
        "grant_type=client_credentials&client_id=c&scope=x%2F.default&client_secret=nope",
    );
    assert_eq!(st, 401);
    assert_eq!(
        http(
            &emu,
            "GET",
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x",
            &[],
            ""
        )
        .0,
        400
    );
    let (st, _, body) = http(
        &emu,
        "GET",
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x",
        &[("Metadata", "true")],
        "",
    );
    assert_eq!(st, 200, "{body}");
    assert_eq!(emu.issued().len(), 2);

    // Create: server-computed fields and defaults.
    let (st, _, body) = http(
        &emu,
        "PUT",
        &profile_path("rg", "p1"),
        &auth,
        &profile_body("team-web"),
    );
    assert_eq!(st, 201, "{body}");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        p["properties"]["dnsConfig"]["fqdn"],
        "team-web.trafficmanager.net"
    );
    assert_eq!(p["properties"]["monitorConfig"]["intervalInSeconds"], 30);
    assert_eq!(
        p["properties"]["monitorConfig"]["profileMonitorStatus"],
        "Inactive"
    );
    assert!(p["id"]
        .as_str()
        .unwrap()
        .ends_with("/trafficManagerProfiles/p1"));
    let ep = format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/trafficmanagerprofiles/p1/ExternalEndpoints/fleet-u%23svc%23c1?api-version=2022-04-01");
    let (st, _, body) = http(&emu, "PUT", &ep, &auth, &json!({"name": "fleet-u#svc#c1", "type": "Microsoft.Network/trafficManagerProfiles/ExternalEndpoints", "properties": {"target": "192.0.2.1", "endpointStatus": "Enabled"}}).to_string());
    assert_eq!(st, 201, "{body}");
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["properties"]["endpointMonitorStatus"], "CheckingEndpoint");
    assert_eq!(e["properties"]["weight"], 1);
    assert_eq!(e["name"], "fleet-u#svc#c1");

    // The same relative name in another resource group: 409.
    let (st, _, body) = http(
        &emu,
        "PUT",
        &profile_path("rg-other", "p2"),
        &auth,
        &profile_body("TEAM-web"),
    );
    assert_eq!(st, 409, "{body}");
    assert!(body.contains("is not available"));

    // Swagger validation: an unknown property, a bad enum, a read-only field.
    let bad = profile_body("x")
        .replace("\"Weighted\"", "\"Random\"")
        .replace("\"ttl\":60", "\"ttl\":60,\"fqdn\":\"x\",\"colour\":1");
    let (st, _, body) = http(&emu, "PUT", &profile_path("rg", "p3"), &auth, &bad);
    assert_eq!(st, 400, "{body}");
    let last = emu.requests().pop().unwrap();
    assert!(
        last.invalid.iter().any(|e| e.contains("Random")),
        "{:?}",
        last.invalid
    );
    assert!(
        last.invalid.iter().any(|e| e.contains("fqdn is read-only")),
        "{:?}",
        last.invalid
    );
    assert!(
        last.invalid
            .iter()
            .any(|e| e.contains("colour is not a property")),
        "{:?}",
        last.invalid
    );

    // Faults: 429 with Retry-After (and 429 again before it elapses), 500, reset, delay.
    emu.inject(Fault::Throttle(1), 1);
    let (st, head, _) = http(&emu, "GET", &profile_path("rg", "p1"), &auth, "");
    assert_eq!(st, 429);
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    assert_eq!(
        http(&emu, "GET", &profile_path("rg", "p1"), &auth, "").0,
        429
    );
    assert!(emu.requests().last().unwrap().early);
    // Past the 1 s Retry-After (plus 100 ms), so the faults below are not throttled.
    std::thread::sleep(Duration::from_millis(1100));
    emu.inject(Fault::ServerError, 1);
    emu.inject(Fault::Reset, 1);
    emu.inject(Fault::Delay(Duration::from_millis(300)), 1);
    assert_eq!(
        http(&emu, "GET", &profile_path("rg", "p1"), &auth, "").0,
        500
    );
    assert_eq!(http(&emu, "GET", &profile_path("rg", "p1"), &auth, "").0, 0);
    let t = Instant::now();
    assert_eq!(
        http(&emu, "GET", &profile_path("rg", "p1"), &auth, "").0,
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(emu.self_errors().is_empty(), "{:?}", emu.self_errors());
}

#[test]
fn expired_tokens_get_401() {
    let emu = ArmEmu::start("127.0.90.201:0");
    emu.set_token_lifetime(1);
    let bearer = format!("Bearer {}", token(&emu));
    let auth = [("Authorization", bearer.as_str())];
    assert_eq!(
        http(&emu, "GET", &profile_path("rg", "p1"), &auth, "").0,
        404
    );
    // Past the token's 1 s lifetime (plus 100 ms): the same token is now expired.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        http(&emu, "GET", &profile_path("rg", "p1"), &auth, "").0,
        401
    );
}

/// Traffic Manager's routing-method rules the swagger states in prose: maxReturn
/// (required for MultiValue, 1-8), MultiValue endpoints (ExternalEndpoints with IP
/// targets only), priority (1-1000, unique in a profile, next one when unset).
#[test]
fn routing_method_rules_of_traffic_manager() {
    let emu = ArmEmu::start("127.0.90.202:0");
    emu.set_client_secret("c", "pw");
    let bearer = format!("Bearer {}", token(&emu));
    let auth = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];
    let body = |method: &str, max_return: Option<i64>| {
        let mut b: Value = serde_json::from_str(&profile_body(&format!(
            "rm-{}",
            method.to_ascii_lowercase()
        )))
        .unwrap();
        b["properties"]["trafficRoutingMethod"] = method.into();
        if let Some(n) = max_return {
            b["properties"]["maxReturn"] = n.into();
        }
        b.to_string()
    };
    let put = |path: &str, b: &str| http(&emu, "PUT", path, &auth, b);
    let mv = profile_path("rg", "mv");
    let (s, _, b) = put(&mv, &body("MultiValue", None));
    assert!(s == 400 && b.contains("maxReturn is required"), "{s} {b}");
    let (s, _, b) = put(&mv, &body("MultiValue", Some(9)));
    assert!(
        s == 400 && b.contains("maxReturn 9 is not allowed; allowed: 1 to 8"),
        "{s} {b}"
    );
    let (s, _, b) = put(&mv, &body("MultiValue", Some(3)));
    assert_eq!(s, 201, "{b}");
    let ep = |profile: &str, name: &str| {
        format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/trafficmanagerprofiles/{profile}/ExternalEndpoints/{name}?api-version=2022-04-01")
    };
    let endpoint = |target: &str, priority: Option<i64>| {
        let mut e = json!({"type": "Microsoft.Network/trafficManagerProfiles/ExternalEndpoints", "properties": {"target": target, "endpointStatus": "Enabled", "weight": 1}});
        if let Some(p) = priority {
            e["properties"]["priority"] = p.into();
        }
        e.to_string()
    };
    let (s, _, b) = put(&ep("mv", "host"), &endpoint("lb.example.net", None));
    assert!(
        s == 400
            && b.contains(
                "MultiValue routing method only supports ExternalEndpoints with IPv4 or IPv6"
            ),
        "{s} {b}"
    );
    let (s, _, b) = put(&ep("mv", "v4"), &endpoint("203.0.113.1", None));
    assert_eq!(s, 201, "{b}");
    let (s, _, b) = put(&ep("mv", "v6"), &endpoint("2001:db8::1", None));
    assert_eq!(s, 201, "{b}");

    let pr = profile_path("rg", "pr");
    let (s, _, b) = put(&pr, &body("Priority", None));
    assert_eq!(s, 201, "{b}");
    let (s, _, b) = put(&ep("pr", "a"), &endpoint("203.0.113.1", Some(5)));
    assert_eq!(s, 201, "{b}");
    let (s, _, b) = put(&ep("pr", "b"), &endpoint("203.0.113.2", Some(5)));
    assert!(
        s == 400 && b.contains("Endpoint priority 5 is already used by endpoint a"),
        "{s} {b}"
    );
    let (s, _, b) = put(&ep("pr", "b"), &endpoint("203.0.113.2", Some(1001)));
    assert!(
        s == 400 && b.contains("priority 1001 is not allowed; allowed: 1 to 1000"),
        "{s} {b}"
    );
    let (s, _, b) = put(&ep("pr", "c"), &endpoint("203.0.113.3", None));
    assert_eq!(s, 201, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        v["properties"]["priority"], 6,
        "unset: the next after the highest"
    );
    // Updating an endpoint keeps its own priority free for itself.
    let (s, _, b) = put(&ep("pr", "a"), &endpoint("203.0.113.1", Some(5)));
    assert_eq!(s, 200, "{b}");
}
