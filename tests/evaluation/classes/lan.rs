//! LAN versus internet (issue 14): what a device announces to the local
//! network (SSDP to the multicast group) is a finding with scope
//! `multicast`, one severity lower; the same identifier sent to a server
//! on the internet keeps its severity (checked in tests/cli.rs).

use super::ClassCase;
use crate::support::{self, ts};

const UUID: &str = "uuid:2fac1234-31f8-11b4-a222-08002b34c003";

fn port(client: &str) -> u16 {
    client.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port")
}

fn ssdp(what: &'static str, payload: String) -> ClassCase {
    ClassCase {
        class: "lan-scope",
        what,
        build: Box::new(move |net, client, t| {
            let p = support::ipv4_udp([10, 1, 9, 2], [239, 255, 255, 250], port(client), 1900, payload.as_bytes());
            net.push(ts(t, 0), p);
        }),
        must: Vec::new(),
        profile: false,
    }
}

pub fn cases() -> Vec<ClassCase> {
    vec![
        ssdp(
            "SSDP NOTIFY with the device's USN",
            format!(
                "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://10.1.9.2:49152/desc.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nSERVER: Linux/3.14 UPnP/1.0 IpBridge/1.26.0\r\nUSN: {UUID}::upnp:rootdevice\r\n\r\n"
            ),
        )
        .must("device_uuid", UUID),
        ssdp(
            "SSDP M-SEARCH (asks, names nothing)",
            "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 2\r\nST: ssdp:all\r\n\r\n".to_string(),
        )
        .clean(),
    ]
}
