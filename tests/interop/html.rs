//! `reach --format html` in a real browser: Debian's headless Chromium,
//! driven by `tests/interop/node/render.mjs` (playwright-core and a
//! developer-tools session), opens the demo's report from `file://` and
//! says what it saw: the requests the page made, every console message and
//! browser log entry, every uncaught error. The page must render with none
//! of them and ask for nothing but itself.
//!
//! The demo is the one `cargo xtask demo` runs: `reach run
//! examples/preflight.toml` against the in-process lab, with the lab's
//! preflight environment. Chromium reaches nothing even if the page asked:
//! every name resolves to nothing and every proxied request goes to a dead
//! proxy on loopback. Node is bounded by the script's own watchdog and, past
//! that, killed by its PID (playwright's browser goes with it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

use crate::TempDir;
use crate::browser::{node, node_dir};
use crate::support::wait;

/// What `render.mjs` saw.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rendered {
    /// The page's own `file://` URL.
    page: String,
    /// Every URL the page asked for, itself included.
    requests: Vec<String>,
    failed: Vec<String>,
    /// Console messages (`error`, `warning`, `log`, …) and the browser's
    /// log entries (`log:error`, …).
    console: Vec<Message>,
    exceptions: Vec<String>,
    title: String,
    svgs: usize,
    text_length: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    level: String,
    text: String,
}

/// Opens `page` in Chromium and writes its full-page screenshot to `shot`.
#[track_caller]
fn render(page: &Path, shot: &Path, dir: &TempDir) -> Rendered {
    let node = node();
    crate::require("chromium", "chromium");
    let name = format!(
        "render-{}.json",
        page.file_stem().unwrap_or_default().to_string_lossy()
    );
    let spec = dir.write(
        &name,
        &serde_json::json!({
            "page": page,
            "screenshot": shot,
            "width": 1100,
            "height": 900,
            "full_page": true,
            "timeout_ms": 30_000,
        })
        .to_string(),
    );
    let child = Command::new(node)
        .arg(node_dir().join("render.mjs"))
        .arg(&spec)
        .current_dir(node_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    // The script's watchdog ends it after 30 s; past 45 s it is killed.
    let ended = wait(child, Duration::from_secs(45));
    assert_eq!(
        ended.code,
        Some(0),
        "render.mjs failed on {}: {}",
        page.display(),
        ended.stderr
    );
    serde_json::from_str(&ended.stdout)
        .unwrap_or_else(|e| panic!("not what render.mjs writes ({e}): {}", ended.stdout))
}

/// Where the CI job picks up the screenshot: `interop-artifacts/` in the
/// target directory (`CARGO_TARGET_DIR`, else the workspace's `target/`).
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("interop-artifacts")
}

#[test]
fn the_demo_report_renders_in_chromium_with_no_error_and_no_request() {
    let dir = TempDir::new();
    // Control: a page that fetches and logs is seen doing both, so the
    // silence below means something.
    let noisy = dir.write(
        "noisy.html",
        "<!DOCTYPE html><title>noisy</title><img src=\"http://example.invalid/x.png\">\
         <script>console.error('boom')</script>",
    );
    let seen = render(&noisy, &dir.join("noisy.png"), &dir);
    assert!(
        seen.requests.iter().any(|r| r.contains("example.invalid")),
        "{seen:#?}"
    );
    assert!(
        seen.console
            .iter()
            .any(|m| m.level == "error" && m.text == "boom"),
        "{seen:#?}"
    );

    // The demo's report, as `cargo xtask demo --format html -o FILE`.
    let page = dir.join("report.html");
    {
        let lab = reach_lab::Lab::start().expect("the lab starts");
        let preflight = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/preflight.toml");
        let mut cmd = crate::command();
        cmd.arg("run")
            .arg(&preflight)
            .args(["--format", "html", "-o"])
            .arg(&page);
        for (name, value) in lab.preflight_environment() {
            cmd.env(name, value);
        }
        let out = cmd.output().expect("reach runs");
        // 1: the lab is half broken on purpose.
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let html = std::fs::read_to_string(&page).expect("the page was written");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");

    // The screenshot is the CI artifact: target/interop-artifacts/report.png.
    let artifacts = artifacts();
    std::fs::create_dir_all(&artifacts).expect("the artifacts folder");
    let shot = artifacts.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let seen = render(&page, &shot, &dir);

    assert!(seen.console.is_empty(), "console: {:#?}", seen.console);
    assert!(seen.exceptions.is_empty(), "errors: {:#?}", seen.exceptions);
    assert_eq!(seen.requests, std::slice::from_ref(&seen.page), "{seen:#?}");
    assert!(seen.failed.is_empty(), "{seen:#?}");
    assert!(
        seen.title.starts_with("reach report: ") && seen.title.contains("failed"),
        "{}",
        seen.title
    );
    // Pictures were drawn (waterfalls, coverage bars) and text laid out.
    assert!(seen.svgs >= 6, "{seen:#?}");
    assert!(seen.text_length > 2000, "{seen:#?}");
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{}",
        png.len()
    );
}
