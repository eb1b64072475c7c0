//! Class "tunnels": identifiers inside L2TPv2 (UDP 1701, PPP inside), as
//! broadband routers and VPN concentrators carry subscribers' traffic.
//! Each case builds its conversation in a scratch [`Net`] from the
//! client it is given (IPv6 cases: the same port on an IPv6 address),
//! then wraps every packet in L2TP, so the findings carry the inner
//! addresses and ports. 802.11 captures (link types 105, 127, 192) cannot
//! be written by the harness's Ethernet pcap: they are in
//! `tests/decode_l2.rs`.

use super::{ClassCase, IMEI, get};
use crate::support::wifi::{self, L2tpForm};
use crate::support::{Net, ts};

const CLASS: &str = "tunnels";

/// The case's client port on an IPv6 address.
fn v6(client: &str) -> String {
    let port = client.rsplit(':').next().unwrap_or("0");
    format!("[2001:db8:9::2]:{port}")
}

/// An HTTP exchange of `request`, in L2TP written as `form`.
fn in_l2tp(what: &'static str, form: L2tpForm, ipv6: bool, request: Vec<u8>) -> ClassCase {
    ClassCase {
        class: CLASS,
        what,
        build: Box::new(move |net: &mut Net, client: &str, t: i64| {
            let (client, server) = if ipv6 {
                (v6(client), "[2001:db8:80::80]:80".to_string())
            } else {
                (client.to_string(), "192.0.2.80:80".to_string())
            };
            let mut inner = Net::default();
            let resp = b"HTTP/1.1 204 No Content\r\n\r\n";
            inner.http(ts(t, 0), &client, &server, &request, resp, (t as u32).wrapping_mul(2_654_435_761));
            wifi::wrap_into(net, &inner, |ip| wifi::l2tp(form, ip));
        }),
        must: Vec::new(),
        profile: false,
    }
}

/// One UDP datagram to L2TP's port, outside any case's connection: a
/// finding from it is a false alarm of no case.
fn datagram(what: &'static str, packet: Vec<u8>) -> ClassCase {
    ClassCase {
        class: CLASS,
        what,
        build: Box::new(move |net: &mut Net, _client: &str, t: i64| net.push(ts(t, 0), packet.clone())),
        must: Vec::new(),
        profile: false,
    }
}

pub fn cases() -> Vec<ClassCase> {
    let req = || get("t.example", &format!("/u?imei={IMEI}"), "");
    let text = format!("imei={IMEI}");
    let lcp = [vec![0x01, 0x01, 0x00, (4 + text.len()) as u8], text.clone().into_bytes()].concat();
    vec![
        in_l2tp("IMEI in HTTP over IPv4 in L2TP", L2tpForm::PLAIN, false, req()).must("imei", IMEI),
        in_l2tp("IMEI in HTTP over IPv6 in L2TP", L2tpForm::PLAIN, true, req()).must("imei", IMEI),
        in_l2tp("IMEI in L2TP with length, Ns/Nr, offset; PPP compressed", L2tpForm::FULL, false, req())
            .must("imei", IMEI),
        in_l2tp("L2TP, nothing to find", L2tpForm::PLAIN, false, get("t.example", "/s?page=2", "")).clean(),
        datagram(
            "L2TP control message with imei= in its Host Name AVP",
            wifi::l2tp_control(&[wifi::avp(0, &[0, 1]), wifi::avp(7, text.as_bytes())].concat()),
        )
        .clean(),
        datagram(
            "PPP LCP in L2TP with imei= in its data",
            crate::support::ipv4_udp(wifi::LAC, wifi::LNS, 1701, 1701, &wifi::l2tp_data(L2tpForm::PLAIN, 0xc021, &lcp)),
        )
        .clean(),
    ]
}
