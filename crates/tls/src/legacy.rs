//! A minimal legacy `ClientHello`, to learn which old version a server picks
//! when it refuses TLS 1.2 and 1.3 (rustls never speaks TLS 1.0/1.1, so it
//! cannot tell). Only the `ServerHello` version is read; no handshake is
//! completed and no key is exchanged.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a server answered to a TLS 1.1-capable `ClientHello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyAnswer {
    /// A `ServerHello` choosing this protocol version (`0x0301` = TLS 1.0).
    Version(u16),
    /// A TLS alert with this description code.
    Alert(u8),
    /// Nothing usable (closed, timed out, not TLS).
    Nothing,
}

/// The name of a TLS/SSL protocol version number.
pub fn version_label(version: u16) -> String {
    match version {
        0x0300 => "SSL 3.0".to_owned(),
        0x0301 => "TLS 1.0".to_owned(),
        0x0302 => "TLS 1.1".to_owned(),
        0x0303 => "TLS 1.2".to_owned(),
        0x0304 => "TLS 1.3".to_owned(),
        other => format!("0x{other:04x}"),
    }
}

/// Cipher suites a TLS 1.0/1.1 server is likely to accept (RSA and ECDHE
/// with AES-CBC and 3DES). They are only offered, never used.
const LEGACY_SUITES: &[u16] = &[
    0xc014, 0xc013, 0xc00a, 0xc009, 0x0039, 0x0033, 0x0035, 0x002f, 0x000a,
];

/// The `ClientHello` record: version TLS 1.1 (so the server may pick 1.0 or
/// 1.1), SNI when there is a host name, and the EC extensions old servers
/// need for ECDHE suites.
pub fn client_hello(server_name: Option<&str>, random: [u8; 32]) -> Vec<u8> {
    let mut extensions = Vec::new();
    if let Some(name) = server_name {
        let name = name.as_bytes();
        let list_len = name.len() + 3;
        push_u16(&mut extensions, 0x0000);
        push_u16(&mut extensions, (list_len + 2) as u16);
        push_u16(&mut extensions, list_len as u16);
        extensions.push(0); // host_name
        push_u16(&mut extensions, name.len() as u16);
        extensions.extend_from_slice(name);
    }
    // supported_groups: secp256r1, secp384r1
    extensions.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x18]);
    // ec_point_formats: uncompressed
    extensions.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);

    let mut body = Vec::new();
    push_u16(&mut body, 0x0302);
    body.extend_from_slice(&random);
    body.push(0); // session id
    push_u16(&mut body, (LEGACY_SUITES.len() * 2) as u16);
    for suite in LEGACY_SUITES {
        push_u16(&mut body, *suite);
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    push_u16(&mut body, extensions.len() as u16);
    body.extend_from_slice(&extensions);

    let mut handshake = vec![1]; // client_hello
    push_u24(&mut handshake, body.len());
    handshake.extend_from_slice(&body);

    let mut record = vec![0x16, 0x03, 0x01];
    push_u16(&mut record, handshake.len() as u16);
    record.extend_from_slice(&handshake);
    record
}

/// Reads the server's answer to [`client_hello`] from the first record.
pub fn parse_answer(bytes: &[u8]) -> LegacyAnswer {
    if bytes.len() < 5 {
        return LegacyAnswer::Nothing;
    }
    let content_type = bytes[0];
    let record = &bytes[5..];
    match content_type {
        0x15 if record.len() >= 2 => LegacyAnswer::Alert(record[1]),
        // handshake: type(1) length(3) server_version(2)
        0x16 if record.len() >= 6 && record[0] == 2 => {
            LegacyAnswer::Version(u16::from_be_bytes([record[4], record[5]]))
        }
        _ => LegacyAnswer::Nothing,
    }
}

/// Sends the legacy hello on `stream` and reads the first record of the
/// answer, within `timeout`.
pub async fn probe<S>(mut stream: S, server_name: Option<&str>, timeout: Duration) -> LegacyAnswer
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut random = [0u8; 32];
    // Uniqueness is enough here: nothing is derived from this value.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    random[..16].copy_from_slice(&nanos.to_be_bytes());
    let hello = client_hello(server_name, random);
    let exchange = async {
        stream.write_all(&hello).await.ok()?;
        let mut buf = vec![0u8; 16 * 1024];
        let mut filled = 0;
        // The first record's header and the first bytes of its body
        // suffice: 7 bytes make an alert, 11 reach a ServerHello's version.
        while filled < 11 && !(filled >= 7 && buf[0] == 0x15) {
            let n = stream.read(&mut buf[filled..]).await.ok()?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Some(parse_answer(&buf[..filled]))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .ok()
        .flatten()
        .unwrap_or(LegacyAnswer::Nothing)
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn push_u24(out: &mut Vec<u8>, v: usize) {
    let v = u32::try_from(v).unwrap_or(u32::MAX).to_be_bytes();
    out.extend_from_slice(&v[1..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_well_formed() {
        let hello = client_hello(Some("old.example"), [7; 32]);
        assert_eq!(&hello[..3], &[0x16, 0x03, 0x01]);
        let record_len = u16::from_be_bytes([hello[3], hello[4]]) as usize;
        assert_eq!(record_len, hello.len() - 5);
        assert_eq!(hello[5], 1, "client_hello");
        let hs_len = u32::from_be_bytes([0, hello[6], hello[7], hello[8]]) as usize;
        assert_eq!(hs_len, record_len - 4);
        assert_eq!(&hello[9..11], &[0x03, 0x02]);
        let text = String::from_utf8_lossy(&hello);
        assert!(text.contains("old.example"));
    }

    #[test]
    fn answers_parse() {
        let server_hello = [
            0x16, 0x03, 0x01, 0x00, 0x30, 0x02, 0x00, 0x00, 0x2c, 0x03, 0x01,
        ];
        assert_eq!(parse_answer(&server_hello), LegacyAnswer::Version(0x0301));
        let alert = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46];
        assert_eq!(parse_answer(&alert), LegacyAnswer::Alert(0x46));
        for junk in [
            &b""[..],
            b"HTTP/1.1 400",
            &[0x16, 0x03, 0x01, 0x00, 0x01, 0x01],
        ] {
            assert_eq!(parse_answer(junk), LegacyAnswer::Nothing);
        }
        assert_eq!(version_label(0x0302), "TLS 1.1");
    }
}
