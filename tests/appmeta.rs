//! Per-frame app attribution read from capture metadata (issue 13,
//! capture side): ptcpdump comments, PCAPdroid trailers, uid maps and
//! comments, Apple PKTAP headers; the notes for broken metadata.

mod support;

use std::sync::Arc;

use teleaudit::capture::writer::PcapngWriter;
use teleaudit::capture::{AppRef, CaptureNote, CaptureReader, Linktype};
use teleaudit::decode::{Decoded, Decoder, Transport};

use support::{Link, Net, ts};

/// What one frame gave: its app and its TCP/UDP payload (None when not
/// decoded to a transport).
struct Got {
    app: Option<Arc<AppRef>>,
    tcp: bool,
    /// The frame's length as the reader gave it.
    len: usize,
    payload: Option<Vec<u8>>,
}

fn read(bytes: Vec<u8>) -> (Vec<Got>, Vec<CaptureNote>, Decoder) {
    let mut r = CaptureReader::open(Box::new(std::io::Cursor::new(bytes))).expect("a capture");
    let mut d = Decoder::new();
    let mut got = Vec::new();
    let mut notes = Vec::new();
    while let Some(f) = r.next_frame().expect("readable") {
        let (app, len) = (f.app.cloned(), f.data.len());
        let (tcp, payload) = match d.decode(&f) {
            Decoded::Packet(p) => match p.transport {
                Transport::Tcp(t) => (true, Some(t.payload.to_vec())),
                Transport::Udp(u) => (false, Some(u.payload.to_vec())),
            },
            _ => (false, None),
        };
        got.push(Got { app, tcp, len, payload });
        notes.extend(r.take_notes());
    }
    notes.extend(r.take_notes());
    (got, notes, d)
}

fn http_net(n: usize) -> Net {
    let mut net = Net::default();
    for i in 0..n {
        let req = format!("GET /track?imei=35{i:013} HTTP/1.1\r\nHost: ads.example\r\n\r\n");
        net.http(
            ts(1_700_000_000 + i as i64, 0),
            &format!("10.0.0.{}:{}", 2 + i % 3, 40_000 + i),
            "93.184.216.34:80",
            req.as_bytes(),
            b"HTTP/1.1 204 No Content\r\n\r\n",
            1000 + i as u32 * 7,
        );
    }
    net
}

#[test]
fn ptcpdump_corpus_attributes_every_tcp_packet_to_curl() {
    let Some(extra) = support::corpus_extra() else { return };
    for (file, pid) in [("curl-thread.pcapng", 122868), ("curl-user.pcapng", 99722), ("tcp.pcapng", 345650)] {
        let path = extra.join("ptcpdump").join(file);
        let (got, notes, _) = read(std::fs::read(&path).expect("corpus file"));
        assert!(notes.is_empty(), "{file}: {notes:?}");
        let tcp: Vec<_> = got.iter().filter(|g| g.tcp).collect();
        assert!(!tcp.is_empty(), "{file}");
        for g in tcp {
            let app = g.app.as_deref().expect("every TCP packet attributed");
            assert_eq!(
                (app.source, app.id, app.name.as_deref(), app.label.as_deref()),
                ("ptcpdump", Some(pid), Some("curl"), Some("/usr/bin/curl")),
                "{file}"
            );
        }
        // One shared AppRef for the whole process.
        assert!(got.windows(2).all(|w| Arc::ptr_eq(w[0].app.as_ref().unwrap(), w[1].app.as_ref().unwrap())));
    }
    let (got, _, _) = read(std::fs::read(extra.join("ptcpdump/dns.pcapng")).unwrap());
    assert!(got.iter().all(|g| g.app.as_ref().and_then(|a| a.name.as_deref()) == Some("dig")));
}

#[test]
fn tcpdump_pktap_sample_decodes_and_is_pid_512() {
    let Some(extra) = support::corpus_extra() else { return };
    let (got, notes, d) = read(std::fs::read(extra.join("tcpdump/LINKTYPE_PKTAP.pcap")).unwrap());
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(got.len(), 1);
    assert_eq!(d.stats.unsupported, 0);
    assert_eq!(d.stats.udp, 1);
    let app = got[0].app.as_deref().unwrap();
    assert_eq!((app.source, app.id, app.name.as_deref()), ("pktap", Some(512), None));
    // The DNS query for in.m.yahoo.com, read past the PKTAP and Ethernet headers.
    assert!(got[0].payload.as_ref().unwrap().windows(5).any(|w| w == b"yahoo"));
}

#[test]
fn pktap_in_pcapng_prefers_the_effective_process() {
    let mut net = Net::default();
    net.dns(ts(1, 0), "10.0.0.2:5353", "10.0.0.1:53", "example.com", [1, 2, 3, 4]);
    let mut w = PcapngWriter::new(Vec::new());
    w.section(false).unwrap();
    w.interface(Linktype(258), 6).unwrap();
    for (i, (t, p)) in net.packets.iter().enumerate() {
        let mut f = support::appmeta::pktap_header(1, 100, "nsurlsessiond", if i == 0 { 4242 } else { -1 }, "Mail");
        f.extend_from_slice(&Link::Ethernet.frame(p));
        w.packet(0, *t, &f).unwrap();
    }
    let (got, notes, d) = read(w.into_inner());
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(d.stats.udp, 2);
    let who: Vec<_> = got.iter().map(|g| g.app.as_deref().map(|a| (a.id, a.name.clone())).unwrap()).collect();
    assert_eq!(who, vec![(Some(4242), Some("Mail".into())), (Some(100), Some("nsurlsessiond".into()))]);
}

fn payloads(got: &[Got]) -> Vec<Option<Vec<u8>>> {
    got.iter().map(|g| g.payload.clone()).collect()
}

#[test]
fn pcapdroid_trailer_is_stripped_and_names_the_app() {
    let net = http_net(6);
    let apps = [(10123, "com.example.ads"), (10456, "org.other")];
    let plain = support::pcap(&net, Link::Ethernet, false, false);
    let (want, _, _) = read(plain);
    let (got, notes, d) = read(support::appmeta::pcapdroid_pcap(&net, &apps, |i| i % 2, false));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(d.stats.malformed + d.stats.truncated, 0);
    // The same segments, byte for byte, and the same frames: the trailer
    // and its padding are cut before decoding.
    assert_eq!(payloads(&got), payloads(&want));
    assert_eq!(got.iter().map(|g| g.len).collect::<Vec<_>>(), want.iter().map(|g| g.len).collect::<Vec<_>>());
    assert!(got.iter().any(|g| g.payload.as_ref().is_some_and(|p| p.starts_with(b"GET /track?imei="))));
    for (i, g) in got.iter().enumerate() {
        let a = g.app.as_deref().unwrap();
        assert_eq!((a.source, a.id, a.name.as_deref()), ("pcapdroid", Some(apps[i % 2].0.into()), Some(apps[i % 2].1)));
    }
}

#[test]
fn pcapdroid_trailer_with_a_bad_crc_is_noted_and_still_stripped() {
    let net = http_net(1);
    let (want, _, _) = read(support::pcap(&net, Link::Ethernet, false, false));
    let (got, notes, _) = read(support::appmeta::pcapdroid_pcap(&net, &[(10123, "com.example")], |_| 0, true));
    assert_eq!(payloads(&got), payloads(&want));
    assert_eq!(got.iter().map(|g| g.len).collect::<Vec<_>>(), want.iter().map(|g| g.len).collect::<Vec<_>>());
    let crc_notes = notes.iter().filter(|n| n.message.contains("PCAPdroid trailer with a bad CRC")).count();
    // One per frame up to the cap, then one summary.
    let frames = got.len() as u64;
    assert_eq!(crc_notes as u64, frames.min(teleaudit::capture::MAX_NOTES_PER_KIND) + u64::from(frames > 10));
    assert!(got.iter().all(|g| g.app.as_ref().is_some_and(|a| a.id == Some(10123))));
}

#[test]
fn pcapdroid_pcapng_uid_map_names_the_package_of_each_comment() {
    let net = http_net(4);
    let apps = [(10123, "com.example.ads", "Example Ads"), (10456, "org.other", "Other")];
    let owner = |i: usize| usize::from(i.is_multiple_of(3));
    let (got, notes, _) = read(support::appmeta::pcapdroid_pcapng(&net, &apps, owner, false));
    assert!(notes.is_empty(), "{notes:?}");
    for (i, g) in got.iter().enumerate() {
        let a = g.app.as_deref().unwrap();
        let (uid, pkg, label) = apps[owner(i)];
        assert_eq!(
            (a.source, a.id, a.name.as_deref(), a.label.as_deref()),
            ("pcapdroid", Some(uid.into()), Some(pkg), Some(label))
        );
    }
    assert!(got.iter().all(|g| g.payload.is_some()));
}

#[test]
fn truncated_uid_map_is_noted_and_the_packets_keep_their_uid() {
    let net = http_net(2);
    let apps = [(10123, "com.example.ads", "Example Ads")];
    let (want, _, _) = read(support::pcapng(&net, &[(Link::Raw, 6)], false));
    let (got, notes, _) = read(support::appmeta::pcapdroid_pcapng(&net, &apps, |_| 0, true));
    assert_eq!(payloads(&got), payloads(&want));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].message.contains("PCAPdroid uid map block truncated"), "{notes:?}");
    assert!(got.iter().all(|g| g.app.as_deref().is_some_and(|a| a.id == Some(10123) && a.name.is_none())));
}

#[test]
fn comment_not_utf8_and_broken_options_are_noted_and_the_packet_kept() {
    let mut net = Net::default();
    net.dns(ts(1, 0), "10.0.0.2:5353", "10.0.0.1:53", "example.com", [1, 2, 3, 4]);
    let p = &net.packets[0].1;
    let mut w = PcapngWriter::new(Vec::new());
    w.section(false).unwrap();
    w.interface(Linktype::RAW, 6).unwrap();
    w.packet_with_options(0, ts(1, 0), p, &[(1, b"PID: 1\nCmd: /bin/\xff\xfe")]).unwrap();
    // An option claiming 200 bytes in a 8-byte options area.
    let mut bad = Vec::new();
    bad.extend_from_slice(&1u16.to_le_bytes());
    bad.extend_from_slice(&200u16.to_le_bytes());
    bad.extend_from_slice(b"PID:");
    w.packet_raw_options(0, ts(1, 0), p, &bad).unwrap();
    // A good comment after a non-UTF-8 one is still used.
    w.packet_with_options(0, ts(1, 0), p, &[(1, b"\xff"), (1, b"PID: 9\nCmd: /usr/bin/dig")]).unwrap();
    let (got, notes, _) = read(w.into_inner());
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|g| g.payload.is_some()), "packets kept and decoded");
    // Read with U+FFFD: the pid and the command are still the process's.
    let a = got[0].app.as_deref().expect("attributed");
    assert_eq!((a.id, a.label.as_deref()), (Some(1), Some("/bin/\u{fffd}\u{fffd}")));
    assert_eq!(got[1].app, None);
    assert!(notes.iter().all(|n| n.attribution), "{notes:?}");
    assert_eq!(notes[0].frame, Some(1));
    assert_eq!(got[2].app.as_deref().and_then(|a| a.name.as_deref()), Some("dig"));
    let msgs: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert!(msgs[0].contains("comment is not UTF-8"), "{msgs:#?}");
    assert!(msgs[1].contains("option 1 of length 200 runs past its block"), "{msgs:#?}");
    assert!(msgs[2].contains("comment is not UTF-8"), "{msgs:#?}");
}

#[test]
fn frames_without_metadata_have_no_app() {
    let net = http_net(1);
    let (got, notes, _) = read(support::pcap(&net, Link::Ethernet, false, false));
    assert!(notes.is_empty());
    assert!(got.iter().all(|g| g.app.is_none()));
}
