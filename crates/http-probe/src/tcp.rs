//! The TCP phase: connect to each resolved address in turn, record every
//! attempt, classify failures by their typed OS error.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use reach_report::endpoint::{TcpAttempt, TcpOutcome, TcpPhase};
use reach_report::{Code, Finding};
use tokio::net::{TcpSocket, TcpStream};

/// What the TCP phase produced.
#[derive(Debug)]
pub struct TcpResult {
    pub phase: TcpPhase,
    pub stream: Option<TcpStream>,
    pub findings: Vec<Finding>,
}

/// Connects to `addrs` one after the other until one accepts, all before
/// `deadline`. Each attempt gets an equal share of the time left, so one
/// address that drops SYNs cannot starve the others.
pub async fn connect(addrs: &[SocketAddr], deadline: tokio::time::Instant) -> TcpResult {
    let started = Instant::now();
    let mut phase = TcpPhase::default();
    let mut stream = None;
    for (i, addr) in addrs.iter().enumerate() {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            phase.attempts.push(TcpAttempt {
                address: addr.to_string(),
                outcome: TcpOutcome::Skipped,
                duration_ms: 0.0,
                error: None,
            });
            continue;
        }
        let left = u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
        let budget = (deadline - now) / left;
        let attempt_started = Instant::now();
        let result = tokio::time::timeout(budget, connect_one(*addr)).await;
        let duration_ms = reach_report::elapsed_ms(attempt_started);
        let (outcome, error) = match result {
            Ok(Ok(s)) => {
                phase.local_address = s.local_addr().ok().map(|a| a.to_string());
                stream = Some(s);
                (TcpOutcome::Connected, None)
            }
            Ok(Err(e)) => (classify(&e), Some(e.to_string())),
            Err(_) => (
                TcpOutcome::Timeout,
                Some(format!(
                    "no answer to SYN within {}",
                    reach_report::seconds(budget)
                )),
            ),
        };
        phase.attempts.push(TcpAttempt {
            address: addr.to_string(),
            outcome,
            duration_ms,
            error,
        });
        if stream.is_some() {
            phase.connected = Some(addr.to_string());
            break;
        }
    }
    phase.duration_ms = reach_report::elapsed_ms(started);
    let findings = if stream.is_some() {
        Vec::new()
    } else {
        findings(&phase)
    };
    TcpResult {
        phase,
        stream,
        findings,
    }
}

async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Nagle would add tens of milliseconds to time-to-first-byte.
    socket.set_nodelay(true)?;
    socket.connect(addr).await
}

/// The outcome class of a failed `connect`, from the typed error.
pub fn classify(error: &io::Error) -> TcpOutcome {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => TcpOutcome::Refused,
        io::ErrorKind::TimedOut => TcpOutcome::Timeout,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            TcpOutcome::Unreachable
        }
        _ => match error.raw_os_error() {
            Some(libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EADDRNOTAVAIL) => {
                TcpOutcome::Unreachable
            }
            Some(libc::ECONNREFUSED) => TcpOutcome::Refused,
            Some(libc::ETIMEDOUT) => TcpOutcome::Timeout,
            _ => TcpOutcome::Error,
        },
    }
}

/// One finding per failure class seen, naming the addresses of that class.
fn findings(phase: &TcpPhase) -> Vec<Finding> {
    let of = |outcome: TcpOutcome| -> Vec<&str> {
        phase
            .attempts
            .iter()
            .filter(|a| a.outcome == outcome)
            .map(|a| a.address.as_str())
            .collect()
    };
    let mut out = Vec::new();
    let classes = [
        (
            TcpOutcome::Timeout,
            Code::TcpTimeout,
            "did not answer the SYN",
        ),
        (
            TcpOutcome::Refused,
            Code::TcpRefused,
            "refused the connection",
        ),
        (
            TcpOutcome::Unreachable,
            Code::TcpUnreachable,
            "is unreachable (no route)",
        ),
        (
            TcpOutcome::Error,
            Code::TcpUnreachable,
            "could not be connected to",
        ),
    ];
    for (outcome, code, what) in classes {
        let addrs = of(outcome);
        if addrs.is_empty() {
            continue;
        }
        let errors: Vec<&str> = phase
            .attempts
            .iter()
            .filter(|a| a.outcome == outcome)
            .filter_map(|a| a.error.as_deref())
            .collect();
        out.push(
            Finding::new(code, format!("{} {what}", addrs.join(", ")))
                .with("addresses", &addrs)
                .with("errors", errors),
        );
    }
    if out.is_empty() {
        let skipped = of(TcpOutcome::Skipped);
        out.push(
            Finding::new(
                Code::TcpTimeout,
                format!(
                    "the deadline passed before {} could be tried",
                    skipped.join(", ")
                ),
            )
            .with("addresses", skipped),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No test may send packets off loopback, so the unreachable class is
    /// proven on the error mapping itself.
    #[test]
    fn os_errors_map_to_outcomes() {
        let table = [
            (libc::ECONNREFUSED, TcpOutcome::Refused),
            (libc::ETIMEDOUT, TcpOutcome::Timeout),
            (libc::EHOSTUNREACH, TcpOutcome::Unreachable),
            (libc::ENETUNREACH, TcpOutcome::Unreachable),
            (libc::EADDRNOTAVAIL, TcpOutcome::Unreachable),
            (libc::EACCES, TcpOutcome::Error),
        ];
        for (errno, want) in table {
            let e = io::Error::from_raw_os_error(errno);
            assert_eq!(classify(&e), want, "errno {errno} ({e})");
        }
        assert_eq!(
            classify(&io::Error::from(io::ErrorKind::HostUnreachable)),
            TcpOutcome::Unreachable
        );
    }

    #[test]
    fn unreachable_attempts_become_tcp_unreachable() {
        let phase = TcpPhase {
            attempts: vec![
                TcpAttempt {
                    address: "[2001:db8::1]:443".into(),
                    outcome: TcpOutcome::Unreachable,
                    duration_ms: 0.1,
                    error: Some("No route to host".into()),
                },
                TcpAttempt {
                    address: "192.0.2.1:443".into(),
                    outcome: TcpOutcome::Timeout,
                    duration_ms: 5000.0,
                    error: None,
                },
            ],
            ..TcpPhase::default()
        };
        let f = findings(&phase);
        let codes: Vec<Code> = f.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![Code::TcpTimeout, Code::TcpUnreachable]);
        assert!(f[1].message.contains("2001:db8::1"));
    }

    #[tokio::test]
    async fn refused_on_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        let r = connect(&[addr], deadline).await;
        assert!(r.stream.is_none());
        assert_eq!(r.phase.attempts[0].outcome, TcpOutcome::Refused);
        assert_eq!(r.findings[0].code, Code::TcpRefused);
    }
}
