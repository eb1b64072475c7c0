//! appmeta: which app or process a frame belongs to, as capture tools
//! record it.
//!
//! Sources, each read as its writer writes it:
//! - PCAPdroid "dump extensions" in pcap (`pcap_dump.c`,
//!   `dump_packet_pcap`): Ethernet frames with a zeroed fake header, the IP
//!   packet, 0-3 zero bytes to 4-byte alignment, then a 32-byte trailer:
//!   magic `0x01072021` and uid (both network order), app name (20 bytes,
//!   NUL-padded), and a CRC-32 (zlib's) of every frame byte before it, in
//!   the writer's host order (little-endian on Android).
//! - PCAPdroid pcapng: Custom Blocks (type 0xBAD, PEN 62652, version 1,
//!   record type 1 = uid map: uid i32, package name and app name lengths
//!   u8, the names) and per-packet comments `u-<uid>`.
//! - ptcpdump pcapng comments: `PID: n\nCmd: /path\nArgs: ...`, with
//!   thread, user and parent details in further comments.
//! - Apple PKTAP (`pktap.h`): the header's pid and command name, and the
//!   effective (delegated) process, preferred when set.
//!
//! Every frame of one app shares one [`AppRef`] ([`Arc`]): a frame costs a
//! pointer.
//!
//! Never: panic or allocate per frame for a known app.

use std::collections::HashMap;
use std::sync::Arc;

pub use crate::finding::AppRef;

pub const SOURCE_PCAPDROID: &str = "pcapdroid";
pub const SOURCE_PTCPDUMP: &str = "ptcpdump";
pub const SOURCE_PKTAP: &str = "pktap";

/// PCAPdroid's trailer magic, written in network order.
pub const PCAPDROID_TRAILER_MAGIC: u32 = 0x0107_2021;
/// PCAPdroid's private enterprise number, in its custom blocks.
pub const PCAPDROID_PEN: u32 = 62652;
/// Bytes of the PCAPdroid trailer: magic, uid, app name, FCS.
pub const PCAPDROID_TRAILER_LEN: usize = 32;
const ETH_HEADER_LEN: usize = 14;
/// Apple's `DLT_PKTAP` (`pcap/dlt.h`), as libpcap writes it in files.
pub const LINKTYPE_PKTAP: i32 = 258;
/// `PTH_TYPE_PACKET`: a PKTAP record holding a packet.
pub const PTH_TYPE_PACKET: u32 = 1;
/// Apps remembered per capture; past it, new apps still get an
/// [`AppRef`] each, just not shared.
pub const MAX_APPS: usize = 1 << 16;

/// CRC-32 as zlib computes it (reflected, polynomial 0xEDB88320): zlib-rs's
/// through flate2, with carry-less multiplication where the CPU has it
/// (detected at run time): every frame of a PCAPdroid export is summed.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

/// A PCAPdroid trailer found at the end of an Ethernet frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapdroidTrailer<'a> {
    /// Frame bytes to keep: the Ethernet header and the IP packet (the
    /// alignment padding too when the IP header's length does not account
    /// for it).
    pub keep: usize,
    pub uid: i32,
    /// The app name, NUL padding removed (not checked for UTF-8).
    pub app_name: &'a [u8],
    /// The FCS matched the CRC-32 of the frame before it.
    pub crc_ok: bool,
}

/// The PCAPdroid trailer of an Ethernet frame, when its last 32 bytes
/// start with the magic (as PCAPdroid's own reader decides,
/// `pcap_reader.c`).
pub fn pcapdroid_trailer(frame: &[u8]) -> Option<PcapdroidTrailer<'_>> {
    // PCAPdroid writes a zeroed fake Ethernet header: a real frame (real
    // addresses) whose payload happens to end like a trailer is not one.
    if frame.len() <= ETH_HEADER_LEN + PCAPDROID_TRAILER_LEN || frame[..12].iter().any(|&b| b != 0) {
        return None;
    }
    let at = frame.len() - PCAPDROID_TRAILER_LEN;
    let t = &frame[at..];
    if u32::from_be_bytes([t[0], t[1], t[2], t[3]]) != PCAPDROID_TRAILER_MAGIC {
        return None;
    }
    let uid = i32::from_be_bytes([t[4], t[5], t[6], t[7]]);
    let name = &t[8..28];
    let app_name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    let fcs = [t[28], t[29], t[30], t[31]];
    let crc = crc32(&frame[..frame.len() - 4]);
    // Host order of the writer: little-endian on Android; accept the other
    // order too (a big-endian build).
    let crc_ok = u32::from_le_bytes(fcs) == crc || u32::from_be_bytes(fcs) == crc;
    // The padding is 0-3 zero bytes after the IP packet; the IP header's
    // own length tells where the packet ends.
    let body = &frame[ETH_HEADER_LEN..at];
    let ip_len = match body.first().map(|b| b >> 4) {
        Some(4) if body.len() >= 4 => Some(usize::from(u16::from_be_bytes([body[2], body[3]]))),
        Some(6) if body.len() >= 6 => Some(40 + usize::from(u16::from_be_bytes([body[4], body[5]]))),
        _ => None,
    };
    let keep = match ip_len {
        Some(n) if n <= body.len() && body.len() - n <= 3 && body[n..].iter().all(|&b| b == 0) => ETH_HEADER_LEN + n,
        // The IP length covers the trailer's bytes: only a matching CRC
        // says they are a trailer and not the packet's own data.
        _ if !crc_ok => return None,
        _ => at,
    };
    Some(PcapdroidTrailer { keep, uid, app_name, crc_ok })
}

/// The uid of a PCAPdroid packet comment `u-<uid>`.
pub fn pcapdroid_comment(comment: &str) -> Option<i32> {
    comment.strip_prefix("u-")?.parse().ok()
}

/// One PCAPdroid uid map record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UidMap {
    pub uid: i32,
    pub package: String,
    pub app_name: String,
    /// A name was not UTF-8: read with U+FFFD in its place.
    pub lossy: bool,
}

/// Why a PCAPdroid custom block could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomBlockError {
    /// Not PCAPdroid's, or not a uid map: not an error, just not ours.
    NotUidMap,
    Truncated,
}

/// A PCAPdroid uid map from a custom block's bytes after the PEN
/// (`pcapng_pd_uid_map_block_t`, in the section's byte order).
pub fn pcapdroid_uid_map(pen: u32, data: &[u8], big_endian: bool) -> Result<UidMap, CustomBlockError> {
    if pen != PCAPDROID_PEN {
        return Err(CustomBlockError::NotUidMap);
    }
    // version u16, type u8, padding u8, uid i32, two u8 lengths.
    let Some(h) = data.get(..10) else {
        return Err(CustomBlockError::Truncated);
    };
    if h[2] != 1 {
        return Err(CustomBlockError::NotUidMap);
    }
    let u = [h[4], h[5], h[6], h[7]];
    let uid = if big_endian { i32::from_be_bytes(u) } else { i32::from_le_bytes(u) };
    let (pkg_len, app_len) = (usize::from(h[8]), usize::from(h[9]));
    let names = &data[10..];
    let (Some(pkg), Some(app)) = (names.get(..pkg_len), names.get(pkg_len..pkg_len + app_len)) else {
        return Err(CustomBlockError::Truncated);
    };
    let lossy = std::str::from_utf8(pkg).is_err() || std::str::from_utf8(app).is_err();
    let text = |b: &[u8]| crate::util::lossy(b).into_owned();
    Ok(UidMap { uid, package: text(pkg), app_name: text(app), lossy })
}

/// The process of a ptcpdump packet comment: `PID: n` on the first line
/// and the `Cmd: ` line's path.
pub fn ptcpdump_comment(comment: &str) -> Option<(i64, Option<&str>)> {
    let mut lines = comment.lines();
    let pid = lines.next()?.strip_prefix("PID: ")?.trim().parse().ok()?;
    let cmd = lines.find_map(|l| l.strip_prefix("Cmd: ")).map(str::trim).filter(|c| !c.is_empty());
    Some((pid, cmd))
}

/// The command name of a `Cmd` path: its last component; a kernel
/// thread's bracketed name (`[kworker/0:1]`) whole.
pub fn command_name(cmd: &str) -> &str {
    if cmd.starts_with('[') && cmd.ends_with(']') {
        return cmd;
    }
    cmd.rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or(cmd)
}

/// The parts of an Apple PKTAP header (`struct pktap_header`, host
/// order: little-endian on every Mac and iPhone) used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PktapHeader<'a> {
    /// `pth_length`: where the inner packet starts.
    pub len: usize,
    pub record_type: u32,
    /// The inner packet's link type.
    pub dlt: u32,
    pub ifname: &'a [u8],
    pub pid: i32,
    pub comm: &'a [u8],
    pub epid: i32,
    pub ecomm: &'a [u8],
}

/// Bytes of the PKTAP header up to and including `pth_ecomm`.
pub const PKTAP_MIN_HEADER: usize = 108;

fn cstr(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// Reads a PKTAP header; `None` when too short or its length is not
/// within the frame.
pub fn pktap_header(data: &[u8]) -> Option<PktapHeader<'_>> {
    let h = data.get(..PKTAP_MIN_HEADER)?;
    let u = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let len = u(0) as usize;
    if len < PKTAP_MIN_HEADER || len > data.len() {
        return None;
    }
    Some(PktapHeader {
        len,
        record_type: u(4),
        dlt: u(8),
        ifname: cstr(&h[12..36]),
        pid: u(52) as i32,
        comm: cstr(&h[56..73]),
        epid: u(84) as i32,
        ecomm: cstr(&h[88..105]),
    })
}

impl PktapHeader<'_> {
    /// The process to attribute: the effective one when set, else the
    /// one that made the socket. `None` when neither is known (-1).
    pub fn process(&self) -> Option<(i32, &[u8])> {
        if self.epid > 0 && self.epid != self.pid {
            Some((self.epid, self.ecomm))
        } else if self.pid >= 0 {
            Some((self.pid, self.comm))
        } else {
            None
        }
    }
}

/// Shares one [`AppRef`] per app across the frames of a capture.
#[derive(Debug, Default)]
pub struct AppCache {
    apps: HashMap<(&'static str, i64), Arc<AppRef>>,
}

impl AppCache {
    /// The shared [`AppRef`] of `source` and `id`, made anew when the
    /// names differ from the one remembered (a reused pid).
    pub fn get(&mut self, source: &'static str, id: i64, name: Option<&str>, label: Option<&str>) -> Arc<AppRef> {
        if let Some(a) = self.apps.get(&(source, id))
            && a.name.as_deref() == name
            && (label.is_none() || a.label.as_deref() == label)
        {
            return a.clone();
        }
        let app =
            Arc::new(AppRef { id: Some(id), name: name.map(str::to_string), label: label.map(str::to_string), source });
        if self.apps.len() < MAX_APPS || self.apps.contains_key(&(source, id)) {
            self.apps.insert((source, id), app.clone());
        }
        app
    }

    /// What is known of `source` and `id` (PCAPdroid comments name only
    /// the uid; the uid map names it).
    pub fn by_id(&mut self, source: &'static str, id: i64) -> Arc<AppRef> {
        match self.apps.get(&(source, id)) {
            Some(a) => a.clone(),
            None => self.get(source, id, None, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_zlib() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    /// A frame as `dump_packet_pcap` builds it.
    fn pcapdroid_frame(ip: &[u8], uid: i32, name: &str) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        f.extend_from_slice(ip);
        while !f.len().is_multiple_of(4) {
            f.push(0);
        }
        f.extend_from_slice(&PCAPDROID_TRAILER_MAGIC.to_be_bytes());
        f.extend_from_slice(&uid.to_be_bytes());
        let mut n = [0u8; 20];
        n[..name.len()].copy_from_slice(name.as_bytes());
        f.extend_from_slice(&n);
        let crc = crc32(&f);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }

    #[test]
    fn pcapdroid_trailer_is_found_and_its_padding_cut() {
        // An IPv4 header of total length 21 (1 payload byte): 3 bytes pad.
        let mut ip = vec![0x45, 0, 0, 21];
        ip.resize(21, 7);
        let f = pcapdroid_frame(&ip, 10123, "com.example");
        let t = pcapdroid_trailer(&f).unwrap();
        assert_eq!(t, PcapdroidTrailer { keep: 14 + 21, uid: 10123, app_name: b"com.example", crc_ok: true });
        let mut bad = f.clone();
        bad[20] ^= 1;
        assert!(!pcapdroid_trailer(&bad).unwrap().crc_ok);
        // An IP length that lies (the CRC matches): only the trailer is cut.
        let mut lying = f.clone();
        lying[14 + 3] = 200;
        let n = lying.len();
        let crc = crc32(&lying[..n - 4]);
        lying[n - 4..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(pcapdroid_trailer(&lying).unwrap().keep, lying.len() - 32);
        // The same with a CRC that does not match: the bytes are the
        // packet's own, not a trailer.
        lying[n - 1] ^= 1;
        assert_eq!(pcapdroid_trailer(&lying), None);
        // A real Ethernet header: never PCAPdroid's, whatever the payload.
        let mut real = f;
        real[..6].copy_from_slice(&[0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]);
        let crc = crc32(&real[..n - 4]);
        real[n - 4..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(pcapdroid_trailer(&real), None);
        assert_eq!(pcapdroid_trailer(&[0u8; 46]), None);
        assert_eq!(pcapdroid_trailer(&[]), None);
    }

    #[test]
    fn comments_of_both_writers() {
        assert_eq!(pcapdroid_comment("u-10123"), Some(10123));
        assert_eq!(pcapdroid_comment("u--1"), Some(-1));
        assert_eq!(pcapdroid_comment("u-x"), None);
        // As in ../shared/corpus-extra/ptcpdump/curl-thread.pcapng.
        let c = "PID: 122868\nCmd: /usr/bin/curl\nArgs: curl kernel.com";
        assert_eq!(ptcpdump_comment(c), Some((122868, Some("/usr/bin/curl"))));
        assert_eq!(ptcpdump_comment("ThreadId: 122868\nThreadName: curl"), None);
        assert_eq!(ptcpdump_comment("PID: 7"), Some((7, None)));
        assert_eq!(command_name("/usr/bin/curl"), "curl");
        assert_eq!(command_name("curl"), "curl");
        assert_eq!(command_name("/"), "/");
        assert_eq!(command_name("[kworker/0:1]"), "[kworker/0:1]");
    }

    #[test]
    fn uid_map_as_dump_pcapng_uid_mapping_writes_it() {
        let mut d = vec![1, 0, 1, 0];
        d.extend_from_slice(&10123i32.to_le_bytes());
        d.extend_from_slice(&[11, 7]);
        d.extend_from_slice(b"com.exampleExample");
        d.extend_from_slice(&[0, 0]);
        let m = pcapdroid_uid_map(PCAPDROID_PEN, &d, false).unwrap();
        assert_eq!(m, UidMap { uid: 10123, package: "com.example".into(), app_name: "Example".into(), lossy: false });
        assert_eq!(pcapdroid_uid_map(PCAPDROID_PEN, &d[..15], false), Err(CustomBlockError::Truncated));
        assert_eq!(pcapdroid_uid_map(PCAPDROID_PEN, &d[..9], false), Err(CustomBlockError::Truncated));
        assert_eq!(pcapdroid_uid_map(1, &d, false), Err(CustomBlockError::NotUidMap));
        // A label that is not UTF-8 keeps the package name whole.
        d[21] = 0xff;
        let m = pcapdroid_uid_map(PCAPDROID_PEN, &d, false).unwrap();
        assert_eq!((m.package.as_str(), m.app_name.as_str(), m.lossy), ("com.example", "\u{fffd}xample", true));
    }

    #[test]
    fn pktap_header_of_the_tcpdump_sample() {
        // The first 108 bytes of tcpdump's LINKTYPE_PKTAP.pcap frame.
        let mut h = vec![0u8; 108];
        h[0] = 108;
        h[4] = 1;
        h[8] = 1;
        h[12..15].copy_from_slice(b"en0");
        h[36] = 2;
        h[40] = 2;
        h[44] = 14;
        h[52..56].copy_from_slice(&512i32.to_le_bytes());
        h[84..88].copy_from_slice(&(-1i32).to_le_bytes());
        let p = pktap_header(&h).unwrap();
        assert_eq!((p.len, p.record_type, p.dlt, p.ifname, p.pid, p.epid), (108, 1, 1, &b"en0"[..], 512, -1));
        assert_eq!(p.process(), Some((512, &b""[..])));
        h[84..88].copy_from_slice(&77i32.to_le_bytes());
        h[88..92].copy_from_slice(b"Mail");
        assert_eq!(pktap_header(&h).unwrap().process(), Some((77, &b"Mail"[..])));
        assert_eq!(pktap_header(&h[..107]), None);
        h[0] = 200;
        assert_eq!(pktap_header(&h), None);
    }

    #[test]
    fn cache_shares_one_app_per_id_and_renames_on_change() {
        let mut c = AppCache::default();
        let a = c.get(SOURCE_PTCPDUMP, 5, Some("curl"), None);
        let b = c.get(SOURCE_PTCPDUMP, 5, Some("curl"), None);
        assert!(Arc::ptr_eq(&a, &b));
        let d = c.get(SOURCE_PTCPDUMP, 5, Some("wget"), None);
        assert_eq!(d.name.as_deref(), Some("wget"));
        assert!(Arc::ptr_eq(&d, &c.by_id(SOURCE_PTCPDUMP, 5)));
        assert_eq!(c.by_id(SOURCE_PCAPDROID, 5).name, None);
    }
}
