//! Captures for the output-safety tests (`tests/hostile_output.rs`): an
//! identifier value where reports print names, not values.

use super::{Link, Net, pcap, ts};

/// A valid IMEI (the usual documentation example).
pub const IMEI: &str = "356938035643809";

/// One HTTP POST whose Host header and a JSON key both carry [`IMEI`]
/// (`$.356938035643809.imei`), besides the `imei` value itself.
pub fn imei_in_host_and_key() -> Vec<u8> {
    let body = format!(r#"{{"{IMEI}": {{"imei": "{IMEI}"}}}}"#);
    let request = format!(
        "POST /v1/report HTTP/1.1\r\nHost: {IMEI}.devices.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut net = Net::default();
    let response = b"HTTP/1.1 204 No Content\r\n\r\n";
    net.http(ts(1_700_000_000, 0), "10.0.0.2:40000", "93.184.216.34:80", request.as_bytes(), response, 1000);
    pcap(&net, Link::Ethernet, false, false)
}
