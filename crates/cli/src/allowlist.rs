//! `reach allowlist` and `reach allowlist diff`: read the feeds and the
//! allowlists (files, or URLs through the endpoint pipeline), compute the
//! coverage with `reach-allowlist`, and turn it into one check.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use reach_allowlist::coverage::{self, Coverage};
use reach_allowlist::set::{AddrCount, IpSet};
use reach_allowlist::{
    Allowlist, AllowlistFormat, Direction, Feed, FeedFilter, FeedFormat, ParseError,
};
use reach_http_probe::{EndpointProbe, Network, Target};
use reach_report::allowlist::{
    AllowlistDetails, AllowlistDiffDetails, FamilyCoverage, Gap, HostAddress, HostCoverage, Input,
};
use reach_report::{Check, CheckKind, Code, Details, Finding, Severity, Status};

use crate::args::{AllowlistArgs, DiffArgs, FeedArgs};
use crate::input::{self, Kind};

/// At most this many findings of one kind per check; the rest are counted.
const FINDINGS_CAP: usize = 200;
/// Largest feed fetched from a URL.
const FEED_CAP: u64 = 256 * 1024 * 1024;

/// Inputs read so far, and what went wrong reading them.
struct Reader<'a> {
    args: &'a FeedArgs,
    network: &'a Network,
    /// Every fetch and lookup of the check ends by then.
    deadline: tokio::time::Instant,
    /// `--timeout`.
    timeout: Duration,
    /// Why URLs may not be fetched (a network option is invalid).
    blocked: Option<String>,
    check: Check,
    /// Lines that did not parse: they void every figure (unless --lenient).
    parse_errors: Vec<ParseError>,
    /// Inputs that could not be used at all (unknown shape, invalid JSON,
    /// a filter the feed cannot apply), even with --lenient.
    fatal_errors: Vec<ParseError>,
    /// An input could not be read at all.
    unreadable: bool,
}

impl Reader<'_> {
    /// The text of a file, or of a URL fetched through the pipeline; `what`
    /// is the option that names it.
    async fn read(&mut self, source: &str, what: &str, kind: Kind) -> Option<String> {
        if is_url(source) {
            return self.fetch_text(source).await;
        }
        let result = input::read(
            source,
            what,
            kind,
            self.stream_wait(),
            input::Whole::new(kind),
        )
        .await;
        self.settle_read(result)
    }

    /// An allowlist file: a big plain list comes back parsed (it was read
    /// in pieces), anything else as text.
    async fn read_allowlist(&mut self, source: &str) -> Option<AllowlistText> {
        if is_url(source) {
            return self.fetch_text(source).await.map(AllowlistText::Text);
        }
        let sink = AllowlistSink::new(source, &self.args.allowlist_format);
        let result = input::read(
            source,
            "--allowlist",
            Kind::Allowlist,
            self.stream_wait(),
            sink,
        )
        .await;
        self.settle_read(result)
    }

    async fn fetch_text(&mut self, source: &str) -> Option<String> {
        if let Some(reason) = self.blocked.clone() {
            self.fail_input(format!("{source} not fetched: {reason}"));
            return None;
        }
        self.fetch(source).await
    }

    fn settle_read<T>(&mut self, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.fail_input(message);
                None
            }
        }
    }

    /// How long a FIFO or stdin may send nothing: `--timeout`.
    fn stream_wait(&self) -> Duration {
        self.timeout
    }

    async fn fetch(&mut self, url: &str) -> Option<String> {
        let target = match Target::parse(url, false) {
            Ok(t) => t,
            Err(e) => {
                self.fail_input(e.to_string());
                return None;
            }
        };
        let remaining = self
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        let probe = EndpointProbe {
            follow: true,
            keep_body: true,
            body_cap: FEED_CAP,
            ..EndpointProbe::new(target, remaining)
        };
        let outcome = reach_http_probe::probe(&probe, self.network).await;
        let failed = outcome
            .findings
            .iter()
            .any(|f| f.severity == Severity::Fail);
        // A feed cut at the cap would count as complete: never use one.
        let cut = outcome
            .findings
            .iter()
            .any(|f| f.code == Code::HttpBodyTruncated);
        for finding in outcome.findings {
            self.check.push(finding);
        }
        if failed {
            // The network said why; there is no feed to read, and no figure
            // to claim: an input error, not a gap.
            self.unreadable = true;
            self.check.status = Status::Error;
            return None;
        }
        if cut {
            self.fail_input(format!(
                "{url}: longer than {}, the most reach reads of a feed from a URL",
                input::size(FEED_CAP)
            ));
            return None;
        }
        self.text(url, outcome.body)
    }

    fn text(&mut self, source: &str, bytes: Vec<u8>) -> Option<String> {
        match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(e) => {
                let before = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = input::newlines(before) + 1;
                self.fail_input(format!("{source}:{line}: not UTF-8 text"));
                None
            }
        }
    }

    fn fail_input(&mut self, message: String) {
        self.check.push(Finding::new(Code::InputInvalid, message));
        self.check.status = Status::Error;
        self.unreadable = true;
    }

    /// Keeps what parsed and notes what did not.
    fn take<T>(&mut self, parsed: Parsed<T>) -> Option<(T, Input)> {
        if parsed.fatal {
            self.fatal_errors.extend(parsed.errors);
            self.unreadable = true;
        } else {
            self.parse_errors.extend(parsed.errors);
        }
        parsed.value
    }

    async fn feed(&mut self, source: &str, what: &str) -> Option<(Feed, Input)> {
        let text = self.read(source, what, Kind::Feed).await?;
        let args = owned(self.args);
        let owned_source = source.to_owned();
        let parsed = blocking(move || parse_feed(&args, &owned_source, &text)).await;
        self.take(parsed)
    }

    async fn allowlist(&mut self, source: &str) -> Option<(Allowlist, Input)> {
        let parsed = match self.read_allowlist(source).await? {
            AllowlistText::Parsed(parsed) => *parsed,
            AllowlistText::Text(text) => {
                let args = owned(self.args);
                let owned_source = source.to_owned();
                blocking(move || parse_allowlist(&args, &owned_source, &text)).await
            }
        };
        self.take(parsed)
    }

    /// Reports the parse errors: with `--lenient` as warnings (the lines
    /// are skipped), otherwise as input errors that void every figure.
    /// Returns whether figures may still be computed.
    fn settle_errors(&mut self) -> bool {
        for e in std::mem::take(&mut self.fatal_errors) {
            self.check.push(
                Finding::new(Code::InputInvalid, e.to_string())
                    .with("origin", e.origin.to_string())
                    .with("reason", &e.reason),
            );
            self.check.status = Status::Error;
        }
        let errors = std::mem::take(&mut self.parse_errors);
        let total = errors.len();
        let (severity, remedy) = if self.args.lenient {
            (
                Severity::Warn,
                "The line was skipped (--lenient); fix it to have it counted.",
            )
        } else {
            (Severity::Fail, Code::InputInvalid.info().remedy)
        };
        let push = |check: &mut Check, finding: Finding| {
            let mut finding = finding;
            finding.severity = severity;
            remedy.clone_into(&mut finding.remedy);
            check.push(finding);
        };
        for e in errors.iter().take(FINDINGS_CAP) {
            push(
                &mut self.check,
                Finding::new(Code::InputInvalid, e.to_string())
                    .with("origin", e.origin.to_string())
                    .with("text", &e.text)
                    .with("reason", &e.reason),
            );
        }
        if total > FINDINGS_CAP {
            push(
                &mut self.check,
                Finding::new(
                    Code::InputInvalid,
                    format!(
                        "… and {} more lines that do not parse",
                        total - FINDINGS_CAP
                    ),
                )
                .with("lines", total),
            );
        }
        if total > 0 && !self.args.lenient {
            self.check.status = Status::Error;
            return false;
        }
        !self.unreadable
    }
}

/// Adds `more` to the allowlists read so far (the first one is kept as
/// it is: no copy of a million entries).
fn merge(all: &mut Option<Allowlist>, more: Allowlist) {
    match all {
        Some(list) => list.append(more),
        None => *all = Some(more),
    }
}

/// What parsing one input produced.
struct Parsed<T> {
    value: Option<(T, Input)>,
    errors: Vec<ParseError>,
    /// The input could not be used at all (unknown shape, invalid JSON).
    fatal: bool,
}

impl<T> Parsed<T> {
    fn fatal(errors: Vec<ParseError>) -> Self {
        Parsed {
            value: None,
            errors,
            fatal: true,
        }
    }
}

/// Parses a published feed in the format asked for (or detected).
fn parse_feed(args: &FeedArgs, source: &str, text: &str) -> Parsed<Feed> {
    let filter = FeedFilter {
        services: args.services.clone(),
        regions: args.regions.clone(),
    };
    let format = match args.published_format.as_str() {
        "auto" => reach_allowlist::feeds::detect(text),
        name => FeedFormat::ALL.iter().copied().find(|f| f.name() == name),
    };
    let (feed, errors) = if format == Some(FeedFormat::Cidr) {
        if !filter.services.is_empty() || !filter.regions.is_empty() {
            return Parsed::fatal(vec![ParseError {
                origin: reach_allowlist::Origin {
                    source: source.into(),
                    line: 1,
                },
                text: String::new(),
                reason: "a plain CIDR list has no service or region labels to filter on \
                         (--service, --region)"
                    .to_owned(),
            }]);
        }
        reach_allowlist::text::parse_cidr_feed(source, text, args.lenient)
    } else {
        match reach_allowlist::feeds::parse_feed_json_partial(source, text, format, &filter) {
            Ok(parsed) => parsed,
            Err(errors) => return Parsed::fatal(errors),
        }
    };
    let input = Input {
        source: source.to_owned(),
        format: feed.format.name().to_owned(),
        version: feed.version.as_ref().map(|(k, v)| format!("{k}={v}")),
        entries: feed.entries.len() as u64,
    };
    Parsed {
        value: Some((feed, input)),
        errors,
        fatal: false,
    }
}

/// Parses an allowlist in the format asked for (or detected).
fn parse_allowlist(args: &FeedArgs, source: &str, text: &str) -> Parsed<Allowlist> {
    let format = match args.allowlist_format.as_str() {
        "auto" => reach_allowlist::firewall::detect(text),
        name => AllowlistFormat::ALL
            .iter()
            .copied()
            .find(|f| f.name() == name),
    };
    let (list, errors) = if format == Some(AllowlistFormat::Cidr) {
        reach_allowlist::text::parse_cidr_allowlist(source, text)
    } else {
        match reach_allowlist::firewall::parse_allowlist_rules_partial(
            source,
            text,
            format,
            args.direction(),
            args.port,
        ) {
            Ok(parsed) => parsed,
            Err(errors) => return Parsed::fatal(errors),
        }
    };
    allowlist_parsed(source, list, errors)
}

fn allowlist_parsed(source: &str, list: Allowlist, errors: Vec<ParseError>) -> Parsed<Allowlist> {
    let input = Input {
        source: source.to_owned(),
        format: list.format.name().to_owned(),
        version: None,
        entries: list.len() as u64,
    };
    Parsed {
        value: Some((list, input)),
        errors,
        fatal: false,
    }
}

/// Plain lists bigger than this are read in pieces, never whole: memory
/// then grows with the distinct entries, not with the file.
const STREAM_ABOVE: usize = 32 * 1024 * 1024;

/// An allowlist as read: text to parse, or a big plain list parsed as it
/// was read.
enum AllowlistText {
    Text(String),
    Parsed(Box<Parsed<Allowlist>>),
}

/// Reads an allowlist: whole, until it is bigger than [`STREAM_ABOVE`];
/// then, if its first bytes say it is a plain list, in pieces into a
/// [`reach_allowlist::text::PlainListReader`]. The format is told from
/// the first bytes, not the first line break: a JSON document (`nft -j`
/// prints one line) is always read whole.
struct AllowlistSink {
    source: String,
    /// `--allowlist-format`.
    format: String,
    text: String,
    list: Option<reach_allowlist::text::PlainListReader>,
    /// [`STREAM_ABOVE`], smaller for the fuzzer.
    stream_above: usize,
}

impl AllowlistSink {
    fn new(source: &str, format: &str) -> Self {
        AllowlistSink {
            source: source.to_owned(),
            format: format.to_owned(),
            text: String::new(),
            list: None,
            stream_above: STREAM_ABOVE,
        }
    }

    /// Whether a text whose start is `text` is read in pieces.
    fn streams(&self) -> bool {
        match self.format.as_str() {
            "cidr" => true,
            "auto" => {
                reach_allowlist::firewall::detect_start(&self.text) == Some(AllowlistFormat::Cidr)
            }
            _ => false,
        }
    }
}

impl input::Sink for AllowlistSink {
    type Output = AllowlistText;

    fn piece(&mut self, text: &str) -> Result<(), String> {
        if let Some(list) = &mut self.list {
            list.push(text);
            return Ok(());
        }
        if (self.text.len() + text.len()) as u64 > input::ALLOWLIST_WHOLE {
            return Err(format!(
                "larger than {}, the most reach reads of an allowlist that is not a plain list",
                input::size(input::ALLOWLIST_WHOLE)
            ));
        }
        self.text.push_str(text);
        if self.text.len() > self.stream_above && self.streams() {
            let mut list = reach_allowlist::text::PlainListReader::new(&self.source, true);
            list.push(&std::mem::take(&mut self.text));
            self.list = Some(list);
        }
        Ok(())
    }

    fn finish(self) -> AllowlistText {
        match self.list {
            Some(list) => {
                let list = list.finish();
                let errors = list.errors.clone();
                AllowlistText::Parsed(Box::new(allowlist_parsed(
                    &self.source,
                    list.allowlist(),
                    errors,
                )))
            }
            None => AllowlistText::Text(self.text),
        }
    }
}

/// For the fuzzer: an allowlist read through [`AllowlistSink`] from a
/// reader that gives `chunk` bytes at a time, in pieces of `piece` bytes,
/// going over to the plain-list reader above `stream_above` bytes.
pub(crate) fn fuzz_read(data: &[u8], chunk: usize, piece: usize, stream_above: usize) -> usize {
    let mut sink = AllowlistSink::new("f", "auto");
    sink.stream_above = stream_above;
    match input::read_bytes(data, chunk, piece, Kind::Allowlist, sink) {
        Ok(AllowlistText::Parsed(parsed)) => parsed.value.map_or(0, |(list, _)| list.len()),
        Ok(AllowlistText::Text(text)) => text.len(),
        Err(_) => 0,
    }
}

fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// An owned copy of the options parsing needs, for a blocking task.
fn owned(args: &FeedArgs) -> FeedArgs {
    FeedArgs {
        published: Vec::new(),
        published_format: args.published_format.clone(),
        services: args.services.clone(),
        regions: args.regions.clone(),
        allowlists: Vec::new(),
        allowlist_format: args.allowlist_format.clone(),
        direction: args.direction.clone(),
        port: args.port,
        lenient: args.lenient,
    }
}

/// Runs CPU-heavy work (parsing, coverage) off the async threads, so that
/// Ctrl-C, SIGTERM and the other checks are not held up by it.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    /// Dropped before the work ended: the run was interrupted, and the
    /// long loops of `reach-allowlist` may stop.
    struct GivenUp(bool);
    impl Drop for GivenUp {
        fn drop(&mut self) {
            if self.0 {
                reach_allowlist::cancel::request();
            }
        }
    }
    let mut waiting = GivenUp(true);
    let joined = tokio::task::spawn_blocking(work).await;
    waiting.0 = false;
    match joined {
        Ok(value) => value,
        // A parser that panicked is a bug: exit 3, never a silent pass.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is shutting down: nobody waits for this any more.
        Err(_) => std::future::pending().await,
    }
}

fn family(
    count_published: AddrCount,
    count_covered: AddrCount,
    uncovered: AddrCount,
) -> FamilyCoverage {
    FamilyCoverage {
        published: count_published.to_string(),
        covered: count_covered.to_string(),
        uncovered: uncovered.to_string(),
        coverage_percent: count_covered.percent_of(&count_published),
    }
}

/// `allow.txt:12 10.0.0.0/8`: a network entry, by index.
fn describe(allow: &Allowlist, index: usize) -> String {
    match allow.entries.get(index) {
        Some(e) => format!("{} {}", allow.origin(e.at), e.net),
        None => format!("entry {index}"),
    }
}

/// `allow.txt:3 *.example.com`: a name entry, by index.
fn describe_name(allow: &Allowlist, index: usize) -> String {
    match allow.names.get(index) {
        Some(e) => format!("{} {}", allow.origin(e.at), e.name),
        None => format!("name {index}"),
    }
}

fn cidr_strings(nets: &[IpNet]) -> Vec<String> {
    nets.iter()
        .map(reach_allowlist::text::cidr_string)
        .collect()
}

/// `reach allowlist`.
pub(crate) async fn run(
    args: &AllowlistArgs,
    network: &Network,
    timeout: Duration,
    blocked: Option<String>,
) -> Check {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let target = format!(
        "{} vs {}",
        args.feed.published.join(", "),
        args.feed.allowlists.join(", ")
    );
    let mut reader = Reader {
        args: &args.feed,
        network,
        deadline: tokio::time::Instant::now() + timeout,
        timeout,
        blocked,
        check: Check::new(CheckKind::Allowlist, target),
        parse_errors: Vec::new(),
        fatal_errors: Vec::new(),
        unreadable: false,
    };
    if args.feed.published.is_empty() || args.feed.allowlists.is_empty() {
        reader.fail_input(
            "give at least one --published FILE|URL and one --allowlist FILE".to_owned(),
        );
    }
    // Read (and fetch) every input, then parse them all at once: the two
    // sides of a big comparison parse in parallel.
    let mut feed_texts: Vec<(String, String)> = Vec::new();
    for source in &args.feed.published {
        if let Some(text) = reader.read(source, "--published", Kind::Feed).await {
            feed_texts.push((source.clone(), text));
        }
    }
    let mut allow_texts: Vec<(String, String)> = Vec::new();
    let mut streamed = Vec::new();
    for source in &args.feed.allowlists {
        match reader.read_allowlist(source).await {
            Some(AllowlistText::Parsed(parsed)) => streamed.push(*parsed),
            Some(AllowlistText::Text(text)) => allow_texts.push((source.clone(), text)),
            None => {}
        }
    }
    tracing::debug!(ms = reach_report::elapsed_ms(started), "inputs read");
    let feed_args = owned(&args.feed);
    let (feeds, lists) = blocking(move || {
        std::thread::scope(|scope| {
            let feeds = scope.spawn(|| {
                feed_texts
                    .iter()
                    .map(|(source, text)| parse_feed(&feed_args, source, text))
                    .collect::<Vec<_>>()
            });
            let lists: Vec<_> = allow_texts
                .iter()
                .map(|(source, text)| parse_allowlist(&feed_args, source, text))
                .collect();
            // A parser that panicked is a bug: exit 3, never a silent pass.
            let feeds = feeds
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (feeds, lists)
        })
    })
    .await;
    tracing::debug!(ms = reach_report::elapsed_ms(started), "inputs parsed");
    let mut published: Option<Feed> = None;
    let mut published_inputs = Vec::new();
    for parsed in feeds {
        if let Some((feed, input)) = reader.take(parsed) {
            match &mut published {
                Some(all) => all.append(feed),
                None => published = Some(feed),
            }
            published_inputs.push(input);
        }
    }
    let mut allow: Option<Allowlist> = None;
    let mut allow_inputs = Vec::new();
    for parsed in streamed.into_iter().chain(lists) {
        if let Some((list, input)) = reader.take(parsed) {
            merge(&mut allow, list);
            allow_inputs.push(input);
        }
    }
    tracing::debug!(
        ms = reach_report::elapsed_ms(started),
        "inputs read and parsed"
    );
    if published.as_ref().is_some_and(|f| f.entries.is_empty()) {
        // Nothing to cover would read as 100% covered: say why instead.
        let filters: Vec<String> = [
            ("--service", &args.feed.services),
            ("--region", &args.feed.regions),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(flag, v)| format!("{flag} {}", v.join(",")))
        .collect();
        reader.fail_input(if filters.is_empty() {
            "the published feed has no ranges".to_owned()
        } else {
            format!("no published range matches {}", filters.join(" "))
        });
    }
    let inputs = match (published, allow) {
        (Some(published), Some(allow)) => Some((published, allow)),
        _ if reader.unreadable || !reader.fatal_errors.is_empty() => None,
        _ => {
            // Unreachable: a side without inputs failed above. Never a
            // silent pass, though.
            reader.fail_input(
                "no coverage computed: a published feed and an allowlist are both needed"
                    .to_owned(),
            );
            None
        }
    };
    let (true, Some((published, allow))) = (reader.settle_errors(), inputs) else {
        let mut check = reader.check;
        check.duration_ms = reach_report::elapsed_ms(started);
        return check;
    };
    let mut check = reader.check;
    let port = args.feed.port;
    let (broad, broad6) = (args.broad_prefix, args.broad_prefix6);
    let direction = args.feed.direction_name().to_owned();
    let (services, regions) = (args.feed.services.clone(), args.feed.regions.clone());
    // The coverage, its findings and its figures (millions of CIDRs at
    // times) are computed off the async threads.
    let (allow, mut check, mut details) = blocking(move || {
        let result = coverage::coverage(&published, &allow, port, broad, broad6);
        drop(published);
        coverage_findings(&mut check, &result, &allow, (broad, broad6), port);
        let details = AllowlistDetails {
            published: published_inputs,
            allowlists: allow_inputs,
            direction,
            port,
            services,
            regions,
            ipv4: family(result.v4.published, result.v4.covered, result.v4.uncovered),
            ipv6: family(result.v6.published, result.v6.covered, result.v6.uncovered),
            uncovered: cidr_strings(&result.uncovered),
            gaps: result
                .gaps
                .iter()
                .map(|g| Gap {
                    service: g.service.clone(),
                    region: g.region.clone(),
                    addresses: g.addresses.to_string(),
                    cidrs: cidr_strings(&g.cidrs),
                })
                .collect(),
            hosts: Vec::new(),
        };
        (allow, check, details)
    })
    .await;
    tracing::debug!(ms = reach_report::elapsed_ms(started), "coverage computed");
    details.hosts = hosts(&mut check, &args.hosts, &allow, port, network, deadline).await;
    check.details = Details::Allowlist(Box::new(details));
    check.duration_ms = reach_report::elapsed_ms(started);
    check
}

/// The findings of a coverage; `broad` the IPv4 and IPv6 prefix lengths
/// below which an entry is overly broad.
fn coverage_findings(
    check: &mut Check,
    result: &Coverage,
    allow: &Allowlist,
    broad: (u8, u8),
    port: Option<u16>,
) {
    if !result.uncovered.is_empty() {
        let by_group: Vec<serde_json::Value> = result
            .gaps
            .iter()
            .take(FINDINGS_CAP)
            .map(|g| {
                serde_json::json!({
                    "service": g.service,
                    "region": g.region,
                    "addresses": g.addresses.to_string(),
                    "cidrs": cidr_strings(&g.cidrs.iter().take(20).copied().collect::<Vec<_>>()),
                })
            })
            .collect();
        let mut parts = Vec::new();
        for (name, fam) in [("IPv4", &result.v4), ("IPv6", &result.v6)] {
            if !fam.uncovered.is_zero() {
                parts.push(format!(
                    "{} of {} published {name} addresses ({:.2}%)",
                    fam.uncovered,
                    fam.published,
                    100.0 - fam.covered.percent_of(&fam.published)
                ));
            }
        }
        check.push(
            Finding::new(
                Code::AllowlistGap,
                format!(
                    "{} are not covered by the allowlist: {} CIDRs to add{}",
                    parts.join(" and "),
                    result.uncovered.len(),
                    match result.gaps.len() {
                        0 | 1 => String::new(),
                        n => format!(", in {n} service/region groups"),
                    }
                ),
            )
            .with(
                "uncovered",
                cidr_strings(
                    &result
                        .uncovered
                        .iter()
                        .take(FINDINGS_CAP)
                        .copied()
                        .collect::<Vec<_>>(),
                ),
            )
            .with("uncovered_cidrs", result.uncovered.len())
            .with("by_service", by_group),
        );
    }
    if !result.broad.is_empty() {
        let what = format!(
            "allowlist entries are wider than /{} (IPv4) or /{} (IPv6)",
            broad.0, broad.1
        );
        let entries = result.broad.iter().map(|&i| describe(allow, i));
        check.push(entries_finding(
            Code::AllowlistOverlyBroad,
            result.broad.len(),
            &what,
            entries,
        ));
    }
    if !result.stale.is_empty() {
        let entries = result.stale.iter().map(|&i| describe(allow, i));
        let what = "allowlist entries cover nothing the feed publishes";
        check.push(entries_finding(
            Code::AllowlistStaleEntry,
            result.stale.len(),
            what,
            entries,
        ));
    }
    if !allow.shadowed.is_empty() {
        let entries = allow.shadowed.iter().map(|s| {
            let by: Vec<String> = s.by.iter().map(ToString::to_string).collect();
            let counted = if s.counted.is_empty() {
                "nothing counted".to_owned()
            } else {
                format!("counted: {}", cidr_strings(&s.counted).join(", "))
            };
            format!(
                "{} {} is blocked in part or whole by line {} ({counted})",
                allow.origin(s.at),
                reach_allowlist::text::cidr_string(&s.net),
                by.join(", "),
            )
        });
        check.push(entries_finding(
            Code::AllowlistShadowedRule,
            allow.shadowed.len(),
            "ACCEPT rules are overridden by earlier DROP/REJECT rules of their chain",
            entries,
        ));
    }
    if !allow.not_counted.is_empty() {
        let entries = allow
            .not_counted
            .iter()
            .map(|n| format!("{} ({}): {}", allow.origin(n.at), n.rule, n.reason));
        let what = match port {
            Some(port) => format!(
                "accepting rules do not count: they do not provably admit new TCP connections to port {port}"
            ),
            None => "accepting rules do not count: they do not provably admit new TCP connections"
                .to_owned(),
        };
        check.push(entries_finding(
            Code::AllowlistRuleNotCounted,
            allow.not_counted.len(),
            &what,
            entries,
        ));
    }
    if allow.duplicate_lines > 0 {
        let entries = allow
            .duplicate_examples
            .iter()
            .map(|(dup, first)| format!("{} repeats line {}", allow.origin(*dup), first.line));
        let mut finding = entries_finding(
            Code::AllowlistRedundantEntry,
            usize::try_from(allow.duplicate_lines).unwrap_or(usize::MAX),
            "allowlist lines repeat an entry listed earlier (each counted once)",
            entries,
        );
        finding = finding.with("repeated_lines", allow.duplicate_lines);
        check.push(finding);
    }
    if !result.redundant.is_empty() {
        let entries = result
            .redundant
            .iter()
            .map(|&(i, by)| format!("{} (inside {})", describe(allow, i), describe(allow, by)));
        let what = "allowlist entries are contained in other entries";
        check.push(entries_finding(
            Code::AllowlistRedundantEntry,
            result.redundant.len(),
            what,
            entries,
        ));
    }
}

/// One finding for `count` allowlist entries: the first few in the
/// message, at most [`FINDINGS_CAP`] in the evidence.
fn entries_finding(
    code: Code,
    count: usize,
    what: &str,
    entries: impl Iterator<Item = String>,
) -> Finding {
    let entries: Vec<String> = entries.take(FINDINGS_CAP).collect();
    let first: Vec<&str> = entries.iter().take(5).map(String::as_str).collect();
    Finding::new(code, format!("{count} {what}: {}", first.join("; ")))
        .with("entries", &entries)
        .with("count", count)
}

/// `--host`: resolve through the pipeline's DNS phase, then check each
/// address. An FQDN entry naming the host covers it whatever it resolves to.
async fn hosts(
    check: &mut Check,
    names: &[String],
    allow: &Allowlist,
    port: Option<u16>,
    network: &Network,
    deadline: tokio::time::Instant,
) -> Vec<HostCoverage> {
    let mut out = Vec::new();
    // One deadline for all names: the check ends by --timeout.
    for name in names {
        let dns = network
            .resolver
            .resolve(name, port.unwrap_or(443), deadline)
            .await;
        let by_name = coverage::fqdn_covered(name, allow, port).map(|i| describe_name(allow, i));
        if by_name.is_none() {
            for mut finding in dns.findings {
                finding.message = format!("--host {name}: {}", finding.message);
                check.push(finding.with("host", name));
            }
        }
        let mut addresses = Vec::new();
        let mut uncovered: Vec<IpAddr> = Vec::new();
        for ip in &dns.addresses {
            let covered_by = by_name
                .clone()
                .or_else(|| coverage::host_covered(*ip, allow, port).map(|i| describe(allow, i)));
            if covered_by.is_none() {
                uncovered.push(*ip);
            }
            addresses.push(HostAddress {
                address: ip.to_string(),
                covered_by,
            });
        }
        if !uncovered.is_empty() {
            let list: Vec<String> = uncovered.iter().map(ToString::to_string).collect();
            check.push(
                Finding::new(
                    Code::AllowlistHostNotCovered,
                    format!(
                        "{name} resolves to {}, which no allowlist entry covers",
                        list.join(", ")
                    ),
                )
                .with("host", name)
                .with("addresses", list),
            );
        }
        out.push(HostCoverage {
            name: name.clone(),
            addresses,
        });
    }
    out
}

/// `reach allowlist diff OLD NEW`.
pub(crate) async fn diff(
    args: &DiffArgs,
    network: &Network,
    timeout: Duration,
    blocked: Option<String>,
) -> Check {
    let started = Instant::now();
    let mut reader = Reader {
        args: &args.feed,
        network,
        deadline: tokio::time::Instant::now() + timeout,
        timeout,
        blocked,
        check: Check::new(CheckKind::Allowlist, format!("{} → {}", args.old, args.new)),
        parse_errors: Vec::new(),
        fatal_errors: Vec::new(),
        unreadable: false,
    };
    let old = reader.feed(&args.old, "").await;
    let new = reader.feed(&args.new, "").await;
    let mut allow = None;
    for source in &args.feed.allowlists {
        if let Some((list, _)) = reader.allowlist(source).await {
            merge(&mut allow, list);
        }
    }
    if !reader.settle_errors() {
        let mut check = reader.check;
        check.duration_ms = reach_report::elapsed_ms(started);
        return check;
    }
    let mut check = reader.check;
    let (Some((old, old_input)), Some((new, new_input))) = (old, new) else {
        check.duration_ms = reach_report::elapsed_ms(started);
        return check;
    };
    let port = args.feed.port;
    let result = blocking(move || coverage::diff(&old, &new, allow.as_ref(), port)).await;
    let count = |set: &IpSet| set.count().to_string();
    let added = cidr_strings(&result.added.to_cidrs());
    let removed = cidr_strings(&result.removed.to_cidrs());
    let added_uncovered = result
        .added_uncovered
        .as_ref()
        .map(|s| cidr_strings(&s.to_cidrs()));
    if let Some(gaps) = added_uncovered.as_ref().filter(|g| !g.is_empty()) {
        check.push(
            Finding::new(
                Code::AllowlistGap,
                format!(
                    "the vendor added {} ranges that the allowlist does not cover: {}",
                    gaps.len(),
                    gaps.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                ),
            )
            .with(
                "uncovered",
                gaps.iter().take(FINDINGS_CAP).collect::<Vec<_>>(),
            ),
        );
    }
    check.details = Details::AllowlistDiff(Box::new(AllowlistDiffDetails {
        old: old_input,
        new: new_input,
        added_addresses: count(&result.added),
        removed_addresses: count(&result.removed),
        added,
        removed,
        added_uncovered,
    }));
    check.duration_ms = reach_report::elapsed_ms(started);
    check
}

impl FeedArgs {
    pub(crate) fn direction(&self) -> Direction {
        if self.direction == "ingress" {
            Direction::Ingress
        } else {
            Direction::Egress
        }
    }

    fn direction_name(&self) -> &str {
        &self.direction
    }
}
