//! Interop cases: `reach serve`, the Prometheus exporter, as a real
//! Prometheus scrapes it (the multi-target pattern of `blackbox_exporter`)
//! and as promtool and the `OpenMetrics` reference parser (Python's
//! `prometheus_client`) read what it writes.
//!
//! The truth of each target is what curl says about it and what Debian's
//! `prometheus-blackbox-exporter` reports for it under the same Prometheus
//! configuration, both asserted first: reach must agree with them. The
//! exporter's run is also the harness's own control (its answers pass
//! promtool, its targets come up in Prometheus), so a failure past it is
//! reach's.
//!
//! Addresses (127.0.6.N): scrape case .1 nginx, .2 a closed port, .3 reach
//! serve, .4 `blackbox_exporter`, .5 Prometheus, .6 a silent port (it
//! takes connections and never answers); exposition case .11 nginx, .12 a
//! closed port, .13 reach serve, .14 `blackbox_exporter`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reach_report::{Code, Severity};

use crate::{Server, TempDir, case_pki, require, tool};

/// The HTTPS target nginx serves, verified against the case's CA.
fn good_url(ip: &str) -> String {
    format!("https://{ip}:8443/")
}

/// A case's PKI (a CA and a leaf for `ip`) and nginx serving 200 with it.
fn target(ip: &str, dir: &TempDir) -> (Server, TempDir) {
    case_pki(
        dir.path(),
        "reach interop Prometheus CA",
        "good",
        &["good.prom.test", ip],
    );
    let block = format!(
        "server {{ listen {ip}:8443 ssl; ssl_certificate {}; ssl_certificate_key {};\n\
         location / {{ return 200 \"hello from nginx\\n\"; }} }}",
        dir.arg("good.pem"),
        dir.arg("good.key"),
    );
    crate::tls::nginx(ip, &block)
}

/// The truth about both targets, from curl: the good one answers 200 with
/// the case's CA, the closed port refuses the connection.
#[track_caller]
fn assert_curl_truth(dir: &TempDir, good: &str, closed: &str) {
    let curl = require("curl", "curl");
    let ca = dir.arg("ca.pem");
    let out = tool(
        &curl,
        &[
            "-sS",
            "--cacert",
            &ca,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            good,
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "curl {good}");
    let out = tool(&curl, &["-sS", "-v", "--cacert", &ca, closed], None);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "curl {closed}: {said}");
    assert!(said.contains("Connection refused"), "curl {closed}: {said}");
}

/// A port that takes connections (the kernel completes them into the
/// listen queue) and never says a word; closed when dropped. curl, given
/// a second as Prometheus gives a scrape, times out on it.
#[track_caller]
fn silent_port(dir: &TempDir, ip: &str) -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind((ip, 8443)).expect("bind the silent port");
    let url = good_url(ip);
    let curl = require("curl", "curl");
    let ca = dir.arg("ca.pem");
    let out = tool(
        &curl,
        &["-sS", "--max-time", "1", "--cacert", &ca, &url],
        None,
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(28), "curl {url}: {said}");
    (listener, url)
}

/// `blackbox_exporter` on `addr` with one module, `default`: an HTTP probe
/// verifying the case's CA (its `http_2xx`).
fn blackbox(dir: &TempDir, addr: SocketAddr) -> Server {
    let config = dir.write(
        "blackbox.yml",
        &format!(
            "modules:\n  default:\n    prober: http\n    timeout: 5s\n    http:\n      \
             tls_config:\n        ca_file: {}\n",
            dir.arg("ca.pem")
        ),
    );
    let mut cmd = Command::new(require(
        "prometheus-blackbox-exporter",
        "prometheus-blackbox-exporter",
    ));
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address={addr}"));
    Server::start("blackbox_exporter", cmd, addr, &dir.join("blackbox.log"))
}

/// The `reach serve` configuration: the `default` module (as the exporter's
/// module, verifying the case's CA), two endpoint entries (`api`, good;
/// `down`, the closed port) and an allowlist entry (`egress`), a preflight
/// check of another kind. Paths are relative to the file.
fn serve_config(dir: &TempDir, good: &str, closed: &str) -> std::path::PathBuf {
    dir.write("published.txt", "10.0.0.0/16\n");
    dir.write("allow.txt", "10.0.0.0/8\n");
    dir.write(
        "serve.toml",
        &format!(
            "[modules.default]\ntimeout = \"5s\"\nca_files = [\"ca.pem\"]\n\n\
             [[endpoint]]\nname = \"api\"\nurl = \"{good}\"\nca_files = [\"ca.pem\"]\n\n\
             [[endpoint]]\nname = \"down\"\nurl = \"{closed}\"\n\n\
             [[allowlist]]\nname = \"egress\"\npublished = [\"published.txt\"]\n\
             allowlist = [\"allow.txt\"]\n"
        ),
    )
}

/// `reach serve --config FILE --listen ADDR`, up once it accepts
/// connections and has said where it listens.
fn reach_serve(dir: &TempDir, config: &Path, addr: SocketAddr) -> Server {
    let mut cmd = Command::new(crate::support::bin());
    cmd.arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--listen")
        .arg(addr.to_string());
    for var in crate::support::PROXY_VARS {
        cmd.env_remove(var);
    }
    let server = Server::start("reach serve", cmd, addr, &dir.join("reach-serve.log"));
    let said = format!("listening on http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.log_text().contains(&said) {
        assert!(
            Instant::now() < deadline,
            "reach serve accepts connections on {addr} but did not say `{said}`: {}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// One scrape job of the multi-target pattern: each of `targets` becomes
/// the `param` parameter of `/probe` on `exporter`, and the series'
/// `instance`.
fn job(name: &str, exporter: SocketAddr, param: &str, targets: &[&str], module: bool) -> String {
    let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    let params = if module {
        "    params:\n      module: [default]\n"
    } else {
        ""
    };
    format!(
        "  - job_name: {name}\n    metrics_path: /probe\n{params}    static_configs:\n      \
         - targets: [{}]\n    relabel_configs:\n      - source_labels: [__address__]\n        \
         target_label: __param_{param}\n      - source_labels: [__param_{param}]\n        \
         target_label: instance\n      - target_label: __address__\n        \
         replacement: '{exporter}'\n",
        targets.join(", ")
    )
}

/// Prometheus on `addr`, scraping `jobs` every second, its storage in
/// `dir`.
fn prometheus(dir: &TempDir, addr: SocketAddr, jobs: &[String]) -> Server {
    let config = dir.write(
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}",
            jobs.concat()
        ),
    );
    let mut cmd = Command::new(require("prometheus", "prometheus"));
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.arg("tsdb")))
        .arg(format!("--web.listen-address={addr}"));
    Server::start("prometheus", cmd, addr, &dir.join("prometheus.log"))
}

/// A series of an instant query: its labels and its value.
type Series = (BTreeMap<String, String>, String);

/// The answer of Prometheus's query API to `query` (`PromQL`).
#[track_caller]
fn query(prometheus: SocketAddr, query: &str) -> Vec<Series> {
    let url = format!("http://{prometheus}/api/v1/query");
    let param = format!("query={query}");
    let body = crate::curl(&["-sS", "-G", "--data-urlencode", &param, &url]);
    let answer: serde_json::Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("Prometheus's answer to {query} is not JSON ({e}): {body}"));
    assert_eq!(answer["status"], "success", "{query}: {body}");
    let results = answer["data"]["result"].as_array().cloned();
    results
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let labels = s["metric"].as_object().cloned().unwrap_or_default();
            let labels = labels
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
                .collect();
            (
                labels,
                s["value"][1].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The value of `metric` of `job`, by instance, once every one of
/// `instances` has a sample (polled at most 30 s: Prometheus scrapes every
/// second, its first scrape within a second of starting).
#[track_caller]
fn by_instance(
    prometheus: SocketAddr,
    metric: &str,
    job: &str,
    instances: &[&str],
) -> BTreeMap<String, String> {
    let promql = format!("{metric}{{job=\"{job}\"}}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let values: BTreeMap<String, String> = query(prometheus, &promql)
            .into_iter()
            .map(|(labels, value)| (labels.get("instance").cloned().unwrap_or_default(), value))
            .collect();
        if instances.iter().all(|i| values.contains_key(*i)) {
            return values;
        }
        assert!(
            Instant::now() < deadline,
            "no {promql} for every one of {instances:?} within 30 s: {values:?}; targets: {}",
            crate::curl(&["-sS", &format!("http://{prometheus}/api/v1/targets")])
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `instance → value` as the test writes it.
fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(i, v)| ((*i).to_owned(), (*v).to_owned()))
        .collect()
}

/// The value of the only series of `promql`, and the label `label` of it.
#[track_caller]
fn only(prometheus: SocketAddr, promql: &str, label: &str) -> (String, String) {
    let series = query(prometheus, promql);
    assert_eq!(series.len(), 1, "{promql}: {series:?}");
    let (labels, value) = &series[0];
    let label = labels.get(label).cloned().unwrap_or_default();
    (label, value.clone())
}

#[test]
fn prometheus_scrapes_reach_serve_with_the_multi_target_pattern() {
    let (good, closed) = (good_url("127.0.6.1"), good_url("127.0.6.2"));
    let serve: SocketAddr = "127.0.6.3:9116".parse().expect("address");
    let exporter: SocketAddr = "127.0.6.4:9115".parse().expect("address");
    let prom: SocketAddr = "127.0.6.5:9090".parse().expect("address");
    let dir = TempDir::new();
    let _nginx = target("127.0.6.1", &dir);
    assert_curl_truth(&dir, &good, &closed);
    // Probed under the module's 5 s, it would outlast Prometheus's 1 s
    // scrape timeout: the exporters must answer within what the scrape's
    // `X-Prometheus-Scrape-Timeout-Seconds` leaves.
    let (_silent, silent) = silent_port(&dir, "127.0.6.6");

    let _blackbox = blackbox(&dir, exporter);
    let targets = [good.as_str(), closed.as_str(), silent.as_str()];
    let jobs = [
        job("blackbox", exporter, "target", &targets, true),
        job("reach", serve, "target", &targets, true),
        job("reach_check", serve, "check", &["api", "down"], false),
    ];
    let _prometheus = prometheus(&dir, prom, &jobs);

    // The control: blackbox_exporter's verdicts through the same relabelling.
    let verdicts = expect(&[(&good, "1"), (&closed, "0"), (&silent, "0")]);
    let blackbox_success = by_instance(prom, "probe_success", "blackbox", &targets);
    assert_eq!(blackbox_success, verdicts);
    let all_up = expect(&[(&good, "1"), (&closed, "1"), (&silent, "1")]);
    let up = by_instance(prom, "up", "blackbox", &targets);
    assert_eq!(up, all_up);

    // reach serve, scraped as blackbox_exporter is, must say the same.
    let config = serve_config(&dir, &good, &closed);
    let _serve = reach_serve(&dir, &config, serve);
    assert_eq!(
        by_instance(prom, "probe_success", "reach", &targets),
        verdicts
    );
    // `up` 1 for the silent port too: reach answered within the scrape.
    assert_eq!(by_instance(prom, "up", "reach", &targets), all_up);
    let took = by_instance(prom, "probe_duration_seconds", "reach", &targets)[&silent]
        .parse::<f64>()
        .expect("a duration");
    assert!(
        (0.4..1.0).contains(&took),
        "reach probed the silent port for {took} s: the scrape left it 0.5 s"
    );
    assert_eq!(
        by_instance(prom, "probe_http_status_code", "reach", &targets)[&good],
        "200"
    );
    let good_series = format!("{{job=~\"blackbox|reach\",instance=\"{good}\"}}");
    for (metric, label) in [
        ("probe_ssl_earliest_cert_expiry", "__name__"),
        ("probe_tls_version_info", "version"),
    ] {
        let promql = format!("{metric}{good_series}");
        let series = query(prom, &promql);
        assert_eq!(series.len(), 2, "{promql}: {series:?}");
        let of = |job: &str| {
            series
                .iter()
                .find(|(l, _)| l["job"] == job)
                .map(|(l, v)| (l.get(label).cloned(), v.clone()))
        };
        assert_eq!(of("reach"), of("blackbox"), "{promql}: {series:?}");
    }
    // Why the closed port fails, in reach's words: the code curl's
    // "Connection refused" is.
    let (code, value) = only(
        prom,
        &format!("reach_finding{{job=\"reach\",instance=\"{closed}\"}}"),
        "code",
    );
    assert_eq!(
        (code.as_str(), value.as_str()),
        (Code::TcpRefused.name(), "1")
    );
    let (severity, _) = only(
        prom,
        &format!("reach_finding{{job=\"reach\",instance=\"{closed}\"}}"),
        "severity",
    );
    assert_eq!(severity, Severity::Fail.as_str());
    // The silent port: the handshake that never came, not a refusal.
    let (code, _) = only(
        prom,
        &format!("reach_finding{{job=\"reach\",instance=\"{silent}\"}}"),
        "code",
    );
    assert_eq!(code, Code::TlsHandshakeFailed.name());

    // The configured checks by name, the same pattern over `check=`.
    assert_eq!(
        by_instance(prom, "probe_success", "reach_check", &["api", "down"]),
        expect(&[("api", "1"), ("down", "0")])
    );
    assert_eq!(
        by_instance(prom, "up", "reach_check", &["api", "down"]),
        expect(&[("api", "1"), ("down", "1")])
    );
}

/// An HTTP answer: its status, its `Content-Type`, its body.
struct Answer {
    status: String,
    content_type: String,
    body: String,
}

/// GET `url` with curl, with `accept` as the `Accept` header when given.
#[track_caller]
fn get(url: &str, accept: Option<&str>) -> Answer {
    let header = accept.map(|a| format!("Accept: {a}"));
    let mut args = vec!["-sS", "-w", "\n%{http_code} %{content_type}"];
    if let Some(header) = &header {
        args.extend_from_slice(&["-H", header]);
    }
    args.push(url);
    let text = crate::curl(&args);
    let (body, tail) = text
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("no answer from {url}: {text}"));
    let (status, content_type) = tail.split_once(' ').unwrap_or((tail, ""));
    Answer {
        status: status.to_owned(),
        content_type: content_type.to_owned(),
        body: body.to_owned(),
    }
}

/// promtool's lint of a Prometheus text exposition: it exits 0 and says
/// nothing, or names each problem (exit 3 for lint problems, 1 for a
/// parse error).
#[track_caller]
fn assert_promtool_clean(what: &str, text: &str) {
    let out = tool(
        &require("promtool", "prometheus"),
        &["check", "metrics"],
        Some(text),
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics on {what}: {} {said}\n{text}",
        out.status
    );
}

/// The `OpenMetrics` reference parser (`prometheus_client.openmetrics`,
/// strict: `# EOF`, suffixes, units) over `text`; promtool only reads the
/// text format.
const OPENMETRICS_PARSER: &str = "import sys\n\
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\n\
print(sum(len(f.samples) for f in parse(sys.stdin.read())), 'samples')\n";

#[track_caller]
fn assert_openmetrics(what: &str, text: &str) {
    assert!(
        text.ends_with("# EOF\n"),
        "{what} does not end with # EOF:\n{text}"
    );
    require("python3", "python3");
    let parser =
        Path::new("/usr/lib/python3/dist-packages/prometheus_client/openmetrics/parser.py");
    assert!(
        parser.exists(),
        "the OpenMetrics parser needs the Debian package `python3-prometheus-client`"
    );
    // Debian's python, not one on PATH without Debian's packages.
    let out = tool(
        Path::new("/usr/bin/python3"),
        &["-c", OPENMETRICS_PARSER],
        Some(text),
    );
    assert!(
        out.status.success(),
        "the OpenMetrics parser refuses {what}: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_accepts_every_exposition_reach_writes() {
    let (good, closed) = (good_url("127.0.6.11"), good_url("127.0.6.12"));
    let serve: SocketAddr = "127.0.6.13:9116".parse().expect("address");
    let exporter: SocketAddr = "127.0.6.14:9115".parse().expect("address");
    let dir = TempDir::new();
    let _nginx = target("127.0.6.11", &dir);
    assert_curl_truth(&dir, &good, &closed);
    let probe = |at: SocketAddr, query: &str| format!("http://{at}/probe?{query}");
    let of_target = |url: &str| format!("target={url}&module=default");

    // The control: what blackbox_exporter writes passes promtool.
    let _blackbox = blackbox(&dir, exporter);
    for url in [
        probe(exporter, &of_target(&good)),
        probe(exporter, &of_target(&closed)),
        format!("http://{exporter}/metrics"),
    ] {
        let answer = get(&url, None);
        assert_eq!(answer.status, "200", "{url}: {}", answer.body);
        assert_promtool_clean(&url, &answer.body);
    }

    let config = serve_config(&dir, &good, &closed);
    let _serve = reach_serve(&dir, &config, serve);
    let expositions = [
        (probe(serve, &of_target(&good)), "probe_success 1"),
        (probe(serve, &format!("target={good}")), "probe_success 1"),
        (probe(serve, &of_target(&closed)), "probe_success 0"),
        (probe(serve, "check=api"), "probe_success 1"),
        (probe(serve, "check=down"), "probe_success 0"),
        (probe(serve, "check=egress"), "probe_success 1"),
        (format!("http://{serve}/metrics"), ""),
    ];
    for (url, holds) in &expositions {
        let answer = get(url, None);
        assert_eq!(answer.status, "200", "{url}: {}", answer.body);
        assert!(
            answer.content_type.starts_with("text/plain; version=0.0.4"),
            "{url}: {}",
            answer.content_type
        );
        assert!(
            holds.is_empty() || answer.body.lines().any(|l| same_sample(l, holds)),
            "{url} has no `{holds}`:\n{}",
            answer.body
        );
        assert_promtool_clean(url, &answer.body);
        // The same, as a scraper that asks for OpenMetrics (Prometheus does).
        let answer = get(url, Some("application/openmetrics-text; version=1.0.0"));
        assert_eq!(answer.status, "200", "{url}: {}", answer.body);
        assert!(
            answer
                .content_type
                .starts_with("application/openmetrics-text"),
            "{url}: {}",
            answer.content_type
        );
        assert_openmetrics(url, &answer.body);
    }

    command_line_expositions(&dir, &good, &closed);

    // What it cannot probe is the scraper's error: 400, in words.
    for query in [
        "target=not%20a%20url",
        &format!("target={good}&module=nope"),
        "check=nope",
    ] {
        let answer = get(&probe(serve, query), None);
        assert_eq!(answer.status, "400", "{query}: {}", answer.body);
        assert!(
            answer.content_type.starts_with("text/plain") && !answer.body.trim().is_empty(),
            "{query}: {} {}",
            answer.content_type,
            answer.body
        );
    }
}

/// What `--format openmetrics` writes (for `node_exporter`'s textfile
/// collector) passes the `OpenMetrics` parser and promtool, for every kind.
fn command_line_expositions(dir: &TempDir, good: &String, closed: &String) {
    // What `reach check --format openmetrics` writes (for node_exporter's
    // textfile collector), for a passing and a failing target.
    let ca = dir.arg("ca.pem");
    let ca = ca.as_str();
    for (url, code) in [(&good, 0), (&closed, 1)] {
        let out = crate::command()
            .args([
                "check",
                "--format",
                "openmetrics",
                "--ca-file",
                ca,
                url.as_str(),
            ])
            .output()
            .expect("reach runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{url}: {text}");
        assert!(text.contains("probe_success"), "{url}:\n{text}");
        assert_openmetrics(&format!("reach check --format openmetrics {url}"), &text);
    }
    // Every kind's metrics, each series labelled by its check: both
    // targets at once, an allowlist (coverage gauges per family) and an
    // install URL's scopes.
    let feed = dir.write("feed.txt", "203.0.113.0/24\n2001:db8::/48\n");
    let allowed = dir.write("allowed.txt", "203.0.113.0/25\n");
    let runs: [(&str, Vec<String>); 3] = [
        (
            "check",
            vec![
                "--ca-file".into(),
                ca.into(),
                good.clone(),
                closed.clone(),
            ],
        ),
        (
            "allowlist",
            vec![
                "--published".into(),
                feed.display().to_string(),
                "--allowlist".into(),
                allowed.display().to_string(),
            ],
        ),
        (
            "oauth",
            vec![
                "scopes".into(),
                "--url".into(),
                "https://app.example/oauth/authorize?client_id=x&scope=a%20b&redirect_uri=https://app.example/cb".into(),
                "--redirect-url".into(),
                "https://app.example/cb".into(),
                "--required".into(),
                "a".into(),
                "--required".into(),
                "c".into(),
            ],
        ),
    ];
    for (command, args) in runs {
        let out = crate::command()
            .arg(command)
            .args(["--format", "openmetrics"])
            .args(&args)
            .output()
            .expect("reach runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let what = format!("reach {command} --format openmetrics {}", args.join(" "));
        assert_eq!(out.status.code(), Some(1), "{what}: {text}");
        assert!(text.contains("reach_finding{"), "{what}:\n{text}");
        assert_openmetrics(&what, &text);
        assert_promtool_clean(&what, &text);
    }
}

/// Whether `line` is a sample of `want` (`name value`): the same metric,
/// whatever its labels (a check's series are labelled by the check), and
/// the same value as a number (`1` and `1.0` are the same).
fn same_sample(line: &str, want: &str) -> bool {
    let split = |s: &str| {
        s.rsplit_once(' ').and_then(|(series, value)| {
            let name = series.split('{').next().unwrap_or(series);
            Some((name.to_owned(), value.parse::<f64>().ok()?))
        })
    };
    matches!((split(line), split(want)), (Some(a), Some(b)) if a == b)
}
