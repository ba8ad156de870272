//! The status page at `/` of the admin server, loaded by headless Chromium from the
//! running binary: every endpoint with its state and answer share, the source, the
//! Azure mirror's Programmed state, the zone serial; a killed backend's row turns
//! Degraded; no secret shows; untrusted clients get 403 (curl from another 127.x
//! source address).

use std::process::Command;
use std::time::{Duration, Instant};

use fleetdns_testsupport::process::scratch_dir;
use fleetdns_testsupport::{tools, wait};

use crate::fixtures;
use crate::window::{web_endpoint, World, API_ENDPOINT, CLIENT_SECRET, HEADER_SECRET, PROBE_BOUND};

/// Runs headless Chromium on `url` with `args` (a fresh profile directory each
/// time, no background networking); its stdout.
fn chromium(args: &[&str], url: &str) -> String {
    let profile = scratch_dir("chromium");
    let out = Command::new("timeout")
        .arg("60")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run chromium: {e}"));
    let _ = std::fs::remove_dir_all(&profile);
    if out.status.code() == Some(127) {
        panic!("chromium is not installed (apt-get install chromium; .ci/run does this)");
    }
    assert!(
        out.status.success(),
        "chromium {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The DOM after the page's script ran for `budget_ms` of virtual time (its
/// timers run; virtual time waits while a fetch is in flight).
fn dump_dom(url: &str, budget_ms: u32) -> String {
    chromium(
        &[&format!("--virtual-time-budget={budget_ms}"), "--dump-dom"],
        url,
    )
}

/// Saves a screenshot of `url` at `width`×`height` to `path`; checks it is a PNG.
fn screenshot(url: &str, path: &std::path::Path, width: u32, height: u32) {
    chromium(
        &[
            "--virtual-time-budget=3000",
            &format!("--window-size={width},{height}"),
            &format!("--screenshot={}", path.display()),
        ],
        url,
    );
    let png = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{} is not a screenshot ({} bytes)",
        path.display(),
        png.len()
    );
    println!("status page screenshot: {}", path.display());
}

/// The start tag of the element with `attr="value"` in a dumped DOM.
fn tag_with<'a>(dom: &'a str, attr: &str, value: &str) -> Option<&'a str> {
    let at = dom.find(&format!("{attr}=\"{value}\""))?;
    let start = dom[..at].rfind('<')?;
    let end = at + dom[at..].find('>')?;
    Some(&dom[start..=end])
}

/// The value of `attr` in a start tag.
fn attr<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// The state a row shows for `endpoint`.
fn row_state<'a>(dom: &'a str, endpoint: &str) -> Option<&'a str> {
    attr(tag_with(dom, "data-endpoint", endpoint)?, "data-state")
}

/// The row of `endpoint`: from its `<tr` to its `</tr>`.
fn row<'a>(dom: &'a str, endpoint: &str) -> &'a str {
    let at = dom
        .find(&format!("data-endpoint=\"{endpoint}\""))
        .unwrap_or_else(|| panic!("no row for {endpoint} in:\n{dom}"));
    let start = dom[..at].rfind("<tr").unwrap();
    let end = at + dom[at..].find("</tr>").unwrap();
    &dom[start..end]
}

/// The weight `/status` gives `endpoint`.
fn weight_of(status: &serde_json::Value, endpoint: &str) -> u64 {
    status["profiles"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["endpoints"].as_array().into_iter().flatten())
        .find(|e| e["id"] == endpoint)
        .and_then(|e| e["weight"].as_u64())
        .unwrap_or_else(|| panic!("no weight for {endpoint} in {status:#}"))
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [HEADER_SECRET, CLIENT_SECRET] {
        assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
    }
}

#[test]
fn status_page_shows_every_endpoint_and_a_killed_backend_turns_degraded() {
    let mut w = World::start(161, |_| {});
    let url = format!("http://{}/", w.fleet.admin);
    let status = w.wait_status("ns/web Programmed in Azure", |s| {
        s["azure"]["profiles"]["ns/web"]["programmed"]["reason"] == "Programmed"
    });
    // Answers to count: the page shows each endpoint's share of the last minute.
    w.query(300);
    let web_answers = |s: &serde_json::Value| -> u64 {
        s["profiles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["profile"] == "ns/web")
            .flat_map(|p| p["endpoints"].as_array().into_iter().flatten())
            .filter_map(|e| e["answersLastMinute"].as_u64())
            .sum()
    };
    w.wait_status("the 300 answers counted in the last minute", |s| {
        web_answers(s) >= 300
    });

    let dom = dump_dom(&url, 6000);
    for c in 1..=3 {
        let id = web_endpoint(c);
        assert_eq!(row_state(&dom, &id), Some("Online"), "{id}:\n{dom}");
        let r = row(&dom, &id);
        for part in [
            format!(">c{c}<"),
            format!(">127.0.161.{c}<"),
            format!(">{} (33%)<", weight_of(&status, &id)),
            "HTTP 200".to_string(),
            "data-healthy=\"true\"".to_string(),
        ] {
            assert!(r.contains(&part), "{part} missing in the row of {id}: {r}");
        }
        // 300 weighted draws, weights 1:1:1: each share is far from 0 and from 100 %.
        let answers: u64 = attr(r, "data-answers")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no answer count in {r}"));
        assert!(
            (45..=200).contains(&answers),
            "{id} got {answers} of 300 answers: {r}"
        );
    }
    assert_eq!(row_state(&dom, API_ENDPOINT), Some("Degraded"), "{dom}");
    let serial = status["serial"].as_u64().unwrap().to_string();
    for part in [
        "data-profile=\"ns/web\"",
        "data-profile=\"ns/api\"",
        ">ns-web.tm.test<",
        ">ns-api.tm.test<",
        "data-mode=\"fail-closed\"",
        "data-programmed=\"Programmed\"",
        "data-source=\"file\"",
        ">success<",
        &serial,
    ] {
        assert!(dom.contains(part), "{part} missing from the page:\n{dom}");
    }
    // It refreshes itself, one request at a time, every 2 s: 6 s of page time.
    let polls: u32 = {
        let at = dom.find("data-polls=\"").expect("body data-polls") + "data-polls=\"".len();
        dom[at..at + dom[at..].find('"').unwrap()].parse().unwrap()
    };
    assert!((2..=4).contains(&polls), "polls in 6 s: {polls}");
    assert_no_secret("the page's DOM", &dom);
    assert_no_secret("/status", &fixtures::http_get(w.fleet.admin, "/status"));
    assert_no_secret("the page", &fixtures::http_get(w.fleet.admin, "/"));

    let shots = scratch_dir("status-page-screenshots");
    screenshot(&url, &shots.join("status-page.png"), 1280, 1000);
    screenshot(&url, &shots.join("status-page-phone.png"), 390, 1400);

    // Kill c2's backend: its row turns Degraded within the probe bound (plus the
    // time Chromium takes to start and load the page).
    w.backends[1].kill();
    let killed = Instant::now();
    let dom = wait::eventually(
        "the killed backend's row to show Degraded",
        PROBE_BOUND + Duration::from_secs(12),
        Duration::from_millis(200),
        || {
            let dom = dump_dom(&url, 500);
            match row_state(&dom, &web_endpoint(2)) {
                Some("Degraded") => Ok(dom),
                other => Err(format!("state {other:?}")),
            }
        },
    );
    println!(
        "row Degraded on the page {:.1} s after the kill (probe bound {} s)",
        killed.elapsed().as_secs_f64(),
        PROBE_BOUND.as_secs()
    );
    let r = row(&dom, &web_endpoint(2));
    assert!(
        r.contains("data-healthy=\"false\"") && r.contains("refused"),
        "the last probe failed: {r}"
    );
    for c in [1, 3] {
        assert_eq!(row_state(&dom, &web_endpoint(c)), Some("Online"), "{dom}");
    }
    assert_no_secret("the page's DOM", &dom);
    screenshot(&url, &shots.join("status-page-degraded.png"), 1280, 1000);
}

#[test]
fn status_page_is_forbidden_to_untrusted_clients() {
    let config = fixtures::settings("  healthView: {trustedNetworks: ['127.0.0.1/32']}\n")
        + &fixtures::profile("web", "svc", 10)
        + &fixtures::export("svc", None);
    let s = fixtures::start(&config);
    let url = format!("http://{}/", s.admin);
    let dir = scratch_dir("status-page-403");
    let get = |source: &str| -> (String, String, String) {
        let body = dir.join("body");
        let headers = dir.join("headers");
        let code = tools::run(
            "curl",
            &[
                "-sS",
                "--max-time",
                "5",
                "--interface",
                source,
                "-D",
                &headers.display().to_string(),
                "-o",
                &body.display().to_string(),
                "-w",
                "%{http_code}",
                &url,
            ],
        );
        (
            code,
            std::fs::read_to_string(body).unwrap_or_default(),
            std::fs::read_to_string(headers).unwrap_or_default(),
        )
    };
    // 127.0.160.9 is loopback but not in the trusted networks.
    let (code, body, _) = get("127.0.160.9");
    assert_eq!(code, "403", "{body}");
    assert!(body.contains("trustedNetworks"), "{body}");
    assert!(
        !body.contains("<html") && !body.contains("192.0.2."),
        "nothing of the page or the fleet: {body}"
    );
    // The trusted address gets the page, which loads nothing from elsewhere.
    let (code, body, headers) = get("127.0.0.1");
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("<title>fleetdns status</title>"), "{body}");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-security-policy: default-src 'none'"),
        "{headers}"
    );
    for external in ["src=", "href=", "http:", "https:", "@import", "url("] {
        assert!(
            !body.contains(external),
            "the page refers to an external asset ({external})"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
