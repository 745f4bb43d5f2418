//! Command-line arguments: every command's flags, and the help that teaches
//! them.

// Doc comments here are the `--help` text, where backticks would show.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use reach_allowlist::emit::EmitFormat;
use reach_allowlist::read::FormatChoice;
use reach_allowlist::{AllowlistFormat, Direction, FeedFormat};
use reach_oauth::token::ClientAuth;
use reach_report::CheckKind;
use reach_sso::browser::BrowserSpec;

const AFTER_HELP: &str = "\
Exit codes:
  0  no check failed
  1  a check failed (or warned, with --strict)
  2  usage or input error (a malformed target, flag value or file)
  3  internal error

Examples:
  reach check https://api.hubapi.com/ https://login.microsoftonline.com/
  reach check --targets-file endpoints.txt --json -o report.json
  reach sso --cookie-jar cookies.txt --compare-clean \\
    https://app.example.com/login
  reach explain tcp.timeout
  reach explain --list";

/// reach: can this machine reach that service, and will it be let in?
#[derive(Debug, Clone, Parser)]
// Help wraps at the terminal's width, but no wider than 100 columns (what
// clap 5 will do by default): long lines are hard to read.
#[command(
    name = "reach",
    version,
    about,
    after_help = AFTER_HELP,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum Command {
    /// Check endpoints: DNS → TCP → proxy → TLS → HTTP, each phase timed and diagnosed.
    #[command(after_help = CHECK_HELP)]
    Check(Box<CheckArgs>),
    /// Does the allowlist cover the vendor's published IP ranges?
    #[command(after_help = ALLOWLIST_HELP, args_conflicts_with_subcommands = true)]
    Allowlist(Box<AllowlistCommand>),
    /// Follow a login (SSO) chain hop by hop: which IdP, which cookies, which account.
    #[command(after_help = SSO_HELP)]
    Sso(Box<SsoArgs>),
    /// OAuth: lint an install URL's scopes, try a token grant, check a discovery document.
    #[command(subcommand)]
    Oauth(OauthCommand),
    /// Run every check of a preflight file (TOML) at once: endpoints,
    /// allowlists, SSO chains, OAuth.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Serve checks to Prometheus: /probe?target=URL&module=NAME, /probe?check=NAME, /metrics.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Explain a finding code, or find the codes about a word.
    Explain(ExplainArgs),
    /// Print the JSON Schema of the report (reach.report/v1).
    Schema,
}

impl Command {
    /// The network options of a command that touches the network.
    pub(crate) fn network(&self) -> Option<&NetworkArgs> {
        match self {
            Command::Check(args) => Some(&args.network),
            Command::Sso(args) => Some(&args.network),
            Command::Allowlist(command) => Some(match &command.action {
                Some(AllowlistAction::Diff(d)) => &d.network,
                None => &command.args.network,
            }),
            Command::Oauth(OauthCommand::Token(args)) => Some(&args.network),
            Command::Oauth(OauthCommand::Discover(args)) => Some(&args.network),
            Command::Oauth(OauthCommand::Scopes(_))
            | Command::Run(_)
            | Command::Serve(_)
            | Command::Explain(_)
            | Command::Schema => None,
        }
    }
}

const CHECK_HELP: &str = "\
TARGET is a URL (https://host[:port]/path, http://...), host:port (TCP only,
plus TLS with --tls), or a bare host name (meaning https://host/).

Phases and the findings they produce (reach explain CODE tells more):
  dns    dns.nxdomain, dns.no_records, dns.servfail, dns.refused, dns.timeout,
         dns.unreachable (port closed or no network: at once)
  tcp    tcp.refused, tcp.timeout (SYN dropped: likely a firewall),
         tcp.unreachable
  proxy  proxy.connect_failed, proxy.auth_required, proxy.denied,
         proxy.upstream_failed
  tls    tls.cert_expired, tls.cert_not_yet_valid, tls.cert_expiring_soon,
         tls.hostname_mismatch, tls.untrusted_issuer, tls.incomplete_chain,
         tls.protocol_too_old, tls.client_cert_required, tls.intercepted,
         tls.weak_certificate, tls.name_only_in_common_name,
         tls.ca_as_server_cert, tls.handshake_failed
  http   http.status_error, http.timeout, http.redirect_loop,
         http.too_many_redirects, http.https_downgrade, http.wrong_scheme,
         http.protocol_error

Examples:
  reach check example.com                          # https://example.com/
  reach check -L http://example.com/               # follow redirects
  reach check smtp.example.com:587                 # TCP only
  reach check --resolve api.example.com:443:10.0.0.5 https://api.example.com/
  reach check --proxy http://user:pass@proxy.corp:3128 https://api.example.com/
  reach check --dns-server 1.1.1.1 --json https://example.com/
  echo https://example.com/ | reach check --targets-file -";

const ALLOWLIST_HELP: &str = "\
Computes exactly, for IPv4 and IPv6: published addresses covered and
uncovered, coverage %, the uncovered set as minimal CIDRs (by the feed's
service and region), allowlist entries that cover nothing published
(stale), entries inside other entries (redundant), and overly broad ones.

Feeds (--published-format auto detects them): cidr (one CIDR or address a
line), aws (ip-ranges.json), azure (Service Tags), gcp (cloud.json,
goog.json), github (meta), atlassian (ip-ranges.json).
Allowlists (--allowlist-format auto detects them): cidr (CIDRs, addresses,
FQDNs and *.domain entries), iptables (iptables-save, ip6tables-save),
nft-json (nft -j list ruleset), aws-sg (describe-security-groups).

Examples:
  reach allowlist --published ip-ranges.json --service AMAZON \\
    --region eu-west-1 --allowlist egress.txt
  reach allowlist --published https://ip-ranges.amazonaws.com/ip-ranges.json \\
    --allowlist iptables.rules --port 443 --host api.vendor.example
  reach allowlist diff ip-ranges-old.json ip-ranges-new.json \\
    --allowlist egress.txt
  reach allowlist --published ip-ranges.json --allowlist iptables.rules \\
    --port 443 --emit iptables -o add.rules";

const SSO_HELP: &str = "\
Walks the chain without a browser, as a browser would: 3xx Location (a 303,
and a 301/302 after a POST, become a GET), <meta http-equiv=refresh>, and
forms that submit themselves (SAML HTTP-POST binding, OIDC form_post). A
cookie jar (RFC 6265) is carried across hops. The chain ends at a sign-in
page (it needs a person), at an IdP error, or at the application, and every
hop gets the DNS/TCP/proxy/TLS/HTTP diagnosis of `reach check`.

Findings: sso.auto_login (an existing IdP session chose the account
silently), sso.no_reauth_param, sso.idp_error, sso.redirect_loop,
sso.too_many_redirects, sso.https_downgrade, sso.cookie_samesite,
sso.unreachable_hop. Identity claims of an ID token or SAML assertion that
pass by are shown, unverified; tokens, codes and cookie values never are.

Examples:
  reach sso https://app.example.com/login
  reach sso --cookie-jar cookies.txt --compare-clean \\
    https://app.example.com/login
  reach sso --cookies-from-browser chrome:'Profile 1' \\
    https://app.example.com/login
  reach sso --cookie 'sid=...@acme.okta.com' \\
    'https://acme.okta.com/oauth2/v1/authorize?client_id=...'
  reach sso --resolve app.example.com:443:10.0.0.5 https://app.example.com/sso";

/// `reach sso`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SsoArgs {
    /// The URL that starts the login: the app's sign-in link, an IdP
    /// authorize URL, a SAML SSO URL.
    #[arg(value_name = "URL")]
    pub(crate) url: String,
    /// Hops at most before the chain counts as endless.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) max_hops: u32,
    /// Seed the jar with an existing session: a Netscape cookies.txt (as
    /// `curl -c`, yt-dlp and browser cookie exporters write it). A
    /// browser's own cookie database is read with --cookies-from-browser.
    #[arg(long, value_name = "FILE")]
    pub(crate) cookie_jar: Option<PathBuf>,
    /// Seed the jar with the session of a browser profile:
    /// BROWSER[:PROFILE], as yt-dlp takes it.
    ///
    /// BROWSER is chromium, chrome, edge, brave or firefox. PROFILE is a
    /// profile's name ("Default", "Profile 1", a Firefox profile's name as
    /// profiles.ini has it) or a path: a profile folder, a user-data folder
    /// (its Default profile), or the cookie database itself (Chromium's
    /// `Cookies`, Firefox's `cookies.sqlite`). Without PROFILE: Firefox's
    /// default profile, the most recently used one of a Chromium browser.
    /// Profiles are looked for under ~/.config (chromium, google-chrome,
    /// microsoft-edge, BraveSoftware/Brave-Browser) and ~/.mozilla/firefox.
    ///
    /// The database is read from a copy, so the browser may stay open.
    /// Chromium's values are decrypted on this machine: with its fixed key
    /// (v10, what --password-store=basic writes) or with the key it keeps in
    /// the Secret Service (v11, fetched with `secret-tool` from
    /// libsecret-tools). Cookie values stay private: the report names
    /// cookies, never their values. Linux only for now (macOS's Keychain and
    /// Windows' DPAPI keys are not read yet).
    #[arg(long, value_name = "BROWSER[:PROFILE]", value_parser = clap::value_parser!(BrowserSpec))]
    pub(crate) cookies_from_browser: Option<BrowserSpec>,
    /// Add a cookie to the jar: NAME=VALUE@DOMAIN, sent to DOMAIN and its
    /// subdomains (repeatable).
    #[arg(long = "cookie", value_name = "NAME=VALUE@DOMAIN")]
    pub(crate) cookies: Vec<String>,
    /// Also walk the chain with an empty jar (a private window) and show
    /// the first hop where the two runs part.
    #[arg(long)]
    pub(crate) compare_clean: bool,
    /// Warn when a certificate of a hop expires within this many days.
    #[arg(long, default_value_t = 14, value_name = "DAYS")]
    pub(crate) expiry_warn_days: i64,
    #[command(flatten)]
    pub(crate) network: NetworkArgs,
}

const RUN_HELP: &str = "\
The file lists checks as TOML arrays of tables, in any order and number:
[[endpoint]], [[allowlist]], [[sso]], [[oauth_scopes]], [[oauth_token]],
[[oauth_discover]]. Their keys are the command's long flags with `_` for `-`
(url, max_hops, cookie_jar, client_secret_env, …; lists for repeatable
flags), plus `name`. [defaults] holds the network options every check
shares: timeout, dns_servers, resolve, ca_files, client_cert, client_key,
proxy, noproxy; an entry may override them. Relative paths are relative to
the file's folder; ${NAME} in a string is the environment variable NAME.
Unknown keys are errors naming file:line:column. [modules.NAME] tables are
reach serve's endpoint options (see reach serve --help); reach run skips them.

Example:
  [defaults]
  timeout = \"10s\"
  proxy = \"http://proxy.corp:3128\"

  [[endpoint]]
  name = \"HubSpot API\"
  url = \"https://api.hubapi.com/\"

  [[sso]]
  url = \"https://app.example.com/login\"
  cookie_jar = \"cookies.txt\"

  [[oauth_token]]
  token_url = \"https://api.hubapi.com/oauth/v1/token\"
  client_id = \"…\"
  client_secret_env = \"HS_SECRET\"
  auth = \"post\"

Examples:
  reach run preflight.toml
  reach run preflight.toml --format junit -o reach.xml
  reach run preflight.toml --only endpoint --only allowlist --concurrency 64";

const SERVE_HELP: &str = "\
A Prometheus exporter, as blackbox_exporter (same /probe URLs, same metric
names where they mean the same) that also says why: reach_finding{code,
severity} for every finding, and allowlist, SSO and OAuth checks.

  GET /probe?target=URL&module=NAME  an endpoint check of URL with module
                                     NAME's options (default: `default`)
  GET /probe?check=NAME              the config's check named NAME
  GET /metrics                       the exporter's own metrics

The config is a preflight file (see reach run --help): its checks, by name,
and [modules.NAME] tables whose keys are those of an [[endpoint]] entry
without `url`. A scrape's X-Prometheus-Scrape-Timeout-Seconds shortens the
probe's --timeout. SIGTERM finishes the probes in flight, then exits.

Example config:
  [modules.default]
  timeout = \"5s\"
  [modules.internal]
  ca_files = [\"corp-ca.pem\"]
  proxy = \"http://proxy.corp:3128\"
  [[allowlist]]
  name = \"github-egress\"
  published = [\"https://api.github.com/meta\"]
  allowlist = [\"egress.txt\"]

Prometheus (the multi-target pattern):
  - job_name: reach
    metrics_path: /probe
    params: {module: [default]}
    static_configs: [{targets: [\"https://api.hubapi.com/\"]}]
    relabel_configs:
      - {source_labels: [__address__], target_label: __param_target}
      - {source_labels: [__param_target], target_label: instance}
      - {target_label: __address__, replacement: \"127.0.0.1:9116\"}

Examples:
  reach serve --config reach.toml
  reach serve --listen 0.0.0.0:9116 --concurrency 200";

/// `reach serve`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    /// Modules ([modules.NAME]) and checks, as a preflight file holds them.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Where to listen (loopback unless you say otherwise).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9116")]
    pub(crate) listen: String,
    /// Probes at once; more wait, up to their scrape's timeout.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) concurrency: u32,
}

/// `reach run`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// The preflight file.
    #[arg(value_name = "PREFLIGHT.toml")]
    pub(crate) file: PathBuf,
    /// Checks run at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) concurrency: u32,
    /// Run only checks of this kind (repeatable).
    #[arg(long, value_name = "KIND", value_parser = kind())]
    pub(crate) only: Vec<CheckKind>,
    /// Skip checks of this kind (repeatable).
    #[arg(long, value_name = "KIND", value_parser = kind())]
    pub(crate) skip: Vec<CheckKind>,
}

/// A check kind by its name (`oauth_token`), from the one list of kinds.
fn kind() -> impl clap::builder::TypedValueParser<Value = CheckKind> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(CheckKind::ALL.map(CheckKind::name)).map(|name| {
        CheckKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .expect("the parser accepts only the kinds' names")
    })
}

/// A value the library names (`FromStr`), offered as `names`: clap lists
/// and checks them, the library's own parser makes the value.
fn parsed<T>(names: Vec<&'static str>) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
{
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(names).map(|name| {
        name.parse::<T>()
            .ok()
            .expect("the library parses every name it lists")
    })
}

/// `auto` and the names of `all`: a format choice's values.
fn choices<F: Copy>(all: &[F], name: fn(F) -> &'static str) -> Vec<&'static str> {
    std::iter::once("auto")
        .chain(all.iter().map(|f| name(*f)))
        .collect()
}

/// `--grant`: which grant `reach oauth token` performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub(crate) enum GrantType {
    ClientCredentials,
    RefreshToken,
}

/// `reach oauth …`.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum OauthCommand {
    /// Lint an install / authorize URL against the app's configured scopes
    /// and redirect URLs; print the corrected URL.
    #[command(after_help = OAUTH_SCOPES_HELP)]
    Scopes(Box<OauthScopesArgs>),
    /// Perform a client_credentials or refresh_token grant and say why it
    /// failed, or what it granted (never the token).
    #[command(after_help = OAUTH_TOKEN_HELP)]
    Token(Box<OauthTokenArgs>),
    /// Check an OpenID / OAuth server's discovery document: issuer, every
    /// endpoint reachable, JWKS, supported scopes.
    #[command(after_help = OAUTH_DISCOVER_HELP)]
    Discover(Box<OauthDiscoverArgs>),
}

const OAUTH_SCOPES_HELP: &str = "\
Rules (the platform's own messages in quotes):
  oauth.scope.required_missing         a required scope missing from scope:
                                       \"the provided scopes are insufficient\"
  oauth.scope.required_in_optional     a required scope in optional_scope
  oauth.scope.not_configured           a scope the app does not configure:
                                       \"mismatch between the scopes in the
                                       install URL and the app's configured
                                       scopes\"
  oauth.scope.conditional_in_optional  a conditionally required scope in
                                       optional_scope
  oauth.scope.optional_in_scope        an optional scope in scope
  oauth.redirect_uri_mismatch          redirect_uri not configured

The app's configuration: --app app-hsmeta.json (config.auth) or public-app.json
(auth), or the flags. Lists are space- or comma-separated, flags repeatable.

Examples:
  reach oauth scopes --app src/app/app-hsmeta.json \\
    --url 'https://app.hubspot.com/oauth/authorize?client_id=…&scope=oauth'
  reach oauth scopes --required 'oauth crm.objects.contacts.read' \\
    --optional tickets --redirect-url https://app.example.com/callback \\
    --url \"$INSTALL_URL\"";

const OAUTH_TOKEN_HELP: &str = "\
Secrets come from environment variables or files, never from the command line
(where `ps` and shell history would show them). A public client (PKCE and
native apps, RFC 6749 §2.1, RFC 8252) has no secret: --auth none sends its
client_id alone, for --grant refresh_token (client_credentials is for
confidential clients only).

Errors (RFC 6749 §5.2 and vendor shapes such as HubSpot's BAD_REFRESH_TOKEN):
  oauth.token.invalid_client       wrong client ID or secret (\"Failed to
                                   receive access token\"), or a public
                                   client the server has as confidential
  oauth.token.invalid_grant        the refresh token expired or was revoked:
                                   re-authorize
  oauth.token.invalid_scope        a requested scope is refused
  oauth.token.unauthorized_client  the client may not use this grant
  oauth.token.error                anything else (status, error, request id
                                   kept)
  oauth.token.scope_reduced        a token, but with fewer scopes than
                                   requested

Examples:
  CLIENT_SECRET=… reach oauth token \\
    --token-url https://login.example.com/oauth2/token --client-id my-app \\
    --client-secret-env CLIENT_SECRET --scope 'read write'
  reach oauth token --token-url https://api.hubapi.com/oauth/v1/token \\
    --auth post --client-id … --client-secret-env HS_SECRET \\
    --grant refresh_token --refresh-token-env HS_REFRESH
  reach oauth token --token-url https://acme.okta.com/oauth2/v1/token \\
    --auth none --client-id my-native-app --grant refresh_token \\
    --refresh-token-file refresh.txt";

const OAUTH_DISCOVER_HELP: &str = "\
Fetches ISSUER/.well-known/openid-configuration (then the RFC 8414
/.well-known/oauth-authorization-server form), checks that its issuer equals
ISSUER (oauth.discovery.issuer_mismatch), reaches every endpoint it names
through the same pipeline as `reach check`, reads the JWKS
(oauth.discovery.jwks_invalid) and checks --scope against scopes_supported.

Examples:
  reach oauth discover https://login.microsoftonline.com/TENANT/v2.0
  reach oauth discover https://acme.okta.com --scope openid --scope email";

/// `reach oauth scopes`.
#[derive(Debug, Clone, Args)]
pub(crate) struct OauthScopesArgs {
    /// The install / authorize URL to lint.
    #[arg(long, value_name = "INSTALL_URL")]
    pub(crate) url: String,
    /// The app's configuration file (app-hsmeta.json or public-app.json).
    #[arg(long, value_name = "APP.json", conflicts_with_all = ["required", "conditional", "optional", "redirect_urls"])]
    pub(crate) app: Option<PathBuf>,
    /// Required scopes (space- or comma-separated, repeatable).
    #[arg(long, value_name = "SCOPES")]
    pub(crate) required: Vec<String>,
    /// Conditionally required scopes.
    #[arg(long, value_name = "SCOPES")]
    pub(crate) conditional: Vec<String>,
    /// Optional scopes.
    #[arg(long, value_name = "SCOPES")]
    pub(crate) optional: Vec<String>,
    /// A configured redirect URL (repeatable).
    #[arg(long = "redirect-url", value_name = "URL")]
    pub(crate) redirect_urls: Vec<String>,
}

/// `reach oauth token`.
#[derive(Debug, Clone, Args)]
pub(crate) struct OauthTokenArgs {
    /// The token endpoint.
    #[arg(long, value_name = "URL")]
    pub(crate) token_url: String,
    #[arg(long, value_name = "ID")]
    pub(crate) client_id: String,
    /// Read the client secret from this environment variable (not with
    /// --auth none).
    #[arg(long, value_name = "VAR", conflicts_with = "client_secret_file")]
    pub(crate) client_secret_env: Option<String>,
    /// Read the client secret from this file (first line).
    #[arg(long, value_name = "FILE")]
    pub(crate) client_secret_file: Option<PathBuf>,
    /// The grant to perform.
    #[arg(long, default_value = "client_credentials")]
    pub(crate) grant: GrantType,
    /// Read the refresh token from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "refresh_token_file")]
    pub(crate) refresh_token_env: Option<String>,
    /// Read the refresh token from this file (first line).
    #[arg(long, value_name = "FILE")]
    pub(crate) refresh_token_file: Option<PathBuf>,
    /// Scopes to request (space-separated, repeatable).
    #[arg(long, value_name = "SCOPES")]
    pub(crate) scope: Vec<String>,
    /// Client authentication: basic (secret in the Authorization header),
    /// post (secret in the form) or none (a public client: client_id in the
    /// form, no secret).
    #[arg(long, default_value = "basic", value_parser = parsed::<ClientAuth>(ClientAuth::ALL.iter().map(|a| a.name()).collect()))]
    pub(crate) auth: ClientAuth,
    /// Warn when the token endpoint's certificate expires within this many days.
    #[arg(long, default_value_t = 14, value_name = "DAYS")]
    pub(crate) expiry_warn_days: i64,
    #[command(flatten)]
    pub(crate) network: NetworkArgs,
}

/// `reach oauth discover`.
#[derive(Debug, Clone, Args)]
pub(crate) struct OauthDiscoverArgs {
    /// The issuer URL (https://login.example.com/tenant/v2.0).
    #[arg(value_name = "ISSUER")]
    pub(crate) issuer: String,
    /// A scope the client will request: checked against scopes_supported (repeatable).
    #[arg(long, value_name = "SCOPES")]
    pub(crate) scope: Vec<String>,
    /// Warn when a certificate expires within this many days.
    #[arg(long, default_value_t = 14, value_name = "DAYS")]
    pub(crate) expiry_warn_days: i64,
    #[command(flatten)]
    pub(crate) network: NetworkArgs,
}

/// `reach allowlist` and its `diff`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AllowlistCommand {
    #[command(subcommand)]
    pub(crate) action: Option<AllowlistAction>,
    #[command(flatten)]
    pub(crate) args: AllowlistArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum AllowlistAction {
    /// What a vendor added and removed between two snapshots of its feed,
    /// and which added ranges the --allowlist does not cover.
    Diff(DiffArgs),
}

/// What is compared, shared by `allowlist` and `allowlist diff`.
#[derive(Debug, Clone, Args)]
pub(crate) struct FeedArgs {
    /// The vendor's published ranges: a file or an http(s) URL (repeatable).
    #[arg(long = "published", value_name = "FILE|URL")]
    pub(crate) published: Vec<String>,
    /// Format of --published: auto, cidr, aws, azure, gcp, github, atlassian.
    #[arg(long, default_value = "auto", value_parser = parsed::<FormatChoice<FeedFormat>>(choices(FeedFormat::ALL, FeedFormat::name)))]
    pub(crate) published_format: FormatChoice<FeedFormat>,
    /// Keep only the feed's entries of this service / tag (repeatable),
    /// e.g. AMAZON, AzureCloud.westeurope, hooks.
    #[arg(long = "service", value_name = "NAME")]
    pub(crate) services: Vec<String>,
    /// Keep only the feed's entries of this region / scope (repeatable).
    #[arg(long = "region", value_name = "NAME")]
    pub(crate) regions: Vec<String>,
    /// The allowlist: a file (repeatable).
    #[arg(long = "allowlist", value_name = "FILE")]
    pub(crate) allowlists: Vec<String>,
    /// Format of --allowlist: auto, cidr, iptables, nft-json, aws-sg.
    #[arg(long, default_value = "auto", value_parser = parsed::<FormatChoice<AllowlistFormat>>(choices(AllowlistFormat::ALL, AllowlistFormat::name)))]
    pub(crate) allowlist_format: FormatChoice<AllowlistFormat>,
    /// Which side of a firewall rule is the vendor: egress (destination) or ingress (source).
    #[arg(long, default_value = "egress", value_parser = parsed::<Direction>(Direction::ALL.iter().map(|d| d.name()).collect()))]
    pub(crate) direction: Direction,
    /// Only rules that allow this port count.
    #[arg(long, value_name = "N")]
    pub(crate) port: Option<u16>,
    /// Skip lines that do not parse (with warnings) instead of failing.
    #[arg(long)]
    pub(crate) lenient: bool,
    /// Write the ranges to add instead of the report: cidr (one a line),
    /// iptables, nft, or aws-sg (JSON for aws ec2
    /// authorize-security-group-egress --ip-permissions). Rules allow TCP
    /// to --port (every port without it). The exit code stays the report's.
    #[arg(long, value_name = "FORMAT", conflicts_with_all = ["json", "format"], value_parser = parsed::<EmitFormat>(EmitFormat::ALL.iter().map(|f| f.name()).collect()))]
    pub(crate) emit: Option<EmitFormat>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct AllowlistArgs {
    #[command(flatten)]
    pub(crate) feed: FeedArgs,
    /// Resolve NAME and check that every address is covered (repeatable);
    /// FQDN and *.domain allowlist entries count.
    #[arg(long = "host", value_name = "NAME")]
    pub(crate) hosts: Vec<String>,
    /// IPv4 entries shorter than this prefix are overly broad.
    #[arg(long, value_name = "LEN", default_value_t = 8, value_parser = clap::value_parser!(u8).range(0..=32))]
    pub(crate) broad_prefix: u8,
    /// IPv6 entries shorter than this prefix are overly broad.
    #[arg(long, value_name = "LEN", default_value_t = 32, value_parser = clap::value_parser!(u8).range(0..=128))]
    pub(crate) broad_prefix6: u8,
    #[command(flatten)]
    pub(crate) network: NetworkArgs,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DiffArgs {
    /// The older snapshot of the feed (file or URL).
    pub(crate) old: String,
    /// The newer snapshot of the feed (file or URL).
    pub(crate) new: String,
    #[command(flatten)]
    pub(crate) feed: FeedArgs,
    #[command(flatten)]
    pub(crate) network: NetworkArgs,
}

/// Options every command shares: output and verdict. Global, so clap
/// appends them to every subcommand's arguments: under their own heading
/// they come after the command's own options instead of among them.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Output options")]
pub(crate) struct OutputArgs {
    /// Report format [default: text].
    #[arg(long, value_enum, global = true)]
    pub(crate) format: Option<Format>,
    /// Short for --format json.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Write the report to FILE (atomically: temp file + rename) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE", global = true)]
    pub(crate) output: Option<PathBuf>,
    /// Deadline of each check, every phase and redirect included (e.g. 10s, 500ms, 2m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, global = true)]
    pub(crate) timeout: Duration,
    /// Warnings fail the run (exit code 1).
    #[arg(long, global = true)]
    pub(crate) strict: bool,
    /// No colours (also when NO_COLOR is set or stdout is not a terminal).
    #[arg(long, global = true)]
    pub(crate) no_color: bool,
    /// Show secrets (tokens, codes, cookies, credentials) in the report.
    #[arg(long, global = true)]
    pub(crate) no_redact: bool,
    /// Text output: only checks that did not pass, and the summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Text output: every phase in detail, as curl -v and openssl s_client show it (DNS
    /// answers, TCP attempts, the proxy, TLS and each certificate, request and response headers).
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
}

impl OutputArgs {
    pub(crate) fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.format.unwrap_or(Format::Text)
        }
    }

    /// Options given together that ask for different things: a usage
    /// error that names them (`--json` with `--format md`).
    pub(crate) fn clash(&self) -> Option<String> {
        let format = self.format.filter(|f| self.json && *f != Format::Json)?;
        let name = format.to_possible_value()?.get_name().to_owned();
        Some(format!(
            "--json and --format {name} ask for different report formats: give one of them"
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
    /// Markdown, for a ticket.
    Md,
    /// One self-contained HTML page (inline CSS and SVG, no script).
    Html,
    /// JUnit XML, for CI.
    Junit,
    /// OpenMetrics text: probe_success, reach_finding… (node_exporter's textfile collector).
    Openmetrics,
    /// One JSON object per check, a line each, written as each check ends.
    Jsonl,
}

/// The network options every command that touches the network shares.
/// Flattened last into each command, so their heading follows the
/// command's own options.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Network options")]
pub(crate) struct NetworkArgs {
    /// Ask this DNS server instead of the system resolver (IP or IP:PORT; repeatable).
    #[arg(long = "dns-server", value_name = "IP[:PORT]")]
    pub(crate) dns_servers: Vec<String>,
    /// Use ADDR for HOST:PORT and skip DNS, as curl's --resolve (repeatable; PORT may be *).
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR")]
    pub(crate) resolve: Vec<String>,
    /// Trust the CA certificates in this PEM file, in addition to the system store (repeatable).
    #[arg(long = "ca-file", value_name = "PEM")]
    pub(crate) ca_files: Vec<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; needs --client-key.
    #[arg(long, value_name = "PEM", requires = "client_key")]
    pub(crate) client_cert: Option<PathBuf>,
    /// Private key (PEM) of --client-cert.
    #[arg(long, value_name = "PEM", requires = "client_cert")]
    pub(crate) client_key: Option<PathBuf>,
    /// Go through this HTTP proxy: http://[user:pass@]host[:port] (CONNECT for
    /// https). Without it, https_proxy/HTTPS_PROXY, http_proxy/HTTP_PROXY and
    /// all_proxy/ALL_PROXY are read, as curl does.
    #[arg(long, value_name = "URL")]
    pub(crate) proxy: Option<String>,
    /// Hosts that bypass the proxy, comma-separated (names match their
    /// subdomains; IPs and CIDRs; * for all). Overrides NO_PROXY/no_proxy.
    #[arg(long, value_name = "LIST")]
    pub(crate) noproxy: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CheckArgs {
    /// URLs, host:port pairs or host names to check.
    #[arg(value_name = "TARGET")]
    pub(crate) targets: Vec<String>,
    /// Read more targets from FILE, one a line (# comments; - is stdin).
    #[arg(long, value_name = "FILE")]
    pub(crate) targets_file: Option<PathBuf>,
    /// How many targets are checked at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) concurrency: u32,
    /// HTTP method.
    #[arg(short = 'X', long, default_value = "GET")]
    pub(crate) method: String,
    /// Extra request header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// Follow redirects, recording every hop.
    #[arg(short = 'L', long)]
    pub(crate) follow: bool,
    /// Redirects followed at most (with --follow).
    #[arg(long, default_value_t = 10)]
    pub(crate) max_redirects: usize,
    /// For host:port targets, also do the TLS handshake.
    #[arg(long)]
    pub(crate) tls: bool,
    /// Body bytes read at most per response.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub(crate) max_body: u64,
    /// Warn when a certificate expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 14)]
    pub(crate) expiry_warn_days: i64,
    #[command(flatten)]
    pub(crate) network: NetworkArgs,
}

const EXPLAIN_HELP: &str = "\
Examples:
  reach explain tcp.timeout     what a code means, and the fix
  reach explain timeout         the codes about timeouts
  reach explain proxy auth      codes with every word
  reach explain 'Failed to receive access token'
                                a pasted error: the causes, the fix and
                                the reach command that checks it
  pbpaste | reach explain --message -
  reach explain --list          every code, and the vendor topics
  reach explain --json dns.timeout

A few words match the start of a word in a code's name or text. A longer
text, or one no code's words match, is matched against the catalogue of
error texts users paste (reach's own, curl, OpenSSL, Java, .NET, Python,
Node, Entra AADSTS, Okta, HubSpot, UiPath; any of their languages); a code
it names (AADSTS50011, curl: (60), verify error:num=20) matches first.
With --json: one object for a code, an array for a list or search, and
{query, matches} for a text. Exit 2 for an unknown code, 1 when nothing
is close enough.";

#[derive(Debug, Clone, Args)]
#[command(after_help = EXPLAIN_HELP)]
pub(crate) struct ExplainArgs {
    /// A finding code (tcp.timeout), words to search the codes for, or an
    /// error text as you got it (quote it).
    #[arg(
        value_name = "CODE|TEXT",
        required_unless_present_any = ["list", "message"],
        conflicts_with = "list"
    )]
    pub(crate) words: Vec<String>,
    /// Read the error text from FILE (`-` is stdin), as pasted: log lines,
    /// any language.
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["list", "words"])]
    pub(crate) message: Option<std::path::PathBuf>,
    /// List every code with its severity and summary.
    #[arg(long)]
    pub(crate) list: bool,
}

/// Parses `10s`, `500ms`, `2m`, `1h` or a bare number of seconds.
pub(crate) fn parse_duration(value: &str) -> Result<Duration, String> {
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{value}` is not a duration (e.g. 10s, 500ms, 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{value}` (use ms, s, m or h)"
            ));
        }
    };
    if !(seconds > 0.0 && seconds <= 86_400.0) {
        return Err(format!("`{value}` must be above 0 and at most 24h"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        for bad in ["", "s", "10x", "-1s", "0", "100h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
