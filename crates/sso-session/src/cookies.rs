//! The ways to seed the jar ([`crate::jar`]) with an existing session:
//! Netscape `cookies.txt` files (as `curl -c` and browser exporters write
//! them) and `--cookie NAME=VALUE@DOMAIN`.

/// A cookie to put in the jar before the first hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedCookie {
    pub name: String,
    pub value: String,
    /// Without a leading dot.
    pub domain: String,
    /// Sent to subdomains too (a `Domain` cookie) rather than host-only.
    pub include_subdomains: bool,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    /// Unix seconds; `None` for a session cookie.
    pub expires: Option<i64>,
    /// `Strict`, `Lax` or `None` as the browser stored it; `None` when the
    /// attribute was absent (Lax by default) or the source does not say.
    pub same_site: Option<String>,
    /// Unix seconds when the browser created it; `None` when the source
    /// does not say (taken as older than Chromium's 2-minute Lax+POST
    /// allowance).
    pub created: Option<i64>,
}

/// A line of input that is not a cookie: where, what, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieError {
    /// `file:line`, or `--cookie N`.
    pub origin: String,
    /// The offending text, its value part replaced: cookie values are
    /// secrets.
    pub text: String,
    pub reason: String,
}

impl std::fmt::Display for CookieError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (`{}`)", self.origin, self.reason, self.text)
    }
}

/// Reads a Netscape `cookies.txt`: seven tab-separated fields a line
/// (domain, include-subdomains `TRUE`/`FALSE`, path, secure, expiry in
/// Unix seconds with `0` for a session cookie, name, value). `#` starts a
/// comment, except `#HttpOnly_` which prefixes the domain of an `HttpOnly`
/// cookie. Returns every cookie and every bad line (with `source:line`).
pub fn parse_cookies_txt(source: &str, text: &str) -> (Vec<SeedCookie>, Vec<CookieError>) {
    let mut cookies = Vec::new();
    let mut errors = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let (line, http_only) = match line.strip_prefix("#HttpOnly_") {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        if line.trim().is_empty() || (!http_only && line.starts_with('#')) {
            continue;
        }
        match parse_txt_line(line, http_only) {
            Ok(cookie) => cookies.push(cookie),
            Err(reason) => errors.push(CookieError {
                origin: format!("{source}:{}", i + 1),
                text: mask_txt_line(line),
                reason,
            }),
        }
    }
    (cookies, errors)
}

fn parse_txt_line(line: &str, http_only: bool) -> Result<SeedCookie, String> {
    let fields: Vec<&str> = line.split('\t').collect();
    if fields.len() != 7 {
        return Err(format!(
            "expected 7 tab-separated fields (domain, subdomains, path, secure, expiry, name, value), found {}",
            fields.len()
        ));
    }
    let flag = |value: &str, what: &str| match value.to_ascii_uppercase().as_str() {
        "TRUE" => Ok(true),
        "FALSE" => Ok(false),
        _ => Err(format!("{what} must be TRUE or FALSE, not `{value}`")),
    };
    let domain = fields[0].trim();
    let include_subdomains = flag(fields[1], "the subdomains field")?;
    let path = fields[2];
    let secure = flag(fields[3], "the secure field")?;
    let expires = fields[4]
        .trim()
        .parse::<i64>()
        .map_err(|_| format!("the expiry must be Unix seconds, not `{}`", fields[4]))?;
    let name = fields[5];
    check_domain(domain)?;
    if name.is_empty() {
        return Err("the cookie has no name".to_owned());
    }
    if !path.starts_with('/') {
        return Err(format!("the path must start with `/`, not `{path}`"));
    }
    Ok(SeedCookie {
        name: name.to_owned(),
        value: fields[6].to_owned(),
        domain: domain.trim_start_matches('.').to_ascii_lowercase(),
        // A leading dot means a domain cookie whatever the flag says.
        include_subdomains: include_subdomains || domain.starts_with('.'),
        path: path.to_owned(),
        secure,
        http_only,
        expires: (expires > 0).then_some(expires),
        same_site: None,
        created: None,
    })
}

/// The line with its value field replaced.
fn mask_txt_line(line: &str) -> String {
    let fields: Vec<&str> = line.split('\t').collect();
    let text = if fields.len() >= 7 {
        let mut kept: Vec<&str> = fields[..6].to_vec();
        kept.push("[redacted]");
        kept.join("\\t")
    } else {
        // No value field to tell apart: keep only the first field.
        format!("{} …", fields.first().copied().unwrap_or(""))
    };
    text.chars().take(200).collect()
}

fn check_domain(domain: &str) -> Result<(), String> {
    let bare = domain.trim_start_matches('.');
    let valid = !bare.is_empty()
        && bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    if valid {
        Ok(())
    } else {
        Err(format!("`{domain}` is not a domain"))
    }
}

/// Reads `--cookie NAME=VALUE@DOMAIN`: a session cookie for `DOMAIN` and
/// its subdomains, path `/`. The last `@` separates the domain, so values
/// may hold `@`.
pub fn parse_cookie_arg(arg: &str) -> Result<SeedCookie, String> {
    let (pair, domain) = arg
        .rsplit_once('@')
        .ok_or("expected NAME=VALUE@DOMAIN (no `@DOMAIN`)")?;
    let (name, value) = pair
        .split_once('=')
        .ok_or("expected NAME=VALUE@DOMAIN (no `=`)")?;
    let name = name.trim();
    if name.is_empty() || name.contains([';', ' ', '\t']) {
        return Err(format!("`{name}` is not a cookie name"));
    }
    check_domain(domain.trim())?;
    Ok(SeedCookie {
        name: name.to_owned(),
        value: value.to_owned(),
        domain: domain.trim().trim_start_matches('.').to_ascii_lowercase(),
        include_subdomains: true,
        path: "/".to_owned(),
        secure: false,
        http_only: false,
        expires: None,
        same_site: None,
        created: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_txt_lines() {
        let text = "# Netscape HTTP Cookie File\n\
                    \n\
                    .okta.example\tTRUE\t/\tTRUE\t0\tsid\tabc\n\
                    #HttpOnly_idp.example\tFALSE\t/login\tFALSE\t4102444800\tDT\txyz\n\
                    # a comment\n\
                    bad line without tabs\n\
                    a.example\tMAYBE\t/\tFALSE\t0\tn\tv\n\
                    a.example\tFALSE\t/\tFALSE\tsoon\tn\tsecret-value\n";
        let (cookies, errors) = parse_cookies_txt("jar.txt", text);
        assert_eq!(cookies.len(), 2);
        assert_eq!(cookies[0].domain, "okta.example");
        assert!(cookies[0].include_subdomains && cookies[0].secure && !cookies[0].http_only);
        assert_eq!(cookies[0].expires, None);
        assert_eq!(cookies[1].name, "DT");
        assert!(cookies[1].http_only && !cookies[1].include_subdomains);
        assert_eq!(cookies[1].path, "/login");
        assert_eq!(cookies[1].expires, Some(4_102_444_800));
        let origins: Vec<&str> = errors.iter().map(|e| e.origin.as_str()).collect();
        assert_eq!(origins, ["jar.txt:6", "jar.txt:7", "jar.txt:8"]);
        assert!(errors[1].reason.contains("TRUE or FALSE"));
        assert!(errors[2].reason.contains("Unix seconds"));
        // Values never reach a message.
        assert!(
            !errors[2].to_string().contains("secret-value"),
            "{}",
            errors[2]
        );
    }

    #[test]
    fn cookie_args() {
        let c = parse_cookie_arg("sid=a@b=c@.Okta.example").unwrap();
        assert_eq!((c.name.as_str(), c.value.as_str()), ("sid", "a@b=c"));
        assert_eq!(c.domain, "okta.example");
        for bad in [
            "sid=x",
            "x@okta.example",
            "=v@d.example",
            "s=v@",
            "s=v@bad domain",
        ] {
            assert!(parse_cookie_arg(bad).is_err(), "{bad}");
        }
    }
}
