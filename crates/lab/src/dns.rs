//! The authoritative DNS server for `lab.test.`.
//!
//! Ordinary names live in a hickory [`InMemoryZoneHandler`] behind a [`Catalog`]. A thin
//! [`LabDnsHandler`] in front of the catalog implements the behaviours no zone file can express
//! (SERVFAIL, a black hole) and the one where hickory's authority differs from the classic
//! BIND/NSD behaviour the tests want to see (a dangling CNAME answers NXDOMAIN, not NOERROR).

use std::{
    future::Future,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, anyhow};
use hickory_proto::{
    op::{Edns, Header, HeaderCounts, Metadata, ResponseCode},
    rr::{
        LowerName, Name, RData, Record, RecordType,
        rdata::{A, AAAA, CNAME, NS, SOA, TXT},
    },
};
use hickory_server::{
    Server,
    net::runtime::{Time, TokioRuntimeProvider},
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
    store::in_memory::InMemoryZoneHandler,
    zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneHandler, ZoneType},
};
use tokio::net::{TcpListener, UdpSocket};

/// Default TTL of the zone's records.
const TTL: u32 = 300;
/// TTL of the `alias` chain's CNAMEs, distinct from [`TTL`] so tests can tell them apart.
const CNAME_TTL: u32 = 60;
/// The SOA serial; the zone never changes.
const SERIAL: u32 = 1;
/// How long hickory keeps an idle DNS-over-TCP connection open.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at finding a port that is free for both UDP and TCP.
const PORT_ATTEMPTS: usize = 16;

/// Absolute names used by the zone and the special-case handler.
struct Names {
    origin: Name,
    ns: Name,
    /// The SOA RNAME (hostmaster@lab.test); not a node of the zone.
    hostmaster: Name,
    good: Name,
    v4only: Name,
    alias: Name,
    alias2: Name,
    dangling: Name,
    missing: Name,
    loop_a: Name,
    loop_b: Name,
    resolver_loop_a: Name,
    resolver_loop_b: Name,
    nodata: Name,
    servfail: Name,
    timeout: Name,
}

impl Names {
    fn new() -> anyhow::Result<Self> {
        let n = |label: &str| -> anyhow::Result<Name> {
            let text = if label.is_empty() {
                format!("{}.", crate::ZONE)
            } else {
                format!("{label}.{}.", crate::ZONE)
            };
            Name::from_ascii(&text).map_err(|e| anyhow!("bad lab name {text:?}: {e}"))
        };
        Ok(Self {
            origin: n("")?,
            ns: n("ns")?,
            hostmaster: n("hostmaster")?,
            good: n("good")?,
            v4only: n("v4only")?,
            alias: n("alias")?,
            alias2: n("alias2")?,
            dangling: n("dangling")?,
            missing: n("missing")?,
            loop_a: n("loop-a")?,
            loop_b: n("loop-b")?,
            resolver_loop_a: n("rloop-a")?,
            resolver_loop_b: n("rloop-b")?,
            nodata: n("nodata")?,
            servfail: n("servfail")?,
            timeout: n("timeout")?,
        })
    }
}

/// Binds the DNS server on one 127.0.0.1 port for both UDP and TCP and starts serving.
///
/// Must run inside the lab's tokio runtime. The returned [`Server`] owns the serving tasks:
/// dropping it stops them, so the caller keeps it until shutdown.
pub(crate) async fn start() -> anyhow::Result<(Server<LabDnsHandler>, SocketAddr)> {
    let (udp, tcp) = bind_udp_and_tcp().await?;
    let addr = udp.local_addr()?;
    // hickory accepts the TCP connections itself, so we cannot call set_nodelay on them. On Linux
    // an accepted socket inherits TCP_NODELAY from its listener (tested in this crate), so
    // setting it here covers every DNS-over-TCP connection.
    socket2::SockRef::from(&tcp)
        .set_tcp_nodelay(true)
        .context("TCP_NODELAY on the DNS listener")?;

    let mut server = Server::new(LabDnsHandler::new()?);
    server.register_socket(udp);
    server.register_listener(tcp, TCP_IDLE_TIMEOUT, 64);
    Ok((server, addr))
}

/// Finds a port on which both a UDP socket and a TCP listener can be bound, so that one
/// `SocketAddr` describes the server (clients fall back to TCP on the same port after TC=1).
pub(crate) async fn bind_udp_and_tcp() -> anyhow::Result<(UdpSocket, TcpListener)> {
    let mut last_error = None;
    for _ in 0..PORT_ATTEMPTS {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("binding the DNS UDP socket")?;
        let addr = udp.local_addr()?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            // Someone already has this TCP port; try another UDP port.
            Err(e) => last_error = Some(e),
        }
    }
    Err(anyhow!(
        "no 127.0.0.1 port free for both DNS UDP and TCP after {PORT_ATTEMPTS} attempts: {last_error:?}"
    ))
}

/// Builds the in-memory `lab.test.` zone. See the crate docs for the table of names.
fn build_zone(names: &Names) -> anyhow::Result<InMemoryZoneHandler<TokioRuntimeProvider>> {
    let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
        names.origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    let records = [
        soa_record(names),
        Record::from_rdata(names.origin.clone(), TTL, RData::NS(NS(names.ns.clone()))),
        Record::from_rdata(names.ns.clone(), TTL, RData::A(A(Ipv4Addr::LOCALHOST))),
        Record::from_rdata(names.good.clone(), TTL, RData::A(A(Ipv4Addr::LOCALHOST))),
        Record::from_rdata(
            names.good.clone(),
            TTL,
            RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)),
        ),
        Record::from_rdata(names.v4only.clone(), TTL, RData::A(A(Ipv4Addr::LOCALHOST))),
        Record::from_rdata(
            names.alias.clone(),
            CNAME_TTL,
            RData::CNAME(CNAME(names.alias2.clone())),
        ),
        Record::from_rdata(
            names.alias2.clone(),
            CNAME_TTL,
            RData::CNAME(CNAME(names.good.clone())),
        ),
        dangling_record(names),
        Record::from_rdata(
            names.loop_a.clone(),
            CNAME_TTL,
            RData::CNAME(CNAME(names.loop_b.clone())),
        ),
        Record::from_rdata(
            names.loop_b.clone(),
            CNAME_TTL,
            RData::CNAME(CNAME(names.loop_a.clone())),
        ),
        Record::from_rdata(
            names.resolver_loop_a.clone(),
            CNAME_TTL,
            RData::CNAME(CNAME(names.resolver_loop_b.clone())),
        ),
        Record::from_rdata(
            names.resolver_loop_b.clone(),
            CNAME_TTL,
            RData::CNAME(CNAME(names.resolver_loop_a.clone())),
        ),
        Record::from_rdata(
            names.nodata.clone(),
            TTL,
            RData::TXT(TXT::new(vec!["x".to_owned()])),
        ),
    ];
    for record in records {
        let text = record.to_string();
        // upsert_mut refuses e.g. a CNAME next to other data; that would be a bug in this table.
        if !zone.upsert_mut(record, SERIAL) {
            return Err(anyhow!("lab zone rejected record {text}"));
        }
    }
    Ok(zone)
}

fn soa_record(names: &Names) -> Record {
    // minimum = TTL, so negative answers are cacheable for the same 300 s as positive ones.
    let soa = SOA::new(
        names.ns.clone(),
        names.hostmaster.clone(),
        SERIAL,
        3600,
        600,
        86_400,
        TTL,
    );
    Record::from_rdata(names.origin.clone(), TTL, RData::SOA(soa))
}

fn dangling_record(names: &Names) -> Record {
    Record::from_rdata(
        names.dangling.clone(),
        TTL,
        RData::CNAME(CNAME(names.missing.clone())),
    )
}

/// What the lab does with a query, decided from its name before the catalog sees it.
enum Special {
    /// Answer from the zone through the catalog.
    Catalog,
    /// Reply with rcode SERVFAIL.
    ServFail,
    /// Never reply.
    Drop,
    /// Reply NXDOMAIN with the dangling CNAME in the answer section.
    DanglingNxDomain,
}

/// The lab's [`RequestHandler`]: special names first, everything else from the zone.
pub(crate) struct LabDnsHandler {
    catalog: Catalog,
    servfail: LowerName,
    timeout: LowerName,
    dangling: LowerName,
    /// `rloop-a` and `rloop-b`: SERVFAIL but for CNAME queries, as a
    /// recursive resolver answers for a CNAME loop.
    resolver_loop: [LowerName; 2],
    /// `dangling.lab.test. CNAME missing.lab.test.`, the answer section of its NXDOMAIN.
    dangling_cname: Record,
    /// The zone SOA, the authority section of negative answers (RFC 2308).
    soa: Record,
}

impl LabDnsHandler {
    fn new() -> anyhow::Result<Self> {
        let names = Names::new()?;
        let zone: Arc<dyn ZoneHandler> = Arc::new(build_zone(&names)?);
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::from(&names.origin), vec![zone]);
        Ok(Self {
            catalog,
            servfail: LowerName::from(&names.servfail),
            timeout: LowerName::from(&names.timeout),
            dangling: LowerName::from(&names.dangling),
            resolver_loop: [
                LowerName::from(&names.resolver_loop_a),
                LowerName::from(&names.resolver_loop_b),
            ],
            dangling_cname: dangling_record(&names),
            soa: soa_record(&names),
        })
    }

    fn classify(&self, request: &Request) -> Special {
        // Malformed requests (zero or several questions) go to the catalog, which answers FORMERR.
        let Ok(info) = request.request_info() else {
            return Special::Catalog;
        };
        let name = info.query.name();
        if *name == self.timeout {
            Special::Drop
        } else if *name == self.servfail
            || (self.resolver_loop.contains(name) && info.query.query_type() != RecordType::CNAME)
        {
            // Unbound 1.17 answers SERVFAIL for a name whose CNAMEs loop, and
            // answers a CNAME query for it with the CNAME (checked with kdig).
            Special::ServFail
        } else if *name == self.dangling && info.query.query_type() != RecordType::CNAME {
            // hickory's in-memory authority chases the CNAME, finds nothing at the target and
            // answers NOERROR with just the CNAME. BIND, NSD and Knot answer NXDOMAIN (the rcode
            // describes the end of the chain, RFC 6604), which is what resolvers in the wild see,
            // so the lab does that. A CNAME-type query is an ordinary positive answer.
            Special::DanglingNxDomain
        } else {
            Special::Catalog
        }
    }

    async fn respond<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let special = self.classify(request);
        let rcode = match special {
            Special::Catalog => {
                return self
                    .catalog
                    .handle_request::<R, T>(request, response_handle)
                    .await;
            }
            Special::Drop => {
                // Not calling send_response means nothing goes on the wire; the returned info
                // is only used for logging, which hickory discards for handler return values.
                return response_info(request, ResponseCode::NoError);
            }
            Special::ServFail => ResponseCode::ServFail,
            Special::DanglingNxDomain => ResponseCode::NXDomain,
        };

        // Mirror the catalog: a query with EDNS gets EDNS back (RFC 6891 §6.1.1).
        let edns = request.edns.as_ref().map(|req| {
            let mut edns = Edns::new();
            edns.set_max_payload(req.max_payload().max(512));
            edns.set_version(0);
            edns
        });
        let builder = MessageResponseBuilder::new(&request.queries, edns.as_ref());
        let sent = if let Special::DanglingNxDomain = special {
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.authoritative = true;
            metadata.response_code = rcode;
            let response = builder.build(
                metadata,
                std::iter::once(&self.dangling_cname),
                std::iter::once(&self.soa),
                std::iter::empty(),
                std::iter::empty(),
            );
            response_handle.send_response(response).await
        } else {
            let response = builder.error_msg(&request.metadata, rcode);
            response_handle.send_response(response).await
        };
        sent.unwrap_or_else(|_| response_info(request, ResponseCode::ServFail))
    }
}

/// A header-only [`ResponseInfo`] for the paths where no real response was sent.
fn response_info(request: &Request, rcode: ResponseCode) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = rcode;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

// `RequestHandler` is declared with `#[async_trait]`. Rather than adding the async-trait crate
// for one impl, this is the signature that macro generates, written out by hand.
impl RequestHandler for LabDnsHandler {
    fn handle_request<'life0, 'life1, 'async_trait, R, T>(
        &'life0 self,
        request: &'life1 Request,
        response_handle: R,
    ) -> Pin<Box<dyn Future<Output = ResponseInfo> + Send + 'async_trait>>
    where
        R: ResponseHandler + 'async_trait,
        T: Time + 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.respond::<R, T>(request, response_handle))
    }
}
