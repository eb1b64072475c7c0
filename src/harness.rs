//! Harnesses shared by the fuzz targets (`fuzz/`) and the regression
//! tests that keep their reproducers: each takes arbitrary bytes and must
//! return without panicking, hanging or growing without bound.
#![doc(hidden)]

use std::io::Cursor;
use std::sync::LazyLock;

use crate::capture::{CaptureReader, Linktype, writer::PcapWriter};
use crate::detect::Engine;
use crate::detect::profile::Profile;
use crate::detect::rules::RuleSet;
use crate::extract;
use crate::flow::Chunk;
use crate::http::{HttpLimits, RequestStream};
use crate::scan::{Mode, ScanConfig, scan_reader};
use crate::util::Timestamp;

/// Most frames a harness reads from one input (keeps runs short).
const MAX_FRAMES: usize = 10_000;

static CONFIG: LazyLock<ScanConfig> = LazyLock::new(|| {
    let profile = Profile::parse("fuzz", "imei = \"356938035643809\"\nmac = \"a4:5e:60:12:34:56\"\n").ok();
    ScanConfig::new(Engine::new(RuleSet::builtin().unwrap_or_default(), profile.as_ref()), Mode::Scan)
});

/// Capture reading: the bytes as a capture file.
pub fn capture(data: &[u8]) {
    let Ok(mut r) = CaptureReader::open(Box::new(Cursor::new(data.to_vec()))) else { return };
    for _ in 0..MAX_FRAMES {
        match r.next_frame() {
            Ok(Some(f)) => {
                let _ = (f.number, f.data.len());
            }
            _ => break,
        }
        let _ = r.take_notes();
    }
}

/// Decoding, reassembly and everything after: the first byte picks a link
/// type, the rest is cut into frames by 1-byte lengths, written as a pcap
/// and scanned end to end.
pub fn packets(data: &[u8]) {
    const LINKS: [i32; 10] = [1, 101, 113, 276, 0, 108, 239, 104, 228, 229];
    let Some((&first, mut rest)) = data.split_first() else { return };
    let link = Linktype(LINKS[usize::from(first) % LINKS.len()]);
    let Ok(mut w) = PcapWriter::new(Vec::new(), link, false, false) else { return };
    let mut t = 0;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let _ = w.packet(Timestamp::new(t, 0), &tail[..n]);
        rest = &tail[n..];
        t += 1;
    }
    let _ = scan_reader("fuzz", Box::new(Cursor::new(w.into_inner())), &CONFIG);
}

/// HTTP request parsing, extraction and detection: the first byte sets
/// the piece size; pieces whose first byte is 0xff are gaps.
pub fn http(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    let piece = usize::from(first % 64) + 1;
    let (src, dst) = ("10.0.0.1:1000".parse().unwrap_or(([0, 0, 0, 0], 0).into()), ([10, 0, 0, 2], 80).into());
    let mut rs = RequestStream::new(HttpLimits { max_head: 4096, max_body: 8192, max_decoded: 65_536 });
    let mut out = Vec::new();
    for (i, p) in rest.chunks(piece).enumerate() {
        if p[0] == 0xff {
            rs.gap(src, dst, p.len() as u64, &mut out);
        } else {
            rs.feed(src, dst, Chunk { data: p, frame: i as u64 + 1, ts: Timestamp::default() }, &mut out);
        }
    }
    rs.close(src, dst, &mut out);
    for req in &out {
        let fields = extract::request_fields(req);
        let ctx = crate::detect::RequestCtx { method: &req.head.method, host: None, path: "/", dst_port: 80 };
        let _ = CONFIG.engine.detect(&ctx, &fields.fields);
    }
}
