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
//! proxy on loopback. Node is bounded by the script's own watchdog; past
//! that it gets SIGTERM, on which it exits and playwright kills the browser
//! (which it started in a process group of its own, so a SIGKILL to node
//! alone would leave Chromium running), and only then, if still running,
//! SIGKILL.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

use crate::TempDir;
use crate::browser::{node, node_dir};
use crate::support::wait_then_stop;

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
    /// Laid out as it prints, when a print screenshot was asked for.
    print_text_length: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    level: String,
    text: String,
}

/// Opens `page` in Chromium and writes its full-page screenshot to `shot`
/// (and with `print`, the page as it prints to that file).
#[track_caller]
fn render(page: &Path, shot: &Path, print: Option<&Path>, dir: &TempDir) -> Rendered {
    let spec = serde_json::json!({
        "page": page,
        "screenshot": shot,
        "print_screenshot": print,
        "width": 1100,
        "height": 900,
        "full_page": true,
        "timeout_ms": 30_000,
    });
    // The script's watchdog ends it after 30 s; past 45 s it is stopped.
    let ended = run_render(page, &spec, dir, Duration::from_secs(45));
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

/// Runs `render.mjs` on `spec` for at most `limit`; past it, SIGTERM and
/// five seconds for node to close the browser, then SIGKILL.
fn run_render(
    page: &Path,
    spec: &serde_json::Value,
    dir: &TempDir,
    limit: Duration,
) -> crate::support::Ended {
    let node = node();
    crate::require("chromium", "chromium");
    let name = format!(
        "render-{}.json",
        page.file_stem().unwrap_or_default().to_string_lossy()
    );
    let spec = dir.write(&name, &spec.to_string());
    let child = Command::new(node)
        .arg(node_dir().join("render.mjs"))
        .arg(&spec)
        .current_dir(node_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    wait_then_stop(child, limit, Duration::from_secs(5))
}

/// The process group of each process whose command line holds `tag`.
fn groups_tagged(tag: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(tag)
            && let Some(group) = group_of(&entry.path())
        {
            found.push(group);
        }
    }
    found
}

/// The process group of the process at `/proc/PID`: the fifth field of its
/// `stat`, counted after the command's parenthesis.
fn group_of(proc: &Path) -> Option<String> {
    let stat = std::fs::read_to_string(proc.join("stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(2).map(str::to_owned)
}

/// The processes (PIDs) in any of `groups`.
fn in_groups(groups: &[String]) -> Vec<String> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| group_of(&e.path()).is_some_and(|g| groups.contains(&g)))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A render stopped past its limit (a hung page, a hung browser) leaves no
/// Chromium behind: node gets SIGTERM first, exits, and playwright kills
/// the browser's process group (renderers, GPU and utility processes).
#[test]
fn a_stopped_render_leaves_no_browser_running() {
    let dir = TempDir::new();
    let page = dir.write("held.html", "<!DOCTYPE html><title>held</title><p>held");
    let tag = format!("reach-held-{}", std::process::id());
    let spec = serde_json::json!({
        "page": page,
        "screenshot": dir.join("held.png"),
        "timeout_ms": 60_000,
        "hold_ms": 60_000,
        "tag": tag,
    });
    // The browser's process group, seen while the page is held open.
    let watcher = {
        let tag = tag.clone();
        std::thread::spawn(move || {
            for _ in 0..70 {
                let groups = groups_tagged(&tag);
                if !groups.is_empty() {
                    return groups;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Vec::new()
        })
    };
    let ended = run_render(&page, &spec, &dir, Duration::from_secs(8));
    let groups = watcher.join().expect("the watcher");
    assert!(
        !groups.is_empty(),
        "Chromium was never seen: {}",
        ended.stderr
    );
    // Node ended on the SIGTERM, in its own handler: it got to clean up.
    assert_eq!(ended.code, Some(4), "stopped by SIGTERM: {}", ended.stderr);
    let mut left = in_groups(&groups);
    for _ in 0..30 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        left = in_groups(&groups);
    }
    assert!(left.is_empty(), "Chromium left running: pids {left:?}");
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
    let seen = render(&noisy, &dir.join("noisy.png"), None, &dir);
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

    // The screenshots are the CI artifacts: target/interop-artifacts/
    // report.png, and report-print.png as the page prints.
    let artifacts = artifacts();
    std::fs::create_dir_all(&artifacts).expect("the artifacts folder");
    let shot = artifacts.join("report.png");
    let print = artifacts.join("report-print.png");
    let _ = std::fs::remove_file(&shot);
    let _ = std::fs::remove_file(&print);
    let seen = render(&page, &shot, Some(&print), &dir);

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
    // As it prints: laid out (folded headers are left out on paper) and
    // no error logged (the checks above cover both renderings).
    assert!(
        seen.print_text_length.is_some_and(|n| n > 2000),
        "{seen:#?}"
    );
    for shot in [&shot, &print] {
        let png = std::fs::read(shot).expect("the screenshot was written");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
            "{}: {}",
            shot.display(),
            png.len()
        );
    }
}
