//! `reach-lab`: an in-process loopback lab that `reach`'s end-to-end tests and `cargo xtask demo`
//! point the `reach` binary at.
//!
//! [`Lab::start`] brings up, on `127.0.0.1` (and `[::1]` where available), every server a test
//! needs, each on a port picked by the kernel, and returns once all of them are listening. The
//! lab runs its own multi-threaded tokio runtime on a background thread, so it can be used from
//! plain blocking `#[test]` functions (and from async ones: nothing in `start` or `drop` needs
//! to run inside a runtime). Dropping the [`Lab`] stops everything, with a bounded wait.
//!
//! Nothing here touches the network beyond loopback.
//!
//! # Endpoints ([`Lab`] fields)
//!
//! | field | what listens there |
//! |---|---|
//! | `dns` | authoritative DNS for `lab.test.`, UDP and TCP on the same port |
//! | `http` | the HTTP app, plain HTTP/1.1 (HTTP/2 with prior knowledge also works) |
//! | `http6` | the same app on `[::1]` (on the same port number as `http` when it was free), `None` without IPv6 loopback |
//! | `https` | the same app over TLS, ALPN `h2` and `http/1.1` |
//! | `refused` | nothing listens: connecting is refused (RST). The port is held by a bound, non-listening socket, so nothing else can take it while the lab lives |
//! | `dropping` | a listener whose accept queue is full, so SYNs are dropped and a connect times out |
//! | `silent` | accepts connections and never sends a byte (held until the lab is dropped) |
//! | `tls` | a [`TlsLab`]: TLS servers with certificate and protocol problems ([below](#tls-servers-labtls)) |
//! | `proxy` | a [`ProxyLab`]: HTTP forward proxies ([below](#proxies-labproxy)) |
//! | `hostile` | a [`HostileLab`]: HTTP/1.1 servers that misbehave on purpose ([below](#hostile-http-servers-labhostile)) |
//! | `malformed` | a [`MalformedLab`]: DNS, TLS and HTTP/1.1 peers that break their protocol on purpose ([below](#malformed-peers-labmalformed)) |
//! | `idp` | an identity provider, an app that signs in with it and an OAuth 2.0 authorization server, plain HTTP/1.1, told apart by `Host` ([below](#identity-provider-and-app-labidp), [authorization server](#authorization-server-labidp-host-authastest)) |
//!
//! `ca_pem_path` / [`Lab::ca_pem`] give the lab CA (ECDSA P-256, path length constraint 1, so
//! it can issue the intermediate of `tls.full_chain`). The HTTPS leaf it issued is valid from
//! yesterday for one year, for the DNS names `good.lab.test`, `alias.lab.test`,
//! `v4only.lab.test`, `localhost` and the IP address `127.0.0.1`. The PKI is generated afresh
//! for every lab, so nothing can expire in the repository.
//!
//! # TLS servers (`lab.tls`)
//!
//! All on `127.0.0.1`. The ones marked *app* serve the HTTP app (routes below) with ALPN `h2`
//! and `http/1.1`, behind a leaf for the same names as the `https` leaf. "Lab CA" is the CA in
//! `ca_pem_path`.
//!
//! | field | what listens there |
//! |---|---|
//! | `expired` | app; leaf issued by the lab CA, valid from 400 days ago until yesterday |
//! | `not_yet_valid` | app; leaf issued by the lab CA, valid from 2 days from now for one year |
//! | `expiring_soon` | app; leaf issued by the lab CA, valid from yesterday until 5 days from now (verifies) |
//! | `self_signed` | app; a self-signed leaf (its own issuer, not a CA) |
//! | `untrusted_root` | app; leaf ← `CN=Untrusted Intermediate CA` ← `CN=Untrusted Root CA` (not the lab CA); sends leaf + intermediate |
//! | `incomplete_chain` | app; leaf issued by `CN=Lab Intermediate CA` (itself issued by the lab CA), sent **alone**; the leaf has an Authority Information Access extension with the `caIssuers` URI `http://pki.lab.test/intermediate.crt` (which nothing serves) |
//! | `full_chain` | app; a leaf issued by `CN=Lab Intermediate CA`, sent with the intermediate (verifies with the lab CA as root) |
//! | `client_auth` | app, with the `https` leaf; requires a client certificate issued by the lab CA (rustls `WebPkiClientVerifier`). Under TLS 1.3 a client without one, or with the wrong one, typically completes its handshake and then gets an alert on its first read |
//! | `client_cert_path`, `client_key_path` | files: a client certificate issued by the lab CA (`CN=reach lab client`, EKU clientAuth) and its PKCS#8 key, PEM |
//! | `wrong_client_cert_path`, `wrong_client_key_path` | files: a self-signed client certificate (`CN=reach lab wrong client`) and its key, PEM |
//! | `intercepted` | app; leaf issued by a CA with the subject `CN=Zscaler Root CA, O=Zscaler Inc., OU=Zscaler Inc.`, as a TLS-intercepting corporate proxy presents |
//! | `intercept_ca_pem_path` | file: that intercepting CA's certificate, PEM, for tests that trust it like a corporate machine |
//! | `alert` | raw TCP: reads the first TLS record (at most 16 KiB and 2 s), answers the fatal `handshake_failure` alert `15 03 03 00 02 02 28` and closes |
//! | `legacy` | raw TCP, "speaks only TLS 1.0": reads the first record (bounded as above), then answers **any** `ClientHello` with one record `16 03 01 00 2e` holding a `ServerHello` (`server_version` `03 01` at byte offset 9 of the reply, 32 random bytes, empty session id, cipher suite `00 2f` `TLS_RSA_WITH_AES_128_CBC_SHA`, null compression, no extensions) and a `ServerHelloDone` `0e 00 00 00`; then keeps the connection open up to 2 s (or until the client closes) and closes. It always picks TLS 1.0 |
//! | `legacy11` | the same, but the `ServerHello` picks TLS 1.1 (`server_version` `03 02`; the record version stays `03 01`) |
//! | `huge_chain` | app; the `https` leaf followed by copies of the lab CA certificate, 80 KiB or more in all, so the `Certificate` handshake message is larger than the 64 KiB rustls (and most TLS clients) accept |
//!
//! # Proxies (`lab.proxy`)
//!
//! Hand-written HTTP/1.1 proxies on `127.0.0.1`. Each reads a request head of at most 64 KiB
//! (else `431`) within 5 s (else `408`) and answers garbage with `400`. Destinations are
//! restricted to loopback: an IP literal must be `127.0.0.1` or `::1`, and `localhost` and every
//! `*.lab.test` name map to `127.0.0.1` (no DNS); any other destination gets `403 Forbidden`.
//! A destination that refuses gets `502`, one that does not answer within 5 s `504`.
//!
//! | field | behaviour |
//! |---|---|
//! | `open` | `CONNECT host:port HTTP/1.1` → `HTTP/1.1 200 Connection established`, then a byte tunnel both ways until either side closes or the lab stops. An absolute-form request (`GET http://host:port/path HTTP/1.1`, `http` only, port 80 by default) is sent on in origin form with the client's headers (minus `Proxy-Authorization` and `Proxy-Connection`) and the connection is then relayed verbatim, so later requests on it reach the same destination. Anything else (origin-form targets, `https://` URLs) is `400` |
//! | `auth` | like `open`, but requires `Proxy-Authorization: Basic dXNlcjpwYXNz` (`user:pass`); otherwise `407 Proxy Authentication Required` with `Proxy-Authenticate: Basic realm="lab"` and closes |
//! | `deny` | `403 Forbidden` (short text body, `Content-Length`) to every request, then closes |
//! | `close` | reads the request head, then closes without answering (the client reads EOF) |
//! | `endless` | reads the request head, answers `HTTP/1.1 200 Connection established\r\n`, then header lines `X-Pad-{n}: aaa…` of 1 KiB each, never the empty line that ends the head, until the client closes (at most 16 MiB), then closes |
//!
//! # Hostile HTTP servers (`lab.hostile`)
//!
//! Raw-TCP HTTP/1.1 servers on `127.0.0.1`. Each first reads the request head (bounded as for
//! the proxies; without one the connection is just closed), then misbehaves. A failed write
//! (the client went away) ends the connection; dropping the lab ends them all.
//!
//! | field | response |
//! |---|---|
//! | `trickle` | `HTTP/1.1 200 OK\r\n`, then the header `X-Trickle: aaa…` one byte every 100 ms, forever (the head never ends) |
//! | `huge_header` | `HTTP/1.1 200 OK\r\n`, one header `X-Huge:` whose value is 1 MiB of `a`, `\r\n\r\n`, close |
//! | `many_headers` | `HTTP/1.1 200 OK\r\n`, `Content-Length: 0`, then 10,000 headers `X-0: v` … `X-9999: v`, `\r\n`, close |
//! | `endless_body` | `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n` (no length: the body runs to close), then `x` in 64 KiB writes as fast as the client reads, forever |
//! | `slow_body` | `HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n`, then one byte of body every 200 ms |
//!
//! # Malformed peers (`lab.malformed`)
//!
//! Servers on `127.0.0.1`, each on its own port, that break DNS, TLS or HTTP/1.1 at the byte
//! level, for robustness tests. Everything they send is fixed: the "pseudo-random" bytes come
//! from `SplitMix64` with a fixed seed, the same in every lab and every run.
//!
//! The DNS ones listen on UDP and TCP on the same port (TCP: the usual 2-byte length prefix on
//! every message, up to 64 queries per connection, closed after 5 s without a complete query).
//! They only answer queries: a message shorter than the 12-byte header, or with the QR bit
//! set, gets nothing. "The response header" below is: the query's ID, flags QR and AA with the
//! query's opcode and RD, RA, rcode NOERROR, `QDCOUNT` 1, `ANCOUNT` 1, `NSCOUNT` and `ARCOUNT`
//! 0 (for a standard query with RD: `ID ID 85 80 00 01 00 01 00 00 00 00`).
//!
//! | field | answer |
//! |---|---|
//! | `dns_garbage` | 37 fixed pseudo-random bytes (not a DNS message) to every query |
//! | `dns_truncated` | the first 7 bytes of the response header (for a standard query with RD: `ID ID 85 80 00 01 00`) |
//! | `dns_wrong_id` | a well-formed answer whose ID is the query's **plus one** (wrapping), so a correct resolver ignores it and times out: the response header, the query's first question echoed, and one answer `A 127.0.0.1` with TTL 60 for the asked name (a pointer to the question's name), whatever the asked type. A query without a parsable question (none, a compressed name, longer than 255 bytes, cut short) gets nothing |
//!
//! The TLS ones first read the client's first TLS record (the `ClientHello`): its 5-byte
//! header, then the length it announces, capped at 16 KiB in all, within 5 s. A client that
//! closes first gets nothing; after the 5 s (a client that sent too little, or no TLS at all)
//! the server goes on anyway. The HTTP ones first read the request head (bounded as for the
//! proxies: 64 KiB, 5 s); without one the connection is just closed. All of them then close
//! gracefully: FIN after their last byte, and whatever the client still sends is read and
//! discarded for up to 1 s, so that the client sees no RST.
//!
//! | field | behaviour |
//! |---|---|
//! | `tls_garbage` | answers 512 fixed pseudo-random bytes (the first is not a TLS content type), closes |
//! | `tls_close` | closes without writing anything |
//! | `tls_half_hello` | answers 20 bytes, the start of a `ServerHello` record: `16 03 03 00 4a` (handshake record of 74 bytes), `02 00 00 46` (`ServerHello` of 70 bytes), `03 03`, then 9 bytes of the server random; closes |
//! | `http_bad_status` | `HTTP/1.1 abc Weird\r\nContent-Length: 0\r\n\r\n`, closes |
//! | `http_bad_header` | `HTTP/1.1 200 OK\r\nX-Bad: a\x00b\x01c\r\nContent-Length: 2\r\n\r\nok` (a NUL and a `0x01` in a header value), closes |
//! | `http_lying_length` | `HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789` (10 of the 100,000 bytes announced), closes |
//! | `http_garbage` | 256 fixed pseudo-random bytes (not starting with `HTTP/`), closes |
//!
//! # Identity provider and app (`lab.idp`)
//!
//! One plain HTTP/1.1 listener on `127.0.0.1` serves three sites, chosen by the `Host` header's
//! name (port stripped, lower-cased): [`IDP_HOST`] (`idp.idp.test`) is an OAuth 2.0 / OIDC
//! and SAML identity provider, [`SP_HOST`] (`app.sp.test`) an app (service provider)
//! that signs in with it, and [`AS_HOST`] (`auth.as.test`) an OAuth 2.0 authorization server
//! ([below](#authorization-server-labidp-host-authastest)); any other host gets `404`. Nothing resolves these names: clients map
//! them to `127.0.0.1` (curl's `--resolve`), and every absolute URL the servers write is
//! `http://idp.idp.test:{port}` or `http://app.sp.test:{port}` with the listener's own port.
//! Everything is deterministic and deliberately insecure (unsigned tokens, the session cookie
//! is the user name). Pages are small HTML5 (`text/html; charset=utf-8`); POST bodies are
//! form-encoded, at most 64 KiB (else `413`); a known path with the wrong method gets `405`.
//!
//! The identity provider's session is the cookie `idp_session=USER` (non-empty). An authorize
//! request with `domain_hint=lab-network` is signed in as `bob` without any cookie, as the
//! network vouches for the machine (Windows integrated sign-in).
//!
//! | identity provider route | response |
//! |---|---|
//! | `GET /oauth2/authorize` | without `client_id` or `redirect_uri`: 400 page `error=invalid_request`. `client_id` other than `lab-app`: 302 to `redirect_uri?error=unauthorized_client&error_description=unknown+client&state=STATE`. `prompt=none` when a login would be needed: 302 with `error=login_required` (`error_description=no+session` without a session). No session, `prompt=login`, `prompt=select_account` or `max_age=0`: the login page. Else 302 to `redirect_uri?code=code-for-USER&state=STATE`, or with `response_mode=form_post` a page auto-posting `code`, `state` and `id_token` to `redirect_uri`. `state` is left out when the request had none |
//! | `GET /saml/sso` | needs `SAMLRequest` (else 400). No session or `ForceAuthn=true`: the login page. Else a page auto-posting `SAMLResponse` (standard base64 of an unsigned `samlp:Response` for `USER@idp.test`) and the echoed `RelayState` to `http://app.sp.test:{port}/saml/acs` |
//! | the login page | 200, title `Sign in - Lab IdP`, `Set-Cookie: idp_login_ctx=ctx1; Path=/; HttpOnly`, a form posting `username`, `password` and hidden `ctx=ctx1` to `/login`; no script |
//! | `POST /login` | without the cookie `idp_login_ctx=ctx1`: 400 `login context cookie missing`. Password `secret`: 302 to `/signed-in` with `Set-Cookie: idp_session=USERNAME; Path=/; HttpOnly`. Else 200, the login page with `wrong password` (`invalid username` for an empty one or one that cannot be a cookie value) |
//! | `GET /signed-in` | 200, title `Signed in` |
//! | `GET /error` | 400, a page showing `error` and `error_description` |
//!
//! The ID token is an unsigned JWT (`{"alg":"none","typ":"JWT"}`, empty signature) with the
//! claims `iss` `http://idp.idp.test:{port}`, `aud` `lab-app`, `sub` `00u-USER`, `email` and
//! `preferred_username` `USER@idp.test`, `name` `USER`, `exp` 4102444800, `iat` 1700000000
//! and `nonce` (the request's, or `null`). Auto-posting pages have
//! `<body onload="document.forms[0].submit()">` and
//! `<script>document.forms[0].submit()</script>`.
//!
//! | app route | response |
//! |---|---|
//! | `GET /login` | 302 to the identity provider's `/oauth2/authorize?client_id=lab-app&redirect_uri=http%3A%2F%2Fapp.sp.test%3A{port}%2Fcallback&response_type=code&state=st1&scope=openid+email` with `Set-Cookie: sp_state=st1; Path=/; HttpOnly` (no `SameSite`; `?samesite=Lax` or `Strict` adds that attribute, `None` adds `SameSite=None; Secure`). `?prompt=…`, `?max_age=…` and `?domain_hint=…` are passed on; `?mode=form_post` adds `response_mode=form_post` and uses `/callback-post`; `?client=X` sends `client_id=X`; `?silent=1` sends `prompt=none` |
//! | `GET /saml/login` | 302 to the identity provider's `/saml/sso?SAMLRequest=…&RelayState=rs1` (a fixed request), same cookie; `?force=1` adds `ForceAuthn=true` |
//! | `GET /callback` | with `error`: 302 to `/app-error?error=…&error_description=…`. Else with the cookie `sp_state=st1` and `state=st1`: 302 to `/app`; otherwise 400 `state mismatch` |
//! | `POST /callback-post`, `POST /saml/acs` | with the cookie `sp_state=st1`: 302 to `/app`; otherwise 400 `state cookie missing` |
//! | `GET /app` | 200, title `Dashboard - Lab App`, `Welcome` |
//! | `GET /app-error` | 200, title `Sign-in failed`, showing `error` and `error_description` |
//! | `GET /meta` | 200, title `Redirecting`, `<meta http-equiv="refresh" content="0; url=/login">` |
//! | `GET /hostile-title` | 200, the title [`HOSTILE_TITLE`] (markup and quotes; escaped in the page, so a client reads the markup as the title's text), `hostile` |
//! | `GET /loop/a`, `GET /loop/b` | 302 to each other |
//! | `GET /again` | without the cookie `visited=1`: 302 to `/again` with `Set-Cookie: visited=1; Path=/`; with it: 200, title `Signed in - Lab App` |
//! | `GET /chain/{n}` | 302 to `/chain/{n-1}`; `/chain/0` → 302 to `/app` |
//! | `GET /bad-location` | 302 with `Location: http://[::1` (not a valid URL: the IPv6 literal is not closed) |
//! | `GET /js-location` | 302 with `Location: javascript:alert(1)` |
//! | `GET /empty-location` | 302 with an empty `Location` (the line `location: ` on the wire) |
//! | `GET /nowhere-location` | 302 with `Location: //` (scheme-relative, without a host) |
//! | `GET /cookie-flood` | 302 to `/app` with 90 headers `Set-Cookie: flood{n}=aaa…; Path=/` (`n` 0 to 89, values of 2,000 `a`): a head of about 180 KB |
//! | `GET /grow` | 200, title `Growing`, `<meta http-equiv="refresh" content="0; url=/grow?x=X">` where `X` is 4,096 `a` without `x` (or an empty one), else the request's `x` twice: the URL doubles at every hop |
//! | `GET /limited` | `414 URI Too Long` (an error page, `uri too long`) when the query's decoded names and values come to more than 8,192 bytes; else 200, title `Limited` |
//!
//! The four malformed redirects have the same small text body as the other redirects
//! (`redirecting to LOCATION\n`, `text/plain`).
//!
//! # Authorization server (`lab.idp`, host `auth.as.test`)
//!
//! [`AS_HOST`] on the same listener: an OAuth 2.0 authorization server with token endpoints and
//! discovery documents. Absolute URLs are `http://auth.as.test:{port}` (`AS` below) with the
//! listener's own port. Deterministic, deliberately insecure, and answering JSON
//! (`application/json`) unless noted. POST bodies are form-encoded, at most 64 KiB (else 413,
//! JSON `invalid_request`); an unknown path gets a JSON 404, a known one with the wrong method a
//! JSON 405 with `Allow`.
//!
//! Confidential clients authenticate by `Authorization: Basic base64(id:secret)` or by the form
//! fields `client_id` and `client_secret`, the public client by the form field `client_id` alone
//! (RFC 6749 §2.1, authentication method `none`), on both token endpoints. A `Basic` header, when
//! present, is the only credential looked at (another scheme, e.g. `Bearer`, is ignored). Each
//! client is held to its method: a confidential client without its secret, or the public client
//! with any secret (a `Basic` header or a `client_secret` field, even empty), fails
//! authentication.
//!
//! | client | secret | grants | scopes it may request |
//! |---|---|---|---|
//! | `lab-client` | `lab-secret` | `client_credentials`, `refresh_token` | `read`, `write`, `openid`, `email` |
//! | `restricted-client` | `restricted-secret` | `refresh_token` only | the same |
//! | `lab-public` | none (public) | `refresh_token` only | the same |
//!
//! A successful grant is 200 `{"access_token", "token_type": "Bearer", "expires_in": 3600,
//! "scope", "refresh_token": "good-refresh"}`, `refresh_token` only for the refresh grant. The
//! granted `scope` is the requested one (space-separated; `+` or `%20` in the body; duplicates
//! dropped) without `write`, which is never granted (so it may be empty); `read` when none was
//! requested. The access token is an unsigned JWT (`{"alg":"none","typ":"JWT"}`, empty
//! signature) with the claims, in this order, `iss` `AS`, `aud` `https://api.lab.test`, `sub`
//! the client id, `scp` the granted scopes as an array, `scope` the same as a string, `exp`
//! 4102444800 and `iat` 1700000000. Token responses have `Cache-Control: no-store` and
//! `Pragma: no-cache`.
//!
//! | route | response |
//! |---|---|
//! | `POST /oauth/token` | checked in this order: client authentication fails (unknown client, wrong secret, no or undecodable credentials, a confidential client without its secret, the public client with one) → 401, `WWW-Authenticate: Basic realm="lab"`, `{"error":"invalid_client","error_description":"client authentication failed"}`; no `grant_type` → 400 `invalid_request`; `client_credentials` for `restricted-client` or `lab-public` → 400 `unauthorized_client`; `refresh_token` without `refresh_token` → 400 `invalid_request`, with one other than `good-refresh` → 400 `{"error":"invalid_grant","error_description":"refresh token expired or revoked"}`; any other grant type → 400 `unsupported_grant_type`; a scope the client may not request (e.g. `admin`) → 400 `invalid_scope`; else the token. Errors are RFC 6749 §5.2 `{"error","error_description"}`. Every response of this path (405 and 413 included) has `x-request-id: req-{n}`, `n` counting them per listener from 1 |
//! | `POST /hubspot/oauth/v1/token` | shaped like `HubSpot`'s: every error is 400 `{"status","message","correlationId"}` with the header `x-hubspot-correlation-id` equal to `correlationId`. No `grant_type` or no client id → `"status":"error"`, `"message":"missing or invalid parameter"`, id `c0ffee00-0000-4000-8000-000000000001`, plus `"category":"VALIDATION_ERROR"`; client authentication fails → `BAD_CLIENT_ID`, `missing or unknown client id`, id `…0002`; refresh token missing or not `good-refresh` → `BAD_REFRESH_TOKEN`, `missing or unknown refresh token`, id `…0003`; an unsupported or unauthorized grant type or a scope not allowed → the validation error (`…0001`). Success as `/oauth/token` but `"token_type":"bearer"`, with correlation id `c0ffee00-0000-4000-8000-000000000000`, no `x-request-id` |
//! | `GET /.well-known/openid-configuration` | `{"issuer":"AS","authorization_endpoint":"AS/oauth/authorize","token_endpoint":"AS/oauth/token","jwks_uri":"AS/jwks","userinfo_endpoint":"AS/userinfo","scopes_supported":["openid","email","read","write"],"response_types_supported":["code"],"grant_types_supported":["authorization_code","client_credentials","refresh_token"],"token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post","none"]}` |
//! | `GET /wrong/.well-known/openid-configuration` | the same, except `issuer` `AS/elsewhere` (not `AS/wrong`), `userinfo_endpoint` `http://missing.lab.test:{port}/userinfo` (NXDOMAIN in the lab zone) and `jwks_uri` `AS/bad-jwks` |
//! | `GET /rfc8414/.well-known/openid-configuration` | 404: an RFC 8414 server with a path |
//! | `GET /.well-known/oauth-authorization-server/rfc8414` | the first document with `issuer` `AS/rfc8414` (`/.well-known/oauth-authorization-server` itself is 404) |
//! | `GET /jwks` | `{"keys":[…]}`: RSA `kid` `lab-1` (`use` `sig`, `alg` `RS256`, a fixed 256-byte `n`, `e` `AQAB`) and EC `kid` `lab-2` (`crv` `P-256`, `x`/`y` the curve's base point) |
//! | `GET /bad-jwks` | 200 `text/html`, `<html>not keys</html>` |
//! | `GET /oauth/authorize` | 200 HTML login page titled `Sign in - Lab AS` (its form only comes back here) |
//! | `GET`/`POST /userinfo` | 401 `{"error":"invalid_token"}` with `WWW-Authenticate: Bearer` |
//! | `GET /oauth/token` (any method but `POST`) | 405, `Allow: POST` (likewise `/hubspot/oauth/v1/token`) |
//!
//! # The `lab.test.` zone ([`ZONE`])
//!
//! TTL 300 unless noted. The zone also has the apex `SOA` (minimum 300) and `NS ns.lab.test.`,
//! with `ns.lab.test A 127.0.0.1`.
//!
//! | name | answer |
//! |---|---|
//! | `good.lab.test` | `A 127.0.0.1`, `AAAA ::1` |
//! | `v4only.lab.test` | `A 127.0.0.1`; `AAAA` is NODATA (NOERROR, empty answer, SOA in authority) |
//! | `alias.lab.test` | `CNAME alias2.lab.test` (TTL 60); an `A`/`AAAA` query gets the whole chain |
//! | `alias2.lab.test` | `CNAME good.lab.test` (TTL 60) |
//! | `dangling.lab.test` | `CNAME missing.lab.test`, which does not exist: rcode NXDOMAIN with the CNAME in the answer section and the SOA in authority (a `CNAME` query gets NOERROR with the CNAME) |
//! | `loop-a.lab.test` | `CNAME loop-b.lab.test` (TTL 60) |
//! | `loop-b.lab.test` | `CNAME loop-a.lab.test` (TTL 60): a CNAME loop; an `A`/`AAAA` query for either gets NOERROR with both CNAMEs and no address (hickory's authority stops at the loop, as Knot 3 does) |
//! | `rloop-a.lab.test`, `rloop-b.lab.test` | the same loop as a recursive resolver answers it (Unbound 1.17, checked with kdig): rcode SERVFAIL for every type but `CNAME`; a `CNAME` query gets the CNAME (`rloop-a` → `rloop-b`, `rloop-b` → `rloop-a`, TTL 60) |
//! | `nodata.lab.test` | `TXT "x"` only; `A`/`AAAA` are NODATA |
//! | `servfail.lab.test` | rcode SERVFAIL for every type |
//! | `timeout.lab.test` | no reply ever (the query is dropped), so clients time out |
//! | anything else under `lab.test` | NXDOMAIN with the SOA in authority |
//!
//! Names outside the zone are REFUSED.
//!
//! # HTTP routes (on `http`, `http6`, `https` and the app servers of `tls`)
//!
//! | route | response |
//! |---|---|
//! | `/` | 200, `reach lab\n` |
//! | `/status/{code}` | that status with a short text body, for integers in 100..=599, else 400 (hyper cannot send a 1xx as a final response and answers 500 for those); `?location=PATH` adds that `Location` header, whatever the status |
//! | `/redirect/{n}` | 302 to `/redirect/{n-1}`; `/redirect/0` → 302 to `/status/200` |
//! | `/loop/a`, `/loop/b` | 302 to each other |
//! | `/downgrade` | 302 to `http://{host}:{port}/status/200`: the request's host name (Host header, or the HTTP/2 authority) on the plain `http` port (the `http6` port for an IPv6 literal) |
//! | `/headers` | 200, a JSON object of request header name (lowercase) → value (repeats joined by `, `) |
//! | `/method` | 200, the request method, e.g. `GET` |
//! | `/to?LOCATION` | 302 to the query string, verbatim (any URL, relative or absolute) |
//! | `/feed/aws.json` | 200, a small feed in the shape of AWS `ip-ranges.json` (`syncToken` 1700000000; `198.51.100.0/24` eu-west-1, `203.0.113.0/24` us-east-1, `2001:db8:1::/48` eu-west-1) |
//! | `/echo-header/{name}` | 200 with the request header's value in the response header `x-echo`; 400 without it |
//! | `/reflect` | 302 to `/status/200?echo=ALL` where ALL is every request header as `name: value` joined by `, `, percent-encoded (form encoding); the response also has ALL raw in `x-echo` and in standard base64 in `x-echo-base64`: a server echoing the request, secrets included |
//! | `/version` | 200, `HTTP/1.1` or `HTTP/2` |
//! | `/big` | 200 with a 4 MiB body |
//! | `/slow-headers` | waits 30 s before answering (cancelled when the lab is dropped) |
//! | anything else | 404 |
//!
//! Every accepted TCP socket has `TCP_NODELAY` set. `tls`, `proxy`, `hostile` and `malformed`
//! servers are IPv4-only.
//!
//! # Example
//!
//! ```no_run
//! let lab = reach_lab::Lab::start()?;
//! let url = format!("http://{}/status/404", lab.http);
//! let dns = lab.dns; // point reach's --dns-server (or equivalent) here
//! # let _ = (url, dns);
//! # Ok::<(), anyhow::Error>(())
//! ```

mod authserver;
mod dns;
mod hostile;
mod http;
mod idp;
mod malformed;
mod pki;
mod proxy;
mod raw;
mod tlslab;

pub use hostile::HostileLab;
pub use idp::HOSTILE_TITLE;
pub use malformed::{MalformedLab, dns_query};
pub use proxy::ProxyLab;
pub use tlslab::TlsLab;

use std::{
    io,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, TcpStream as StdTcpStream},
    path::PathBuf,
    sync::{Arc, mpsc},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Context as _, anyhow};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::{net::TcpListener, sync::oneshot};

/// The lab's DNS zone (without the trailing dot).
pub const ZONE: &str = "lab.test";
/// The host name of the identity provider on [`Lab::idp`].
pub const IDP_HOST: &str = "idp.idp.test";
/// The host name of the app (service provider) on [`Lab::idp`].
pub const SP_HOST: &str = "app.sp.test";
/// The host name of the OAuth 2.0 authorization server on [`Lab::idp`].
pub const AS_HOST: &str = "auth.as.test";

/// The placeholder address of an endpoint not bound yet.
const UNBOUND: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
/// How long [`Lab::start`] waits for the background runtime to bind everything.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Grace given to the DNS server's own shutdown, then to the runtime's tasks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// How long [`Drop`] waits for the lab thread before detaching it.
const DROP_TIMEOUT: Duration = Duration::from_secs(5);
/// A connect to the `dropping` port that has not completed after this long counts as dropped.
const DROPPING_PROBE_TIMEOUT: Duration = Duration::from_millis(200);
/// Upper bound on clients used to fill the `dropping` accept queue (Linux needs one for
/// `listen(0)`; the bound only guards against a kernel that never fills up).
const DROPPING_MAX_CLIENTS: usize = 16;

/// A running lab. See the [crate docs](crate) for what each endpoint does.
///
/// Dropping it stops every server, closes every port and deletes the CA file and the other
/// certificate files. It is `Send` and `Sync`, so one lab can be shared by several tests (e.g.
/// in a `static LazyLock<Lab>`; a static is never dropped, so its servers and files then live
/// until the process exits).
pub struct Lab {
    /// Authoritative DNS for `lab.test.` on 127.0.0.1, UDP and TCP on the same port.
    pub dns: SocketAddr,
    /// The HTTP app, plain HTTP/1.1, on 127.0.0.1.
    pub http: SocketAddr,
    /// The same app on `[::1]`, when IPv6 loopback is available.
    pub http6: Option<SocketAddr>,
    /// The same app over TLS on 127.0.0.1, ALPN `h2` and `http/1.1`, leaf issued by the lab CA.
    pub https: SocketAddr,
    /// The lab CA certificate (PEM), in a temporary directory owned by the lab.
    pub ca_pem_path: PathBuf,
    /// A 127.0.0.1 port where nothing listens: connecting is refused. (Held by a bound,
    /// non-listening socket for the lab's life, so no other server can be given the port.)
    pub refused: SocketAddr,
    /// A 127.0.0.1 port whose SYNs are dropped: connecting times out.
    pub dropping: SocketAddr,
    /// Accepts TCP connections and never writes anything.
    pub silent: SocketAddr,
    /// TLS servers with certificate and protocol problems, and their certificate files.
    pub tls: TlsLab,
    /// HTTP forward proxies: open, authenticating, denying, closing.
    pub proxy: ProxyLab,
    /// HTTP/1.1 servers that misbehave on purpose.
    pub hostile: HostileLab,
    /// DNS, TLS and HTTP/1.1 peers that break their protocol on purpose.
    pub malformed: MalformedLab,
    /// The identity provider ([`IDP_HOST`]), the app that signs in with it ([`SP_HOST`]) and
    /// the authorization server ([`AS_HOST`]), plain HTTP/1.1 on 127.0.0.1, told apart by the
    /// `Host` header.
    pub idp: SocketAddr,

    ca_pem: String,
    https_identity: (PathBuf, PathBuf),
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Keeps `ca_pem_path` alive; deleted on drop.
    _tempdir: tempfile::TempDir,
    /// Bound to `refused` but never listening, so the port stays ours and stays refusing.
    _refused_holder: Socket,
    /// The `dropping` listener (never accepted from) and the clients filling its queue.
    _dropping_listener: Socket,
    _dropping_clients: Vec<StdTcpStream>,
}

/// Addresses bound inside the runtime, sent back to [`Lab::start`].
struct RuntimeEndpoints {
    dns: SocketAddr,
    http: SocketAddr,
    http6: Option<SocketAddr>,
    https: SocketAddr,
    silent: SocketAddr,
    tls: TlsLab,
    proxy: ProxyLab,
    hostile: HostileLab,
    malformed: MalformedLab,
    idp: SocketAddr,
}

impl Lab {
    /// Starts every server. When this returns, all endpoints are listening.
    pub fn start() -> anyhow::Result<Lab> {
        let pki = pki::generate()?;
        let tempdir = tempfile::Builder::new()
            .prefix("reach-lab-")
            .tempdir()
            .context("creating the lab temp dir")?;
        let ca_pem_path = tempdir.path().join("ca.pem");
        std::fs::write(&ca_pem_path, &pki.ca_pem).context("writing the lab CA PEM")?;
        let https_identity = (
            tempdir.path().join("https-cert.pem"),
            tempdir.path().join("https-key.pem"),
        );
        std::fs::write(&https_identity.0, &pki.leaf_pem).context("writing the leaf PEM")?;
        std::fs::write(&https_identity.1, &pki.leaf_key_pem).context("writing the leaf key")?;
        let tls = TlsLab::write_files(tempdir.path(), &pki.tls)?;
        let tls_configs = tlslab::TlsConfigs::new(&pki)?;
        let tls_template = tls.clone();

        let (refused_holder, refused) = refused_port()?;
        let (dropping_listener, dropping, dropping_clients) = dropping_port()?;

        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("reach-lab".to_owned())
            .spawn(move || run_lab_thread(tls_configs, tls_template, &ready_tx, shutdown_rx))
            .context("spawning the lab thread")?;

        let mut lab = Lab {
            dns: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            http: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            http6: None,
            https: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ca_pem_path,
            refused,
            dropping,
            silent: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls,
            proxy: ProxyLab::UNBOUND,
            hostile: HostileLab::UNBOUND,
            malformed: MalformedLab::UNBOUND,
            idp: UNBOUND,
            ca_pem: pki.ca_pem,
            https_identity,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
            _tempdir: tempdir,
            _refused_holder: refused_holder,
            _dropping_listener: dropping_listener,
            _dropping_clients: dropping_clients,
        };
        // From here on, an early return drops `lab`, which stops the thread.
        let endpoints = match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(result) => result?,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(anyhow!("the lab did not start within {START_TIMEOUT:?}"));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(anyhow!("the lab thread exited during start-up"));
            }
        };
        lab.dns = endpoints.dns;
        lab.http = endpoints.http;
        lab.http6 = endpoints.http6;
        lab.https = endpoints.https;
        lab.silent = endpoints.silent;
        lab.tls = endpoints.tls;
        lab.proxy = endpoints.proxy;
        lab.hostile = endpoints.hostile;
        lab.malformed = endpoints.malformed;
        lab.idp = endpoints.idp;
        Ok(lab)
    }

    /// The `https` leaf certificate and its private key, PEM files: for a
    /// server outside the lab (the benchmark's nginx) to serve the same
    /// identity.
    pub fn https_identity_paths(&self) -> (PathBuf, PathBuf) {
        self.https_identity.clone()
    }

    /// The `${LAB_…}` environment variables `examples/preflight.toml` reads:
    /// where the lab's servers listen, and the demo's secrets. `cargo xtask
    /// demo` and the test of the example set them.
    pub fn preflight_environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LAB_DNS", self.dns.to_string()),
            ("LAB_CA", self.ca_pem_path.display().to_string()),
            ("LAB_HTTP", self.http.port().to_string()),
            ("LAB_HTTPS", self.https.port().to_string()),
            ("LAB_IDP", self.idp.port().to_string()),
            ("LAB_DROPPING", self.dropping.to_string()),
            ("LAB_EXPIRED", self.tls.expired.port().to_string()),
            (
                "LAB_INCOMPLETE",
                self.tls.incomplete_chain.port().to_string(),
            ),
            ("LAB_CLIENT_SECRET", "lab-secret".to_owned()),
            ("LAB_STALE_REFRESH_TOKEN", "expired-refresh".to_owned()),
        ]
    }

    /// The lab CA certificate, PEM text (the content of `ca_pem_path`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
}

impl std::fmt::Debug for Lab {
    // Only the endpoints: the internals (sockets, channels, PEM text) are noise in test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("dns", &self.dns)
            .field("http", &self.http)
            .field("http6", &self.http6)
            .field("https", &self.https)
            .field("ca_pem_path", &self.ca_pem_path)
            .field("refused", &self.refused)
            .field("dropping", &self.dropping)
            .field("silent", &self.silent)
            .field("tls", &self.tls)
            .field("proxy", &self.proxy)
            .field("hostile", &self.hostile)
            .field("malformed", &self.malformed)
            .field("idp", &self.idp)
            .finish_non_exhaustive()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // An error means the thread is already gone, which is what we want anyway.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // JoinHandle::join has no timeout, so poll: never block a test forever. A thread
            // still running after DROP_TIMEOUT is left to finish on its own (it is itself
            // bounded by SHUTDOWN_GRACE).
            let deadline = Instant::now() + DROP_TIMEOUT;
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

/// Body of the lab thread: owns the runtime from creation to shutdown, so that neither
/// [`Lab::start`] nor [`Drop`] ever creates or drops a runtime on the caller's thread (which
/// tokio forbids inside an async context).
fn run_lab_thread(
    tls_configs: tlslab::TlsConfigs,
    tls_template: TlsLab,
    ready: &mpsc::SyncSender<anyhow::Result<RuntimeEndpoints>>,
    shutdown: oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("reach-lab-worker")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(
                anyhow::Error::new(e).context("building the lab runtime")
            ));
            return;
        }
    };

    match runtime.block_on(start_servers(tls_configs, tls_template)) {
        Ok((endpoints, mut dns_server)) => {
            // If start() already gave up, nobody listens; the shutdown sender is then gone
            // too, so the wait below ends at once.
            let _ = ready.send(Ok(endpoints));
            runtime.block_on(async {
                // Resolves on an explicit shutdown and when the Lab is dropped without one.
                let _ = shutdown.await;
                let _ =
                    tokio::time::timeout(SHUTDOWN_GRACE, dns_server.shutdown_gracefully()).await;
                drop(dns_server);
            });
        }
        Err(e) => {
            let _ = ready.send(Err(e));
        }
    }
    // Cancels every remaining task (accept loops, held connections, /slow-headers).
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
}

/// Binds and spawns every runtime-hosted server. Runs inside the lab runtime.
async fn start_servers(
    tls_configs: tlslab::TlsConfigs,
    tls_template: TlsLab,
) -> anyhow::Result<(RuntimeEndpoints, hickory_server::Server<dns::LabDnsHandler>)> {
    let (dns_server, dns) = dns::start().await?;

    let plain = bind_v4_loopback("HTTP").await?;
    let plain_addr = plain.local_addr()?;
    let plain_v6 = bind_ipv6_loopback(plain_addr.port()).await;
    let plain_v6_addr = match &plain_v6 {
        Some(listener) => Some(listener.local_addr()?),
        None => None,
    };
    let tls = bind_v4_loopback("HTTPS").await?;
    let tls_addr = tls.local_addr()?;
    let silent = bind_v4_loopback("silent").await?;
    let silent_addr = silent.local_addr()?;

    let app = Arc::new(http::App::new(
        plain_addr.port(),
        plain_v6_addr.map(|a| a.port()),
    ));
    tokio::spawn(http::serve_plain(plain, Arc::clone(&app)));
    if let Some(listener) = plain_v6 {
        tokio::spawn(http::serve_plain(listener, Arc::clone(&app)));
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls_configs.https));
    tokio::spawn(http::serve_tls(tls, Arc::clone(&app), acceptor));
    tokio::spawn(http::serve_silent(silent));
    let tls_lab = tlslab::start(&tls_configs, &app, tls_template).await?;
    let proxy = ProxyLab::start().await?;
    let hostile = HostileLab::start().await?;
    let malformed = MalformedLab::start().await?;
    let idp_listener = bind_v4_loopback("IdP").await?;
    let idp = idp_listener.local_addr()?;
    tokio::spawn(idp::serve(
        idp_listener,
        Arc::new(idp::Idp::new(idp.port())),
    ));

    let endpoints = RuntimeEndpoints {
        dns,
        http: plain_addr,
        http6: plain_v6_addr,
        https: tls_addr,
        silent: silent_addr,
        tls: tls_lab,
        proxy,
        hostile,
        malformed,
        idp,
    };
    Ok((endpoints, dns_server))
}

async fn bind_v4_loopback(what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .with_context(|| format!("binding the {what} listener on 127.0.0.1"))
}

/// Binds a `127.0.0.1` listener, spawns `serve` on it, and returns its
/// address: every raw server of the lab starts this way.
async fn spawn_on_loopback<F>(
    what: &str,
    serve: impl FnOnce(TcpListener) -> F,
) -> anyhow::Result<SocketAddr>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = bind_v4_loopback(what).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener));
    Ok(addr)
}

/// Binds `[::1]`, preferring `port` so that `http://good.lab.test:{port}` works over both the
/// A and the AAAA record. `None` when the host has no IPv6 loopback.
async fn bind_ipv6_loopback(port: u16) -> Option<TcpListener> {
    if let Ok(listener) = TcpListener::bind((Ipv6Addr::LOCALHOST, port)).await {
        return Some(listener);
    }
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).await.ok()
}

/// A 127.0.0.1 port with nothing listening, so a connect gets RST (ECONNREFUSED).
///
/// Rather than binding a listener and closing it (after which another lab running in parallel
/// could be handed the same port for one of its servers), the port is held by a TCP socket that
/// is bound but never listens: the kernel refuses connections to it exactly as to an unused
/// port, and, as the socket has no `SO_REUSEADDR`, no one else can bind the port meanwhile.
fn refused_port() -> anyhow::Result<(Socket, SocketAddr)> {
    let holder = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .context("creating the refused-port socket")?;
    holder
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .context("binding the refused port")?;
    let addr = holder
        .local_addr()?
        .as_socket()
        .ok_or_else(|| anyhow!("refused port has no IP address"))?;
    Ok((holder, addr))
}

/// A 127.0.0.1 listener that silently drops SYNs.
///
/// With `listen(0)` Linux accepts one connection into the accept queue; once the queue is full
/// (and we never `accept()`), further SYNs are dropped, not answered with RST (unless
/// `tcp_abort_on_overflow` is set), so the client retransmits until its connect timeout. To get
/// there, connect clients until one does not complete within [`DROPPING_PROBE_TIMEOUT`]; the
/// clients that did connect are kept open for the lab's life so the queue stays full.
fn dropping_port() -> anyhow::Result<(Socket, SocketAddr, Vec<StdTcpStream>)> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .context("creating the dropping-port socket")?;
    listener
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .context("binding the dropping port")?;
    listener
        .listen(0)
        .context("listen(0) on the dropping port")?;
    let addr = listener
        .local_addr()?
        .as_socket()
        .ok_or_else(|| anyhow!("dropping port has no IP address"))?;

    let mut clients = Vec::new();
    for _ in 0..DROPPING_MAX_CLIENTS {
        match StdTcpStream::connect_timeout(&addr, DROPPING_PROBE_TIMEOUT) {
            Ok(client) => clients.push(client),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok((listener, addr, clients)),
            Err(e) => return Err(e).context("filling the dropping port's accept queue"),
        }
    }
    Err(anyhow!(
        "the dropping port still accepted connections after {DROPPING_MAX_CLIENTS} clients"
    ))
}
