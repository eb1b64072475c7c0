//! What an independent check of issue 14 (its own generator of phone and
//! ad-SDK traffic) found missing or wrong, each kept as a case: the
//! OpenRTB device object's ids (`ifa`, `didsha1`, `dpidmd5`) and an MSA
//! OAID in 64 hex; a binary datagram that reads as text by its first
//! bytes (the profile's byte forms are searched all the same); and a
//! 19-digit id that passes the ICCID checks by chance under an id key.

use super::{ClassCase, MAC, post};
use crate::support::{self, ts};

fn port(client: &str) -> u16 {
    client.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port")
}

pub fn cases() -> Vec<ClassCase> {
    let ifa = "13aa3743-579c-4733-b8ed-b1a979b59f8a";
    let didsha1 = "09ee13defd8e684e1d86c9e1b39d6ee18911b090";
    let dpidmd5 = "c9f0a9134759b66739fde3d55bb484e8";
    let oaid = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    let bid = format!(
        r#"{{"id":"a1b2","imp":[{{"id":"1","banner":{{"w":320,"h":50}}}}],"device":{{"ua":"Mozilla/5.0","ifa":"{ifa}","didsha1":"{didsha1}","dpidmd5":"{dpidmd5}","os":"android"}},"oaid":"{oaid}","at":1}}"#
    );
    let mac: Vec<u8> = MAC.split(':').map(|h| u8::from_str_radix(h, 16).unwrap()).collect();
    vec![
        ClassCase::http(
            "independent",
            "OpenRTB bid request: ifa, didsha1, dpidmd5, and a 64-hex OAID",
            "192.0.2.80:80",
            post("rtb.example", "/openrtb2/auction", "application/json", &bid),
        )
        .must("advertising_id", ifa)
        .must("imei", didsha1)
        .must("android_id", dpidmd5)
        .must("advertising_id", oaid),
        ClassCase::http(
            "independent",
            "a feed's 19-digit ids, one of which passes the ICCID checks",
            "192.0.2.80:80",
            post(
                "feed.example",
                "/v1/feed",
                "application/json",
                r#"{"since_id":1790000000000000123,"ids":[8996644849620026032,1790000000000000456]}"#,
            ),
        )
        .clean(),
        ClassCase {
            class: "independent",
            what: "a binary datagram whose first bytes read as text, with the MAC's bytes",
            build: Box::new(move |net, client, t| {
                let mut msg = vec![0x60, 0xbe, 0x31, 0x20, 0x1e, 0x69, 0xfe, 0xda];
                msg.extend_from_slice(&mac);
                msg.extend_from_slice(&[0xa0, 0xee, 0xe8, 0xb9, 0x99, 0x7f, 0x5c, 0x7c]);
                net.push(ts(t, 0), support::ipv4_udp([10, 1, 9, 2], [192, 0, 2, 91], port(client), 9998, &msg));
            }),
            must: vec![("mac", MAC.replace(':', ""))],
            profile: true,
        },
    ]
}
