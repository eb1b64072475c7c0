//! gsmtap: GSM air-interface captures in GSMTAP (UDP 4729, libosmocore
//! `gsmtap.h`, version 2): the Um signalling channels' LAPDm frames
//! (3GPP TS 44.006) are reassembled per link, and their layer-3 messages
//! decoded: SMS (CP-DATA, RP-DATA, TPDU) and mobile identities (MM, RR,
//! GMM). Other GSMTAP types and the broadcast, common, packet and voice
//! channels are counted, not decoded.
//!
//! Input: UDP payloads in capture order. Output: [`Event`]s and
//! [`GsmtapStats`]. Never: hold more than [`MAX_LINKS`] links of at most
//! [`MAX_LINK_BYTES`] each, or the parts [`super::concat`] allows.

use std::collections::HashMap;

use super::concat::{ConcatStats, Reassembler};
use super::nas::{IdentityKind, L3Message, l3_identity};
use super::rp::{Cp, PD_SMS, decode_cp};
use super::{Sms, SmsError, from_rpdu};

/// GSMTAP version this decoder reads.
pub const GSMTAP_VERSION: u8 = 2;
/// IANA-registered UDP port.
pub const GSMTAP_PORT: u16 = 4729;
/// The fixed header: 16 octets (hdr_len counts 32-bit words).
const HEADER_LEN: usize = 16;
/// GSMTAP_TYPE_UM: a Um layer-2 block.
pub const TYPE_UM: u8 = 0x01;
const ARFCN_F_UPLINK: u16 = 0x4000;
const ARFCN_F_PCS: u16 = 0x8000;
const ARFCN_MASK: u16 = 0x3fff;
/// GSMTAP_CHANNEL_* (sub_type of TYPE_UM); ACCH is a flag (SACCH).
const CHANNEL_SDCCH: u8 = 0x06;
const CHANNEL_SDCCH4: u8 = 0x07;
const CHANNEL_SDCCH8: u8 = 0x08;
const CHANNEL_TCH_F: u8 = 0x09;
const CHANNEL_TCH_H: u8 = 0x0a;
const CHANNEL_ACCH: u8 = 0x80;
/// The SACCH block starts with a 2-octet L1 header (power, timing
/// advance) before LAPDm (TS 44.004 7.2; Wireshark `dissect_sacch_l1h`).
const SACCH_L1_HEADER: usize = 2;
/// LAPDm address, control and length octets (format B, TS 44.006 2.1).
const LAPDM_HEADER: usize = 3;
/// Format B4 (downlink SACCH UI frames): no length indicator (44.006
/// 2.1; Wireshark's `LAPDM_HDR_FMT_B4`). They carry the system
/// information of TS 44.018 9.1.37-40, which starts with its own L2
/// pseudo length and names no subscriber: counted, not decoded.
const LAPDM_HEADER_B4: usize = 2;
const LAPDM_SAPI_SHIFT: u8 = 2;
const LAPDM_M: u8 = 0x02;
const LAPDM_LEN_SHIFT: u8 = 2;
/// Longest information field in one frame (N201 of SDCCH/FACCH, 44.006 5.8.3).
const N201_MAX: usize = 20;
/// U-frame commands with the P/F bit cleared (TS 44.006 3.8.1).
const U_UI: u8 = 0x03;
/// SABM (P bit clear): 001P 1111.
const U_SABM: u8 = 0x2f;
const U_PF: u8 = 0x10;

/// Most bytes gathered from the segments of one layer-3 message.
pub const MAX_LINK_BYTES: usize = 2048;
/// Most data links followed at once (each holds its partial message).
pub const MAX_LINKS: usize = 256;

/// What a GSMTAP datagram yielded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A short message (whole, or partial at the end / on eviction).
    Sms(Sms),
    /// A mobile identity sent in clear. A TMSI is not an identifier
    /// ([`IdentityKind::is_identifier`]).
    Identity { kind: IdentityKind, value: String, uplink: bool, message: L3Message },
}

/// Counters: nothing is dropped without one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GsmtapStats {
    pub datagrams: u64,
    /// Datagrams of GSMTAP_TYPE_UM.
    pub um: u64,
    /// Datagrams of other GSMTAP types (Abis, bursts, UMTS, LTE...): counted.
    pub other_types: u64,
    /// Um blocks on channels not decoded (BCCH, CCCH, packet, voice...).
    pub other_channels: u64,
    /// Headers, frames or messages that did not parse.
    pub malformed: u64,
    pub lapdm_i_frames: u64,
    pub lapdm_ui_frames: u64,
    /// Supervisory and U frames other than UI (no payload).
    pub lapdm_control_frames: u64,
    /// I frames repeated with the same N(S) and bytes (retransmissions).
    pub lapdm_duplicates: u64,
    /// Segmented messages never finished (counted at the end).
    pub lapdm_incomplete: u64,
    /// Link buffers dropped for [`MAX_LINK_BYTES`] or [`MAX_LINKS`].
    pub reassembly_limit_hits: u64,
    pub l3_messages: u64,
    /// Layer-3 messages of no interest here (other PDs and types).
    pub l3_not_decoded: u64,
    /// Well-formed SMS PDUs with no user text (acks, reports).
    pub sms_control: u64,
}

/// The parsed GSMTAP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    /// Header length in octets (hdr_len * 4).
    pub header_len: usize,
    pub kind: u8,
    pub timeslot: u8,
    pub arfcn: u16,
    pub uplink: bool,
    pub pcs: bool,
    pub signal_dbm: i8,
    pub snr_db: i8,
    pub frame_number: u32,
    pub sub_type: u8,
    pub antenna: u8,
    pub sub_slot: u8,
}

impl Header {
    /// Reads the header; returns it and the payload after it.
    pub fn parse(b: &[u8]) -> Result<(Header, &[u8]), SmsError> {
        let h = b.get(..HEADER_LEN).ok_or(SmsError::Truncated("GSMTAP header"))?;
        if h[0] != GSMTAP_VERSION {
            return Err(SmsError::Unexpected { field: "GSMTAP version", value: h[0] });
        }
        let header_len = usize::from(h[1]) * 4;
        if header_len < HEADER_LEN {
            return Err(SmsError::TooLong { field: "GSMTAP hdr_len", len: header_len });
        }
        let payload = b.get(header_len..).ok_or(SmsError::Truncated("GSMTAP header"))?;
        let arfcn = u16::from_be_bytes([h[4], h[5]]);
        let header = Header {
            version: h[0],
            header_len,
            kind: h[2],
            timeslot: h[3],
            arfcn: arfcn & ARFCN_MASK,
            uplink: arfcn & ARFCN_F_UPLINK != 0,
            pcs: arfcn & ARFCN_F_PCS != 0,
            signal_dbm: i8::from_be_bytes([h[6]]),
            snr_db: i8::from_be_bytes([h[7]]),
            frame_number: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            sub_type: h[12],
            antenna: h[13],
            sub_slot: h[14],
        };
        Ok((header, payload))
    }

    /// A dedicated signalling channel (SDCCH, FACCH, or their SACCH),
    /// which carries LAPDm with address and control fields.
    fn dedicated(&self) -> bool {
        matches!(
            self.sub_type & !CHANNEL_ACCH,
            CHANNEL_SDCCH | CHANNEL_SDCCH4 | CHANNEL_SDCCH8 | CHANNEL_TCH_F | CHANNEL_TCH_H
        )
    }
}

/// One LAPDm data link, in one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct LinkKey {
    arfcn: u16,
    uplink: bool,
    timeslot: u8,
    sub_slot: u8,
    /// The channel, with the ACCH flag: SACCH and its main channel differ.
    sub_type: u8,
    sapi: u8,
}

#[derive(Debug, Default)]
struct Link {
    /// Segments of the message being received.
    buf: Vec<u8>,
    /// Past [`MAX_LINK_BYTES`]: the rest of the message is skipped.
    overflowed: bool,
    /// The last I frame taken: N(S) and information, to spot repeats.
    last: Option<(u8, [u8; N201_MAX], usize)>,
    /// Last use, for eviction.
    used: u64,
}

/// GSMTAP decoder of one capture.
#[derive(Debug, Default)]
pub struct Gsmtap {
    links: HashMap<LinkKey, Link>,
    clock: u64,
    concat: Reassembler,
    stats: GsmtapStats,
}

impl Gsmtap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> GsmtapStats {
        self.stats
    }

    pub fn concat_stats(&self) -> ConcatStats {
        self.concat.stats()
    }

    /// Decodes one GSMTAP datagram (a UDP payload); pushes what it yields.
    pub fn datagram(&mut self, payload: &[u8], out: &mut Vec<Event>) {
        self.stats.datagrams += 1;
        let Ok((h, body)) = Header::parse(payload) else {
            self.stats.malformed += 1;
            return;
        };
        if h.kind != TYPE_UM {
            self.stats.other_types += 1;
            return;
        }
        self.stats.um += 1;
        if !h.dedicated() {
            self.stats.other_channels += 1;
            return;
        }
        let frame = if h.sub_type & CHANNEL_ACCH != 0 { body.get(SACCH_L1_HEADER..) } else { Some(body) };
        match frame {
            Some(f) if f.len() >= LAPDM_HEADER_B4 => self.lapdm(&h, f, out),
            _ => self.stats.malformed += 1,
        }
    }

    /// Ends the capture: partial concatenated messages are emitted and
    /// unfinished segmented messages counted.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let pending = self.links.values().filter(|l| !l.buf.is_empty()).count();
        self.stats.lapdm_incomplete += pending as u64;
        self.links.clear();
        let mut msgs = Vec::new();
        self.concat.finish(&mut msgs);
        out.extend(msgs.into_iter().map(Event::Sms));
    }

    /// A LAPDm frame: address, control, length indicator, information.
    fn lapdm(&mut self, h: &Header, f: &[u8], out: &mut Vec<Event>) {
        let (address, control) = (f[0], f[1]);
        let ui = control & !U_PF == U_UI;
        if ui && !h.uplink && h.sub_type & CHANNEL_ACCH != 0 {
            self.stats.lapdm_ui_frames += 1;
            self.stats.l3_not_decoded += 1;
            return;
        }
        let length = f.get(2).copied().unwrap_or_default();
        let len = usize::from(length >> LAPDM_LEN_SHIFT);
        let Some(info) = f.get(LAPDM_HEADER..LAPDM_HEADER + len) else {
            self.stats.malformed += 1;
            return;
        };
        let key = LinkKey {
            arfcn: h.arfcn,
            uplink: h.uplink,
            timeslot: h.timeslot,
            sub_slot: h.sub_slot,
            sub_type: h.sub_type,
            sapi: (address >> LAPDM_SAPI_SHIFT) & 0b111,
        };
        if control & 0x01 == 0 {
            self.stats.lapdm_i_frames += 1;
            let ns = (control >> 1) & 0b111;
            if let Some(msg) = self.segment(key, ns, info, length & LAPDM_M != 0) {
                self.l3(&msg, h.uplink, out);
            }
        } else if ui {
            self.stats.lapdm_ui_frames += 1;
            if !info.is_empty() {
                self.l3(info, h.uplink, out);
            }
        } else {
            self.stats.lapdm_control_frames += 1;
            // A SABM may carry the first layer-3 message (contention
            // resolution, TS 44.006 5.4.1.1), as a phone does on a new
            // channel: a Location Updating Request, a Paging Response.
            if control & !U_PF == U_SABM && !info.is_empty() {
                self.l3(info, h.uplink, out);
            }
            if control & 0b11 == 0b11 {
                // SABM, UA, DISC, DM: the link (re)starts or ends, both
                // directions count from N(S) = 0 again.
                for uplink in [false, true] {
                    if let Some(l) = self.links.remove(&LinkKey { uplink, ..key })
                        && !l.buf.is_empty()
                    {
                        self.stats.lapdm_incomplete += 1;
                    }
                }
            }
        }
    }

    /// Adds an I frame to its link; returns the message it completes.
    fn segment(&mut self, key: LinkKey, ns: u8, info: &[u8], more: bool) -> Option<Vec<u8>> {
        self.clock += 1;
        if !self.links.contains_key(&key) && self.links.len() >= MAX_LINKS {
            self.evict_oldest();
        }
        let link = self.links.entry(key).or_default();
        link.used = self.clock;
        let mut last = [0u8; N201_MAX];
        let n = info.len().min(N201_MAX);
        last[..n].copy_from_slice(&info[..n]);
        if link.last == Some((ns, last, n)) {
            self.stats.lapdm_duplicates += 1;
            return None;
        }
        link.last = Some((ns, last, n));
        if !link.overflowed && link.buf.len() + info.len() > MAX_LINK_BYTES {
            link.buf = Vec::new();
            link.overflowed = true;
            self.stats.reassembly_limit_hits += 1;
        }
        if !link.overflowed {
            link.buf.extend_from_slice(info);
        }
        if more {
            return None;
        }
        link.overflowed = false;
        let msg = std::mem::take(&mut link.buf);
        (!msg.is_empty()).then_some(msg)
    }

    fn evict_oldest(&mut self) {
        let Some(key) = self.links.iter().min_by_key(|(_, l)| l.used).map(|(k, _)| *k) else { return };
        if let Some(l) = self.links.remove(&key)
            && !l.buf.is_empty()
        {
            self.stats.reassembly_limit_hits += 1;
        }
    }

    /// A layer-3 message: SMS by protocol discriminator 9, identities by
    /// MM / RR / GMM.
    fn l3(&mut self, msg: &[u8], uplink: bool, out: &mut Vec<Event>) {
        self.stats.l3_messages += 1;
        let Some(&pd) = msg.first() else { return };
        if pd & 0x0f == PD_SMS {
            let sms = decode_cp(msg).and_then(|cp| match cp {
                Cp::Data { rpdu, .. } => from_rpdu(rpdu, uplink),
                Cp::Ack { .. } | Cp::Error { .. } => Ok(None),
            });
            match sms {
                Ok(Some(part)) => {
                    let mut msgs = Vec::new();
                    self.concat.push(part, &mut msgs);
                    out.extend(msgs.into_iter().map(Event::Sms));
                }
                Ok(None) => self.stats.sms_control += 1,
                Err(e) if !e.is_malformed() => self.stats.sms_control += 1,
                Err(_) => self.stats.malformed += 1,
            }
            return;
        }
        match l3_identity(msg) {
            Ok(Some((message, id))) => {
                out.push(Event::Identity { kind: id.kind, value: id.value, uplink, message });
            }
            Ok(None) => self.stats.l3_not_decoded += 1,
            Err(_) => self.stats.malformed += 1,
        }
    }
}
