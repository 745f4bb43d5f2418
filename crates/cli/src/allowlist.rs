//! `reach allowlist` and `reach allowlist diff`: read the feeds and the
//! allowlists (files, or URLs through the endpoint pipeline), hand them to
//! `reach-allowlist` (parsing, coverage, findings), and put what it says
//! in one check.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reach_allowlist::emit::{self, Additions, EmitFormat};
use reach_allowlist::findings::{self, Asked};
use reach_allowlist::read::{self, AllowlistText, ListReader, Parsed, ReadOptions};
use reach_allowlist::{Allowlist, Feed, FeedFilter, coverage};
use reach_http_probe::{EndpointProbe, Network, Target};
use reach_report::allowlist::{HostCoverage, Input};
use reach_report::{Check, CheckKind, Code, Details, Finding, Report, Severity, Status};

use crate::args::{AllowlistAction, AllowlistArgs, AllowlistCommand, Command, DiffArgs, FeedArgs};
use crate::input::{self, Kind};

/// Largest feed fetched from a URL.
const FEED_CAP: u64 = 256 * 1024 * 1024;

/// The options parsing needs, as clap parsed them into the crate's types.
fn read_options(args: &FeedArgs) -> ReadOptions {
    ReadOptions {
        published_format: args.published_format,
        filter: FeedFilter {
            services: args.services.clone(),
            regions: args.regions.clone(),
        },
        allowlist_format: args.allowlist_format,
        direction: args.direction,
        port: args.port,
        lenient: args.lenient,
    }
}

/// Why a check may not use the network (a network option is invalid),
/// and whether one of its findings said so: a bad value no finding named
/// is an error of its own (see `checks_for`), so that nothing is lost.
#[derive(Debug)]
pub(crate) struct Blocked {
    reason: String,
    said: AtomicBool,
}

impl Blocked {
    pub(crate) fn new(reason: String) -> Blocked {
        Blocked {
            reason,
            said: AtomicBool::new(false),
        }
    }

    /// The reason, for the finding that says it.
    fn say(&self) -> &str {
        self.said.store(true, Ordering::Relaxed);
        &self.reason
    }

    /// Whether a finding said it.
    pub(crate) fn said(&self) -> bool {
        self.said.load(Ordering::Relaxed)
    }
}

/// Inputs read so far, and what went wrong reading them.
struct Reader<'a> {
    options: ReadOptions,
    network: &'a Network,
    /// Every fetch and lookup of the check ends by then.
    deadline: tokio::time::Instant,
    /// `--timeout`: also how long a FIFO or stdin may send nothing.
    timeout: Duration,
    /// Why URLs may not be fetched (a network option is invalid).
    blocked: Option<&'a Blocked>,
    check: Check,
    /// What did not parse.
    errors: read::Errors,
    /// An input could not be read at all.
    unreadable: bool,
}

/// An allowlist file read through [`ListReader`]: a big plain list in
/// pieces, anything else whole.
struct Pieces(ListReader);

impl input::Sink for Pieces {
    type Output = AllowlistText;

    fn piece(&mut self, text: &str) -> Result<(), String> {
        self.0.push(text).map_err(|_| {
            format!(
                "larger than {}, the most reach reads of an allowlist that is not a plain list",
                input::size(input::ALLOWLIST_WHOLE)
            )
        })
    }

    fn finish(self) -> AllowlistText {
        self.0.finish()
    }
}

impl<'a> Reader<'a> {
    fn new(
        args: &FeedArgs,
        network: &'a Network,
        blocked: Option<&'a Blocked>,
        timeout: Duration,
        check: Check,
    ) -> Self {
        Reader {
            options: read_options(args),
            network,
            deadline: tokio::time::Instant::now() + timeout,
            timeout,
            blocked,
            check,
            errors: read::Errors::default(),
            unreadable: false,
        }
    }

    /// A file read into `sink`, or a URL fetched through the pipeline
    /// (its text made an output by `fetched`); `what` is the option that
    /// names it.
    async fn read<S: input::Sink>(
        &mut self,
        source: &str,
        what: &str,
        kind: Kind,
        sink: S,
        fetched: fn(String) -> S::Output,
    ) -> Option<S::Output> {
        if source.starts_with("http://") || source.starts_with("https://") {
            if let Some(blocked) = self.blocked {
                self.fail_input(format!("{source} not fetched: {}", blocked.say()));
                return None;
            }
            return self.fetch(source).await.map(fetched);
        }
        match input::read(source, what, kind, self.timeout, sink).await {
            Ok(value) => Some(value),
            Err(message) => {
                self.fail_input(message);
                None
            }
        }
    }

    async fn feed_text(&mut self, source: &str, what: &str) -> Option<String> {
        let sink = input::Whole::new(Kind::Feed);
        self.read(source, what, Kind::Feed, sink, |text| text).await
    }

    /// An allowlist: a big plain list comes back parsed, anything else as
    /// text.
    async fn allowlist_text(&mut self, source: &str) -> Option<AllowlistText> {
        let format = self.options.allowlist_format;
        let sink = Pieces(ListReader::new(source, format, input::ALLOWLIST_WHOLE));
        self.read(
            source,
            "--allowlist",
            Kind::Allowlist,
            sink,
            AllowlistText::Text,
        )
        .await
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
            let most = input::size(FEED_CAP);
            self.fail_input(format!(
                "{url}: longer than {most}, the most reach reads of a feed from a URL"
            ));
            return None;
        }
        match String::from_utf8(outcome.body) {
            Ok(text) => Some(text),
            Err(e) => {
                let before = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = input::newlines(before) + 1;
                self.fail_input(format!("{url}:{line}: not UTF-8 text"));
                None
            }
        }
    }

    fn fail_input(&mut self, message: String) {
        self.check.push(Finding::new(Code::InputInvalid, message));
        self.check.status = Status::Error;
        self.unreadable = true;
    }

    async fn feed(&mut self, source: &str, what: &str) -> Option<(Feed, Input)> {
        let text = self.feed_text(source, what).await?;
        let (options, source) = (self.options.clone(), source.to_owned());
        let parsed = blocking(move || read::parse_feed(&options, &source, &text)).await;
        self.errors.take(parsed)
    }

    async fn allowlist(&mut self, source: &str) -> Option<(Allowlist, Input)> {
        let parsed = match self.allowlist_text(source).await? {
            AllowlistText::Parsed(parsed) => *parsed,
            AllowlistText::Text(text) => {
                let (options, source) = (self.options.clone(), source.to_owned());
                blocking(move || read::parse_allowlist(&options, &source, &text)).await
            }
        };
        self.errors.take(parsed)
    }

    /// Reports the parse errors: with `--lenient` as warnings (the lines
    /// are skipped), otherwise as input errors that void every figure.
    /// Returns whether figures may still be computed.
    fn settle_errors(&mut self) -> bool {
        let (found, void) = self.errors.settle(self.options.lenient);
        for finding in found {
            self.check.push(finding);
        }
        if void {
            self.check.status = Status::Error;
        }
        !void && !self.unreadable
    }

    /// The check so far, timed from `started`.
    fn finish(self, started: Instant) -> Check {
        let mut check = self.check;
        check.duration_ms = reach_report::elapsed_ms(started);
        check
    }
}

/// For the fuzzer: an allowlist read through the CLI's reader (reads of
/// `chunk` bytes, pieces of `piece` bytes) into [`ListReader`], which goes
/// over to the plain-list reader above `stream_above` bytes.
pub(crate) fn fuzz_read(data: &[u8], chunk: usize, piece: usize, stream_above: usize) -> usize {
    let list = ListReader::new("f", read::FormatChoice::Auto, input::ALLOWLIST_WHOLE);
    let sink = Pieces(list.stream_above(stream_above));
    match input::read_bytes(data, chunk, piece, Kind::Allowlist, sink) {
        Ok(AllowlistText::Parsed(parsed)) => parsed.value.map_or(0, |(list, _)| list.len()),
        Ok(AllowlistText::Text(text)) => text.len(),
        Err(_) => 0,
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
    match input::joined_task(joined) {
        Some(value) => value,
        // The runtime is shutting down: nobody waits for this any more.
        None => std::future::pending().await,
    }
}

/// `reach allowlist`.
pub(crate) async fn run(
    args: &AllowlistArgs,
    network: &Network,
    timeout: Duration,
    blocked: Option<&Blocked>,
) -> Check {
    let started = Instant::now();
    let feed = &args.feed;
    let target = format!(
        "{} vs {}",
        feed.published.join(", "),
        feed.allowlists.join(", ")
    );
    let check = Check::new(CheckKind::Allowlist, target);
    let mut reader = Reader::new(feed, network, blocked, timeout, check);
    if feed.published.is_empty() || feed.allowlists.is_empty() {
        reader.fail_input(
            "give at least one --published FILE|URL and one --allowlist FILE".to_owned(),
        );
    }
    let (feeds, lists) = read_all(&mut reader, feed, started).await;
    let (published, published_inputs) = reader.errors.gather(feeds, Feed::append);
    let (allow, allow_inputs) = reader.errors.gather(lists, Allowlist::append);
    tracing::debug!(
        ms = reach_report::elapsed_ms(started),
        "inputs read and parsed"
    );
    if let Some(why) = published
        .as_ref()
        .and_then(|f| read::nothing_published(f, &reader.options.filter))
    {
        reader.fail_input(why);
    }
    let inputs = match (published, allow) {
        (Some(published), Some(allow)) => Some((published, allow)),
        _ if reader.unreadable || !reader.errors.fatal.is_empty() => None,
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
        return reader.finish(started);
    };
    let asked = Asked {
        published: published_inputs,
        allowlists: allow_inputs,
        direction: reader.options.direction,
        port: feed.port,
        services: feed.services.clone(),
        regions: feed.regions.clone(),
    };
    let deadline = reader.deadline;
    let mut check = reader.check;
    let broad = (args.broad_prefix, args.broad_prefix6);
    // The coverage, its findings and its figures (millions of CIDRs at
    // times) are computed off the async threads.
    let (allow, (found, mut details)) = blocking(move || {
        let report = findings::coverage_report(published, &allow, broad, asked);
        (allow, report)
    })
    .await;
    for finding in found {
        check.push(finding);
    }
    tracing::debug!(ms = reach_report::elapsed_ms(started), "coverage computed");
    details.hosts = match blocked {
        // The lookups would go through the network options that are bad.
        Some(blocked) => {
            for name in &args.hosts {
                check.push(Finding::new(
                    Code::InputInvalid,
                    format!("--host {name} not looked up: {}", blocked.say()),
                ));
                check.status = Status::Error;
            }
            Vec::new()
        }
        None => {
            hosts(
                &mut check,
                &args.hosts,
                network,
                deadline,
                &allow,
                feed.port,
            )
            .await
        }
    };
    check.details = Details::Allowlist(Box::new(details));
    check.duration_ms = reach_report::elapsed_ms(started);
    check
}

/// Reads (and fetches) every input, then parses them all at once: the two
/// sides of a big comparison parse in parallel. A big plain list comes
/// parsed from its reading.
async fn read_all(
    reader: &mut Reader<'_>,
    feed: &FeedArgs,
    started: Instant,
) -> (Vec<Parsed<Feed>>, Vec<Parsed<Allowlist>>) {
    let mut feed_texts: Vec<(String, String)> = Vec::new();
    for source in &feed.published {
        if let Some(text) = reader.feed_text(source, "--published").await {
            feed_texts.push((source.clone(), text));
        }
    }
    let mut allow_texts: Vec<(String, String)> = Vec::new();
    let mut streamed = Vec::new();
    for source in &feed.allowlists {
        match reader.allowlist_text(source).await {
            Some(AllowlistText::Parsed(parsed)) => streamed.push(*parsed),
            Some(AllowlistText::Text(text)) => allow_texts.push((source.clone(), text)),
            None => {}
        }
    }
    tracing::debug!(ms = reach_report::elapsed_ms(started), "inputs read");
    let options = reader.options.clone();
    let (feeds, lists) =
        blocking(move || read::parse_all(&options, &feed_texts, &allow_texts)).await;
    tracing::debug!(ms = reach_report::elapsed_ms(started), "inputs parsed");
    (feeds, streamed.into_iter().chain(lists).collect())
}

/// `--host`: resolve through the pipeline's DNS phase, then check each
/// address. One deadline for all names: the check ends by --timeout.
async fn hosts(
    check: &mut Check,
    names: &[String],
    network: &Network,
    deadline: tokio::time::Instant,
    allow: &Allowlist,
    port: Option<u16>,
) -> Vec<HostCoverage> {
    let mut out = Vec::new();
    for name in names {
        let dns = network
            .resolver
            .resolve(name, port.unwrap_or(443), deadline)
            .await;
        // An FQDN entry naming the host covers it whatever it resolves to.
        if coverage::fqdn_covered(name, allow, port).is_none() {
            for mut finding in dns.findings {
                finding.message = format!("--host {name}: {}", finding.message);
                check.push(finding.with("host", name));
            }
        }
        let (host, finding) = findings::host_coverage(name, &dns.addresses, allow, port);
        if let Some(finding) = finding {
            check.push(finding);
        }
        out.push(host);
    }
    out
}

/// `reach allowlist diff OLD NEW`.
pub(crate) async fn diff(
    args: &DiffArgs,
    network: &Network,
    timeout: Duration,
    blocked: Option<&Blocked>,
) -> Check {
    let started = Instant::now();
    let check = Check::new(CheckKind::Allowlist, format!("{} → {}", args.old, args.new));
    let mut reader = Reader::new(&args.feed, network, blocked, timeout, check);
    let old = reader.feed(&args.old, "").await;
    let new = reader.feed(&args.new, "").await;
    // The first allowlist is kept as it is: no copy of a million entries.
    let mut allow: Option<Allowlist> = None;
    for source in &args.feed.allowlists {
        if let Some((list, _)) = reader.allowlist(source).await {
            match &mut allow {
                Some(all) => all.append(list),
                None => allow = Some(list),
            }
        }
    }
    if !reader.settle_errors() {
        return reader.finish(started);
    }
    let (Some((old, old_input)), Some((new, new_input))) = (old, new) else {
        return reader.finish(started);
    };
    let mut check = reader.check;
    let port = args.feed.port;
    let result = blocking(move || coverage::diff(&old, &new, allow.as_ref(), port)).await;
    let (finding, details) = findings::diff_report(&result, old_input, new_input);
    if let Some(finding) = finding {
        check.push(finding);
    }
    check.details = Details::AllowlistDiff(Box::new(details));
    check.duration_ms = reach_report::elapsed_ms(started);
    check
}

/// How many rules of one family a security group holds by default, each
/// way (an AWS quota that can be raised).
const AWS_SG_RULES: usize = 60;

/// `--emit FORMAT`: the ranges to add in the firewall's syntax, written in
/// place of the report; `None` without `--emit`, and empty when no
/// coverage was computed (stderr says why, and the exit code is 2).
pub(crate) fn emitted(command: &Command, report: &Report) -> Option<String> {
    let Command::Allowlist(command) = command else {
        return None;
    };
    let AllowlistCommand { action, args } = command.as_ref();
    let feed = match action {
        Some(AllowlistAction::Diff(d)) => &d.feed,
        None => &args.feed,
    };
    let format = feed.emit?;
    let tool = format!("reach {}", env!("CARGO_PKG_VERSION"));
    let additions = report.checks.iter().find_map(|c| match &c.details {
        Details::Allowlist(d) => Some(Additions::from_coverage(tool.clone(), d)),
        Details::AllowlistDiff(d) => Some(Additions::from_diff(
            tool.clone(),
            d,
            feed.direction,
            feed.port,
        )),
        _ => None,
    });
    let Some(additions) = additions else {
        return Some(String::new());
    };
    if format == EmitFormat::AwsSg {
        warn_sg_quota(&additions);
    }
    Some(emit::render(format, &additions))
}

/// Says on stderr when a family has more ranges than a security group
/// holds by default.
fn warn_sg_quota(additions: &Additions) {
    let all = additions.groups.iter().flat_map(|g| &g.cidrs);
    let v6 = all
        .clone()
        .filter(|n| matches!(n, ipnet::IpNet::V6(_)))
        .count();
    let v4 = all.count() - v6;
    for (n, family) in [(v4, "IPv4"), (v6, "IPv6")] {
        if n > AWS_SG_RULES {
            crate::to_stderr(&format!(
                "reach: note: {n} {family} ranges to add: a security group holds {AWS_SG_RULES} \
                 {family} rules each way by default (an AWS quota that can be raised); spread \
                 them over several groups or ask for more"
            ));
        }
    }
}
