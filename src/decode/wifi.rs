//! IEEE 802.11 link layers: bare 802.11 frames (link type 105), with a
//! radiotap header (127) or a PPI header (192) in front. Pure parsers
//! from a captured frame to the LLC/SNAP payload of a data frame, or what
//! the frame is instead (management, control, no data, encrypted, bad).
//!
//! Only data frames carry a payload; protected ones (WEP, TKIP, CCMP,
//! GCMP) carry ciphertext, said apart so that the caller counts them as
//! not inspected. A trailing FCS is stripped when the radiotap or PPI
//! header says one is there; frames whose FCS failed are not read (a
//! corrupt copy of a frame the sender retransmits). A bare 802.11 frame
//! says nothing about its FCS: a trailing one is left to the IP length to
//! cut off, as Wireshark assumes by default.
//!
//! Never: copy bytes, or read past the header lengths the frame declares.

use super::encap::{self, Inner};

/// The 802.11 header of a data frame up to and with Sequence Control.
const DATA_HEADER_LEN: usize = 24;
const ADDR4_LEN: usize = 6;
const QOS_CONTROL_LEN: usize = 2;
const HT_CONTROL_LEN: usize = 4;
const FCS_LEN: usize = 4;
const TYPE_DATA: u8 = 2;
/// Data subtype bits: QoS (a QoS Control field), and no data (Null,
/// CF-Ack, CF-Poll and their QoS forms carry no payload).
const SUBTYPE_QOS: u8 = 0x8;
const SUBTYPE_NO_DATA: u8 = 0x4;
/// Frame Control flags (second byte).
const FLAGS_TO_FROM_DS: u8 = 0x03;
const FLAG_PROTECTED: u8 = 0x40;
const FLAG_ORDER: u8 = 0x80;
/// QoS Control, first byte: the payload is an A-MSDU.
const QOS_AMSDU: u8 = 0x80;
/// A-MSDU subframe header: destination, source, length.
const AMSDU_SUBFRAME_HEADER_LEN: usize = 14;

const RADIOTAP_MIN_LEN: usize = 8;
/// Present-word bits: TSFT (8 bytes, aligned to 8) comes before Flags.
const RADIOTAP_TSFT: u32 = 1 << 0;
const RADIOTAP_FLAGS: u32 = 1 << 1;
/// Another present word follows.
const RADIOTAP_EXT: u32 = 1 << 31;
const RADIOTAP_TSFT_LEN: usize = 8;
/// Radiotap Flags: FCS at the end, padding after the 802.11 header to 32
/// bits, FCS failed.
const RADIOTAP_F_FCS: u8 = 0x10;
const RADIOTAP_F_DATAPAD: u8 = 0x20;
const RADIOTAP_F_BADFCS: u8 = 0x40;

const PPI_HEADER_LEN: usize = 8;
const PPI_FIELD_HEADER_LEN: usize = 4;
/// PPI header flag: fields are padded to 32 bits.
const PPI_ALIGNED: u8 = 0x01;
/// The 802.11-Common field, and its Flags (after an 8-byte TSF timer):
/// FCS present, FCS failed.
const PPI_80211_COMMON: u16 = 2;
const PPI_COMMON_FLAGS_AT: usize = 8;
const PPI_COMMON_FCS: u16 = 0x0001;
const PPI_COMMON_BADFCS: u16 = 0x0004;

/// What an 802.11 frame holds for the IP decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wifi<'a> {
    /// A data frame's payload, after LLC/SNAP.
    Data(Inner<'a>),
    /// The first MSDU of an A-MSDU that holds more (one packet is
    /// decoded per frame: the others are not read).
    FirstOfMany(Inner<'a>),
    /// Management, control, a data frame without data, a later fragment,
    /// or a payload that is not LLC/SNAP: nothing of IP.
    NotIp,
    /// A protected data frame: its payload is ciphertext.
    Protected,
    Truncated,
    /// Lengths or versions that cannot be, or an FCS that failed.
    Malformed,
}

/// The packet after a PPI header, its FCS stripped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ppi<'a> {
    /// The link type of `frame` (105 for 802.11).
    pub dlt: u32,
    pub frame: &'a [u8],
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// The header length in bytes 2-3 (little-endian) of a radiotap or PPI
/// header whose version (byte 0) is 0, checked against the frame.
fn header_len(b: &[u8], min: usize) -> Result<usize, Wifi<'static>> {
    let (Some(&version), Some(len)) = (b.first(), le16(b, 2)) else { return Err(Wifi::Truncated) };
    let len = usize::from(len);
    if version != 0 || len < min {
        return Err(Wifi::Malformed);
    }
    if len > b.len() {
        return Err(Wifi::Truncated);
    }
    Ok(len)
}

/// Strips a trailing FCS.
fn strip_fcs(b: &[u8]) -> Result<&[u8], Wifi<'static>> {
    b.len().checked_sub(FCS_LEN).map(|n| &b[..n]).ok_or(Wifi::Truncated)
}

/// Link type 105: an 802.11 frame.
pub fn ieee80211(b: &[u8]) -> Wifi<'_> {
    mac_frame(b, false)
}

/// Link type 127: a radiotap header, then an 802.11 frame. Only the
/// Flags field is read (FCS present, header padding, FCS failed): it is
/// the first field after TSFT in the first present word.
pub fn radiotap(b: &[u8]) -> Wifi<'_> {
    let len = match header_len(b, RADIOTAP_MIN_LEN) {
        Ok(n) => n,
        Err(w) => return w,
    };
    let h = &b[..len];
    let Some(present) = le32(h, 4) else { return Wifi::Malformed };
    // Fields start after the last present word; the header length bounds
    // the chain.
    let mut at = 8;
    let mut word = present;
    while word & RADIOTAP_EXT != 0 {
        let Some(w) = le32(h, at) else { return Wifi::Malformed };
        word = w;
        at += 4;
    }
    let mut flags = 0;
    if present & RADIOTAP_FLAGS != 0 {
        if present & RADIOTAP_TSFT != 0 {
            at = at.next_multiple_of(RADIOTAP_TSFT_LEN) + RADIOTAP_TSFT_LEN;
        }
        let Some(&f) = h.get(at) else { return Wifi::Malformed };
        flags = f;
    }
    if flags & RADIOTAP_F_BADFCS != 0 {
        return Wifi::Malformed;
    }
    let mut frame = &b[len..];
    if flags & RADIOTAP_F_FCS != 0 {
        frame = match strip_fcs(frame) {
            Ok(f) => f,
            Err(w) => return w,
        };
    }
    mac_frame(frame, flags & RADIOTAP_F_DATAPAD != 0)
}

/// Link type 192: a PPI header (link type of the packet in bytes 4-7,
/// little-endian), its fields (an 802.11-Common field says whether an FCS
/// ends the packet), then the packet.
pub fn ppi(b: &[u8]) -> Result<Ppi<'_>, Wifi<'static>> {
    let len = header_len(b, PPI_HEADER_LEN)?;
    let h = &b[..len];
    let dlt = le32(h, 4).ok_or(Wifi::Malformed)?;
    let aligned = h[1] & PPI_ALIGNED != 0;
    let mut at = PPI_HEADER_LEN;
    let mut fcs = false;
    while at < len {
        let (Some(kind), Some(flen)) = (le16(h, at), le16(h, at + 2)) else { return Err(Wifi::Malformed) };
        let data = at + PPI_FIELD_HEADER_LEN;
        let end = data + usize::from(flen);
        let field = h.get(data..end).ok_or(Wifi::Malformed)?;
        if kind == PPI_80211_COMMON
            && let Some(f) = le16(field, PPI_COMMON_FLAGS_AT)
        {
            if f & PPI_COMMON_BADFCS != 0 {
                return Err(Wifi::Malformed);
            }
            fcs = f & PPI_COMMON_FCS != 0;
        }
        at = if aligned { end.next_multiple_of(4) } else { end };
    }
    let frame = &b[len..];
    Ok(Ppi { dlt, frame: if fcs { strip_fcs(frame)? } else { frame } })
}

/// An 802.11 MAC frame (no FCS); `pad`: the header is padded to 32 bits
/// (radiotap's DATAPAD flag).
fn mac_frame(b: &[u8], pad: bool) -> Wifi<'_> {
    let (Some(&fc0), Some(&fc1)) = (b.first(), b.get(1)) else { return Wifi::Truncated };
    if fc0 & 0x03 != 0 {
        return Wifi::Malformed; // protocol version 0 is the only one
    }
    let (kind, subtype) = ((fc0 >> 2) & 0x03, fc0 >> 4);
    if kind != TYPE_DATA || subtype & SUBTYPE_NO_DATA != 0 {
        return Wifi::NotIp;
    }
    if fc1 & FLAG_PROTECTED != 0 {
        return Wifi::Protected;
    }
    let mut len = DATA_HEADER_LEN;
    if fc1 & FLAGS_TO_FROM_DS == FLAGS_TO_FROM_DS {
        len += ADDR4_LEN;
    }
    let mut amsdu = false;
    if subtype & SUBTYPE_QOS != 0 {
        let Some(&qos) = b.get(len) else { return Wifi::Truncated };
        amsdu = qos & QOS_AMSDU != 0;
        len += QOS_CONTROL_LEN;
        if fc1 & FLAG_ORDER != 0 {
            len += HT_CONTROL_LEN;
        }
    }
    if pad {
        len = len.next_multiple_of(4);
    }
    let Some(body) = b.get(len..) else { return Wifi::Truncated };
    // Sequence Control's fragment number: a later fragment starts mid-packet.
    if b[DATA_HEADER_LEN - 2] & 0x0f != 0 {
        return Wifi::NotIp;
    }
    if !amsdu {
        return encap::llc_snap(body).map_or(Wifi::NotIp, Wifi::Data);
    }
    let Some(n) = body.get(12..14).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]]))) else {
        return Wifi::Truncated;
    };
    let end = AMSDU_SUBFRAME_HEADER_LEN + n;
    let Some(msdu) = body.get(AMSDU_SUBFRAME_HEADER_LEN..end) else { return Wifi::Truncated };
    match encap::llc_snap(msdu) {
        // Subframes but the last are padded to 32 bits.
        Some(i) if end.next_multiple_of(4) < body.len() => Wifi::FirstOfMany(i),
        Some(i) => Wifi::Data(i),
        None => Wifi::NotIp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LLC/SNAP for IPv4, then the first bytes of an IPv4 header.
    const SNAP_V4: &[u8] = &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45, 0];
    const V4: Inner<'static> = Inner::EtherType(0x0800, &[0x45, 0]);

    /// A data frame header: frame control, duration, three addresses,
    /// sequence control (fragment `frag`).
    fn header(fc0: u8, fc1: u8, frag: u8) -> Vec<u8> {
        let mut h = vec![fc0, fc1, 0, 0];
        h.extend_from_slice(&[0x11; 18]);
        h.extend_from_slice(&[frag, 0]);
        h
    }

    #[test]
    fn data_frames_by_subtype_and_flags() {
        // Data, FromDS.
        let f = [header(0x08, 0x02, 0), SNAP_V4.to_vec()].concat();
        assert_eq!(ieee80211(&f), Wifi::Data(V4));
        // QoS data, ToDS: QoS Control.
        let f = [header(0x88, 0x01, 0), vec![0, 0], SNAP_V4.to_vec()].concat();
        assert_eq!(ieee80211(&f), Wifi::Data(V4));
        // QoS data, ToDS+FromDS (address 4), Order (HT Control).
        let f = [header(0x88, 0x83, 0), vec![0x22; 6], vec![0, 0], vec![0; 4], SNAP_V4.to_vec()].concat();
        assert_eq!(ieee80211(&f), Wifi::Data(V4));
        // Order without QoS adds nothing.
        let f = [header(0x08, 0x80, 0), SNAP_V4.to_vec()].concat();
        assert_eq!(ieee80211(&f), Wifi::Data(V4));
    }

    #[test]
    fn frames_without_ip() {
        // Null and QoS Null, a beacon, an ACK, a later fragment, EAPOL
        // comes through as its EtherType (the IP decoder counts it).
        assert_eq!(ieee80211(&header(0x48, 0x01, 0)), Wifi::NotIp);
        assert_eq!(ieee80211(&[header(0xc8, 0x01, 0), vec![0, 0]].concat()), Wifi::NotIp);
        assert_eq!(ieee80211(&[header(0x80, 0, 0), vec![0; 12]].concat()), Wifi::NotIp);
        assert_eq!(ieee80211(&[0xd4, 0, 0, 0, 1, 2, 3, 4, 5, 6]), Wifi::NotIp);
        assert_eq!(ieee80211(&[header(0x08, 0x02, 1), SNAP_V4.to_vec()].concat()), Wifi::NotIp);
        assert_eq!(ieee80211(&[header(0x08, 0x02, 0), vec![0xe0, 0xe0, 3, 0]].concat()), Wifi::NotIp);
    }

    #[test]
    fn protected_truncated_malformed() {
        let f = [header(0x88, 0x41, 0), vec![0, 0], SNAP_V4.to_vec()].concat();
        assert_eq!(ieee80211(&f), Wifi::Protected);
        assert_eq!(ieee80211(&header(0x88, 0x01, 0)), Wifi::Truncated);
        assert_eq!(ieee80211(&[0x08]), Wifi::Truncated);
        assert_eq!(ieee80211(&[header(0x09, 0x01, 0), SNAP_V4.to_vec()].concat()), Wifi::Malformed);
    }

    #[test]
    fn amsdu_first_subframe() {
        let sub = |n: usize| {
            let mut s = vec![0x33; 12];
            s.extend_from_slice(&(n as u16).to_be_bytes());
            s
        };
        let one = [header(0x88, 0x01, 0), vec![0x80, 0], sub(SNAP_V4.len()), SNAP_V4.to_vec()].concat();
        assert_eq!(ieee80211(&one), Wifi::Data(V4));
        let two = [one.clone(), vec![0, 0], sub(SNAP_V4.len()), SNAP_V4.to_vec()].concat();
        assert_eq!(ieee80211(&two), Wifi::FirstOfMany(V4));
    }

    /// Radiotap as Zeek's radiotap.pcap has it (present word 0x001c086b:
    /// TSFT, Flags 0x10 = FCS at end, rate, channel, ...), shortened.
    #[test]
    fn radiotap_flags_after_tsft() {
        let mut r = vec![0, 0, 0, 0, 0x6b, 0x08, 0x1c, 0x00];
        r.extend_from_slice(&[0; 8]); // TSFT
        r.extend_from_slice(&[0x10, 0x0c]); // Flags, Rate
        let n = r.len() as u16;
        r[2..4].copy_from_slice(&n.to_le_bytes());
        let frame = [header(0x88, 0x01, 0), vec![0, 0], SNAP_V4.to_vec()].concat();
        let with_fcs = [r.clone(), frame.clone(), vec![0xde, 0xad, 0xbe, 0xef]].concat();
        let Wifi::Data(Inner::EtherType(0x0800, ip)) = radiotap(&with_fcs) else { panic!() };
        assert_eq!(ip, &[0x45, 0], "FCS stripped");
        // Bad FCS: not read.
        let mut bad = with_fcs.clone();
        bad[16] = 0x50;
        assert_eq!(radiotap(&bad), Wifi::Malformed);
        // DATAPAD: QoS header of 26 bytes padded to 28.
        let mut padded = r.clone();
        padded[16] = 0x20;
        let frame = [header(0x88, 0x01, 0), vec![0, 0, 0, 0], SNAP_V4.to_vec()].concat();
        assert_eq!(radiotap(&[padded, frame].concat()), Wifi::Data(V4));
        // Extended present words, no Flags field: nothing stripped.
        let mut ext = vec![0, 0, 16, 0, 0x00, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0];
        ext.extend_from_slice(&[header(0x08, 0x02, 0), SNAP_V4.to_vec()].concat());
        assert_eq!(radiotap(&ext), Wifi::Data(V4));
    }

    #[test]
    fn radiotap_bad_headers() {
        assert_eq!(radiotap(&[0, 0, 4, 0, 0, 0, 0, 0]), Wifi::Malformed);
        assert_eq!(radiotap(&[1, 0, 8, 0, 0, 0, 0, 0]), Wifi::Malformed);
        assert_eq!(radiotap(&[0, 0, 64, 0, 0, 0, 0, 0]), Wifi::Truncated);
        assert_eq!(radiotap(&[0, 0]), Wifi::Truncated);
        // Present words chained past the header.
        assert_eq!(radiotap(&[0, 0, 12, 0, 0, 0, 0, 0x80, 0, 0, 0, 0x80, 9, 9]), Wifi::Malformed);
        // Flags announced past the header.
        assert_eq!(radiotap(&[0, 0, 8, 0, 0x02, 0, 0, 0]), Wifi::Malformed);
    }

    #[test]
    fn ppi_fields_and_fcs() {
        // Header, one 802.11-Common field (20 bytes) with FCS present.
        let mut p = vec![0, 0, 32, 0, 105, 0, 0, 0, 2, 0, 20, 0];
        let mut common = vec![0; 20];
        common[8] = 0x01;
        p.extend_from_slice(&common);
        let with_fcs = [p.clone(), vec![1, 2, 3, 4, 5, 6]].concat();
        assert_eq!(ppi(&with_fcs), Ok(Ppi { dlt: 105, frame: &[1, 2] }));
        p[20] = 0x05;
        assert_eq!(ppi(&[p.clone(), vec![1, 2, 3, 4, 5, 6]].concat()), Err(Wifi::Malformed));
        // A field running past the header.
        assert_eq!(ppi(&[0, 0, 12, 0, 105, 0, 0, 0, 2, 0, 20, 0, 0]), Err(Wifi::Malformed));
        assert_eq!(ppi(&[0, 0, 8, 0, 1, 0, 0, 0, 9]), Ok(Ppi { dlt: 1, frame: &[9] }));
        assert_eq!(ppi(&[0, 0, 9, 0]), Err(Wifi::Truncated));
    }
}
