//! Telephony test traffic written from the specifications, never from
//! teleaudit's own decoders: SMS TPDUs (3GPP TS 23.040) in RP-DATA and
//! CP-DATA (TS 24.011), SIP requests and replies of an IMS phone (RFC 3261,
//! RFC 7254 IMEI URNs, RFC 3455 / TS 24.229 P-Access-Network-Info), GSMTAP v2
//! as libosmocore writes it, LAPDm I-frames (TS 44.006) and MM messages with
//! TS 24.008 mobile identities. Every builder returns bytes; the transports
//! (plain UDP, TCP, GTP-U with IPv6 inside) put them into a [`Net`].

use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;

use super::{Net, Wrap, ipv4_udp, ts};

// ---------------------------------------------------------------- SMS TPDU

/// TP-DCS alphabets (TS 23.038 4, general data coding group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet with the extension table, packed.
    Gsm7,
    /// UCS-2 (UTF-16BE; characters beyond the BMP as surrogate pairs).
    Ucs2,
    /// 8-bit data: the text's UTF-8 bytes.
    Eight,
}

impl Alphabet {
    fn dcs(self) -> u8 {
        match self {
            Alphabet::Gsm7 => 0x00,
            Alphabet::Eight => 0x04,
            Alphabet::Ucs2 => 0x08,
        }
    }
}

/// The concatenation reference of a long message (TS 23.040 9.2.3.24.1
/// and .8): IEI 0x00 carries an 8-bit reference, IEI 0x08 a 16-bit one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concat {
    Ref8(u8),
    Ref16(u16),
}

impl Concat {
    /// The whole UDH (UDHL first) of part `seq` of `total`.
    fn udh(self, total: u8, seq: u8) -> Vec<u8> {
        match self {
            Concat::Ref8(r) => vec![5, 0x00, 3, r, total, seq],
            Concat::Ref16(r) => vec![6, 0x08, 4, (r >> 8) as u8, r as u8, total, seq],
        }
    }
    fn udh_len(self) -> usize {
        match self {
            Concat::Ref8(_) => 6,
            Concat::Ref16(_) => 7,
        }
    }
}

/// The GSM 7-bit default alphabet (TS 23.038 6.2.1), by septet value.
const GSM7_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The default extension table (TS 23.038 6.2.1.1): each is sent as the
/// escape septet 0x1B followed by this septet.
const GSM7_EXTENSION: [(char, u8); 10] = [
    ('\u{c}', 0x0a),
    ('^', 0x14),
    ('{', 0x28),
    ('}', 0x29),
    ('\\', 0x2f),
    ('[', 0x3c),
    ('~', 0x3d),
    (']', 0x3e),
    ('|', 0x40),
    ('€', 0x65),
];

/// The septets of one character (one, or escape plus one), or `None`
/// when the default alphabet cannot write it.
pub fn gsm7_septets(c: char) -> Option<Vec<u8>> {
    if c != '\u{1b}'
        && let Some(i) = GSM7_BASIC.iter().position(|&b| b == c)
    {
        return Some(vec![i as u8]);
    }
    GSM7_EXTENSION.iter().find(|(e, _)| *e == c).map(|(_, s)| vec![0x1b, *s])
}

/// Packs `udh` (octets) then `septets`, with the fill bits that put the
/// first septet on a septet boundary (TS 23.040 9.2.3.24); gives the user
/// data and TP-UDL in septets.
pub fn gsm7_pack(udh: &[u8], septets: &[u8]) -> (Vec<u8>, u8) {
    let udh_bits = udh.len() * 8;
    let start = udh_bits.div_ceil(7) * 7;
    let bits = start + septets.len() * 7;
    let mut out = vec![0u8; bits.div_ceil(8)];
    out[..udh.len()].copy_from_slice(udh);
    for (i, s) in septets.iter().enumerate() {
        for b in 0..7 {
            if s >> b & 1 == 1 {
                let p = start + i * 7 + b;
                out[p / 8] |= 1 << (p % 8);
            }
        }
    }
    (out, (bits / 7) as u8)
}

/// One unit of text that must not be split across parts: a character's
/// septets, UTF-16 code units or UTF-8 bytes.
fn units(text: &str, alphabet: Alphabet) -> Vec<Vec<u8>> {
    match alphabet {
        Alphabet::Gsm7 => text
            .chars()
            .map(|c| gsm7_septets(c).unwrap_or_else(|| panic!("{c:?} is not in the GSM 7-bit alphabet")))
            .collect(),
        Alphabet::Ucs2 => text
            .chars()
            .map(|c| {
                let mut b = [0u16; 2];
                c.encode_utf16(&mut b).iter().flat_map(|u| u.to_be_bytes()).collect()
            })
            .collect(),
        Alphabet::Eight => text.chars().map(|c| c.to_string().into_bytes()).collect(),
    }
}

/// The user data of each part: (UDH or empty, payload units), with the
/// capacities of TS 23.040 (140 octets; 160 septets).
fn parts(text: &str, alphabet: Alphabet, concat: Concat) -> Vec<Vec<u8>> {
    let u = units(text, alphabet);
    let capacity = |udh: usize| match alphabet {
        // Septets left after the UDH and its fill bits.
        Alphabet::Gsm7 => 160 - (udh * 8).div_ceil(7),
        Alphabet::Ucs2 | Alphabet::Eight => 140 - udh,
    };
    let total: usize = u.iter().map(Vec::len).sum();
    if total <= capacity(0) {
        return vec![u.concat()];
    }
    let room = capacity(concat.udh_len());
    let mut out: Vec<Vec<u8>> = vec![Vec::new()];
    for unit in u {
        if out.last().expect("one part").len() + unit.len() > room {
            out.push(Vec::new());
        }
        out.last_mut().expect("one part").extend(unit);
    }
    out
}

/// TP-UDL and TP-UD of one part.
fn user_data(alphabet: Alphabet, udh: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if alphabet == Alphabet::Gsm7 {
        let (ud, udl) = gsm7_pack(udh, payload);
        out.push(udl);
        out.extend(ud);
    } else {
        out.push((udh.len() + payload.len()) as u8);
        out.extend_from_slice(udh);
        out.extend_from_slice(payload);
    }
    out
}

/// TP-DA / TP-OA (TS 23.040 9.1.2.5): digit count, type of address
/// (0x91 international when `+`, else 0x81 unknown), swapped BCD.
pub fn tp_address(number: &str) -> Vec<u8> {
    let (toa, digits) = match number.strip_prefix('+') {
        Some(d) => (0x91, d),
        None => (0x81, number),
    };
    let mut out = vec![digits.len() as u8, toa];
    out.extend(bcd(digits));
    out
}

/// Semi-octets, first digit in the low nibble, `F` filling an odd count.
pub fn bcd(digits: &str) -> Vec<u8> {
    let d: Vec<u8> = digits
        .bytes()
        .map(|c| match c {
            b'0'..=b'9' => c - b'0',
            b'*' => 0xa,
            b'#' => 0xb,
            _ => panic!("not a BCD digit: {c:?}"),
        })
        .collect();
    d.chunks(2).map(|p| p[0] | (p.get(1).copied().unwrap_or(0xf) << 4)).collect()
}

/// SMS-SUBMIT TPDUs (TS 23.040 9.2.2.2), one per part; a text longer than
/// one SMS is cut into concatenated parts with an 8-bit reference.
pub fn sms_submit(to: &str, text: &str, alphabet: Alphabet) -> Vec<Vec<u8>> {
    sms_submit_with(to, text, alphabet, Concat::Ref8(0x42), 0)
}

/// [`sms_submit`] with the concatenation reference and the first TP-MR.
pub fn sms_submit_with(to: &str, text: &str, alphabet: Alphabet, concat: Concat, mr: u8) -> Vec<Vec<u8>> {
    let p = parts(text, alphabet, concat);
    let n = p.len();
    p.iter()
        .enumerate()
        .map(|(i, payload)| {
            let udh = if n > 1 { concat.udh(n as u8, i as u8 + 1) } else { Vec::new() };
            // MTI 01 SMS-SUBMIT, TP-VPF relative (10), TP-UDHI when a UDH.
            let mut t = vec![0x01 | 0x10 | if udh.is_empty() { 0 } else { 0x40 }, mr.wrapping_add(i as u8)];
            t.extend(tp_address(to));
            t.push(0x00); // TP-PID
            t.push(alphabet.dcs());
            t.push(0xa7); // TP-VP: 24 hours (TS 23.040 9.2.3.12.1)
            t.extend(user_data(alphabet, &udh, payload));
            t
        })
        .collect()
}

/// SMS-DELIVER TPDUs (TS 23.040 9.2.2.1), as a test rig might loop them
/// back in the uplink; the service centre time stamp is 2017-01-05
/// 09:42:03 +01:00.
pub fn sms_deliver(from: &str, text: &str, alphabet: Alphabet) -> Vec<Vec<u8>> {
    let p = parts(text, alphabet, Concat::Ref16(0x5715));
    let n = p.len();
    p.iter()
        .enumerate()
        .map(|(i, payload)| {
            let udh = if n > 1 { Concat::Ref16(0x5715).udh(n as u8, i as u8 + 1) } else { Vec::new() };
            // MTI 00 SMS-DELIVER, TP-MMS set (no more messages).
            let mut t = vec![0x04 | if udh.is_empty() { 0 } else { 0x40 }];
            t.extend(tp_address(from));
            t.push(0x00);
            t.push(alphabet.dcs());
            // TP-SCTS: swapped semi-octets YY MM DD hh mm ss, zone in quarters.
            t.extend(bcd("17010509420304"));
            t.extend(user_data(alphabet, &udh, payload));
            t
        })
        .collect()
}

// ---------------------------------------------------- RP and CP (24.011)

/// RP-DATA, MS to network (TS 24.011 7.3.1.2): no originator address,
/// the service centre as destination (TON/NPI 0x91), the TPDU as RP-User
/// data.
pub fn rp_data_ms_to_n(msg_ref: u8, smsc: &str, tpdu: &[u8]) -> Vec<u8> {
    let mut rp = vec![0x00, msg_ref, 0x00];
    let a = called_party(smsc);
    rp.push(a.len() as u8);
    rp.extend(a);
    rp.push(tpdu.len() as u8);
    rp.extend_from_slice(tpdu);
    rp
}

/// RP-DATA, network to MS (TS 24.011 7.3.1.1): the service centre as
/// originator, no destination.
pub fn rp_data_n_to_ms(msg_ref: u8, smsc: &str, tpdu: &[u8]) -> Vec<u8> {
    let a = called_party(smsc);
    let mut rp = vec![0x01, msg_ref, a.len() as u8];
    rp.extend(a);
    rp.push(0x00);
    rp.push(tpdu.len() as u8);
    rp.extend_from_slice(tpdu);
    rp
}

/// RP-ACK, network to MS (TS 24.011 7.3.3), without user data.
pub fn rp_ack_n_to_ms(msg_ref: u8) -> Vec<u8> {
    vec![0x03, msg_ref]
}

/// Type of number and BCD digits (TS 24.008 10.5.4.7 octets 3..).
fn called_party(number: &str) -> Vec<u8> {
    let (toa, digits) = match number.strip_prefix('+') {
        Some(d) => (0x91, d),
        None => (0x81, number),
    };
    let mut out = vec![toa];
    out.extend(bcd(digits));
    out
}

/// CP-DATA (TS 24.011 7.2.1): protocol discriminator 9 (SMS) with
/// transaction id 0 sent by the side that opened it, type 0x01, then
/// CP-User data as LV.
pub fn cp_data(rp: &[u8]) -> Vec<u8> {
    let mut cp = vec![0x09, 0x01, rp.len() as u8];
    cp.extend_from_slice(rp);
    cp
}

/// CP-ACK (TS 24.011 7.2.2) from the side that did not open the
/// transaction (TI flag set).
pub fn cp_ack() -> Vec<u8> {
    vec![0x89, 0x04]
}

// ----------------------------------------------------- mobile identities

/// TS 24.008 10.5.1.4 identity types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdType {
    Imsi = 1,
    Imei = 2,
    Imeisv = 3,
}

/// A mobile identity value (without IEI and length): first digit in the
/// high nibble of octet 3 beside the odd/even flag and the type, then
/// digit pairs low nibble first, `F` filling an even count.
pub fn mobile_identity(kind: IdType, digits: &str) -> Vec<u8> {
    let d = bcd(digits);
    let odd = digits.len() % 2 == 1;
    let mut out = vec![(d[0] & 0x0f) << 4 | u8::from(odd) << 3 | kind as u8];
    // The remaining digits, re-paired from digit 2 on.
    out.extend(bcd(&digits[1..]));
    out
}

/// A TMSI as mobile identity: `F4` then the four octets.
pub fn mobile_identity_tmsi(tmsi: u32) -> Vec<u8> {
    let mut out = vec![0xf4];
    out.extend(tmsi.to_be_bytes());
    out
}

fn lv(v: &[u8]) -> Vec<u8> {
    let mut out = vec![v.len() as u8];
    out.extend_from_slice(v);
    out
}

/// A location area identity (TS 24.008 10.5.1.3) of a two-digit MNC.
pub fn lai(mcc: &str, mnc: &str, lac: u16) -> Vec<u8> {
    let m: Vec<u8> = mcc.bytes().map(|c| c - b'0').collect();
    let n: Vec<u8> = mnc.bytes().map(|c| c - b'0').collect();
    let n3 = n.get(2).copied().unwrap_or(0xf);
    let mut out = vec![m[1] << 4 | m[0], n3 << 4 | m[2], n[1] << 4 | n[0]];
    out.extend(lac.to_be_bytes());
    out
}

/// MM Identity Response (TS 24.008 9.2.11): PD 5, type 0x19, the
/// identity as LV.
pub fn identity_response(kind: IdType, digits: &str) -> Vec<u8> {
    let mut m = vec![0x05, 0x19];
    m.extend(lv(&mobile_identity(kind, digits)));
    m
}

/// MM Identity Request (TS 24.008 9.2.10) for `kind`, from the network.
pub fn identity_request(kind: IdType) -> Vec<u8> {
    vec![0x05, 0x18, kind as u8]
}

/// MM Location Updating Request (TS 24.008 9.2.15) with the IMSI: normal
/// updating, no key, the old LAI, classmark 1, the identity.
pub fn location_updating_request(imsi: &str, old_lai: &[u8]) -> Vec<u8> {
    let mut m = vec![0x05, 0x08, 0x70];
    m.extend_from_slice(old_lai);
    m.push(0x57); // MS classmark 1: rev R99, ES-IND, A5/1, power class 4
    m.extend(lv(&mobile_identity(IdType::Imsi, imsi)));
    m
}

/// MM CM Service Request (TS 24.008 9.2.9) for SMS (type 4), key
/// sequence 0, classmark 2, by TMSI.
pub fn cm_service_request_sms(tmsi: u32) -> Vec<u8> {
    let mut m = vec![0x05, 0x24, 0x04];
    m.extend(lv(&[0x57, 0x58, 0xa6]));
    m.extend(lv(&mobile_identity_tmsi(tmsi)));
    m
}

// ------------------------------------------------------------- LAPDm

/// LAPDm fill octet (TS 44.006 5.2).
pub const FILL: u8 = 0x2b;
/// N201 for I-frames on SDCCH (format B, 23-octet frames).
pub const N201_SDCCH: usize = 20;
/// N201 for I-frames on SACCH (21-octet frames after the L1 header).
pub const N201_SACCH: usize = 18;

/// LAPDm address (TS 44.006 3.2): LPD 00, SAPI, C/R, EA=1. On Um the MS
/// sends commands with C/R 0 and the network with C/R 1.
pub fn lapdm_address(sapi: u8, uplink: bool, command: bool) -> u8 {
    let cr = u8::from(command != uplink);
    (sapi & 7) << 2 | cr << 1 | 1
}

/// One format-B frame: address, control, length indicator (M bit, EL=1),
/// information, fill to `N201 + 3` octets.
pub fn lapdm_frame(address: u8, control: u8, info: &[u8], more: bool, n201: usize) -> Vec<u8> {
    assert!(info.len() <= n201 && info.len() < 64);
    let mut f = vec![address, control, (info.len() as u8) << 2 | u8::from(more) << 1 | 1];
    f.extend_from_slice(info);
    f.resize(n201 + 3, FILL);
    f
}

/// I-frame control field: N(R), P, N(S) (TS 44.006 3.4.2).
pub fn i_control(ns: u8, nr: u8) -> u8 {
    (nr & 7) << 5 | (ns & 7) << 1
}

/// SABM with P=1 (U-frame 001P1111).
pub const SABM: u8 = 0x3f;
/// UA with F=1 (011F0011).
pub const UA: u8 = 0x73;

/// RR supervisory frame control with N(R) (TS 44.006 3.4.2).
pub fn rr_control(nr: u8) -> u8 {
    (nr & 7) << 5 | 0x01
}

/// The I-frames carrying `l3` in segments of `n201` octets, the M bit set
/// on every one but the last, N(S) counting from `ns0`.
pub fn lapdm_segments(sapi: u8, uplink: bool, l3: &[u8], n201: usize, ns0: u8) -> Vec<Vec<u8>> {
    let a = lapdm_address(sapi, uplink, true);
    let chunks: Vec<&[u8]> = l3.chunks(n201).collect();
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| lapdm_frame(a, i_control(ns0.wrapping_add(i as u8), 0), c, i < last, n201))
        .collect()
}

/// SACCH blocks carry a two-octet L1 header (power level, timing advance)
/// before the LAPDm frame.
pub fn sacch_block(frame: &[u8]) -> Vec<u8> {
    let mut b = vec![0x05, 0x01];
    b.extend_from_slice(frame);
    b
}

// ------------------------------------------------------------- GSMTAP

/// GSMTAP's UDP port (IANA).
pub const GSMTAP_PORT: u16 = 4729;
/// Um sub-types (libosmocore gsmtap.h `GSMTAP_CHANNEL_*`).
pub const CH_BCCH: u8 = 0x01;
pub const CH_CCCH: u8 = 0x02;
pub const CH_SDCCH: u8 = 0x06;
pub const CH_SDCCH4: u8 = 0x07;
pub const CH_SDCCH8: u8 = 0x08;
pub const CH_TCH_F: u8 = 0x09;
/// Flag for the slow associated control channel of a channel.
pub const CH_ACCH: u8 = 0x80;

/// A GSMTAP v2 Um packet (libosmocore `struct gsmtap_hdr`): version 2,
/// header length 4 words, type UM (1), timeslot, ARFCN with the uplink
/// flag 0x4000, signal -70 dBm, SNR 0, frame number, sub-type, antenna 0,
/// sub-slot 0, reserved; then the L2 block.
pub fn gsmtap_um(arfcn: u16, uplink: bool, sub_type: u8, timeslot: u8, lapdm_frame: &[u8]) -> Vec<u8> {
    gsmtap_um_fn(arfcn, uplink, sub_type, timeslot, 0x0012_3456, lapdm_frame)
}

/// [`gsmtap_um`] with a GSM frame number.
pub fn gsmtap_um_fn(arfcn: u16, uplink: bool, sub_type: u8, timeslot: u8, fn_: u32, l2: &[u8]) -> Vec<u8> {
    let a = (arfcn & 0x3fff) | if uplink { 0x4000 } else { 0 };
    let mut h = vec![0x02, 0x04, 0x01, timeslot];
    h.extend(a.to_be_bytes());
    h.extend([(-70i8) as u8, 0]);
    h.extend(fn_.to_be_bytes());
    h.extend([sub_type, 0, 0, 0]);
    h.extend_from_slice(l2);
    h
}

/// A BCCH System Information Type 3 block (TS 44.018 9.1.35): L2 pseudo
/// length, RR PD 6, type 0x1B, cell identity, LAI, then zeroed control
/// channel and cell options, filled to 23 octets. Counted, not decoded.
pub fn system_information_3(cell_id: u16, lai_: &[u8]) -> Vec<u8> {
    let mut b = vec![(18 << 2) | 1, 0x06, 0x1b];
    b.extend(cell_id.to_be_bytes());
    b.extend_from_slice(lai_);
    b.resize(19, 0);
    b.resize(23, FILL);
    b
}

/// GSMTAP packets as an osmocom stack sends them: from 127.0.0.1 to
/// 127.0.0.1 port 4729, one UDP datagram each.
pub fn gsmtap_udp(n: &mut Net, t: i64, micros: u32, payload: &[u8]) {
    n.push(ts(t, micros), ipv4_udp([127, 0, 0, 1], [127, 0, 0, 1], 40_729, GSMTAP_PORT, payload));
}

/// An L3 message sent on a dedicated channel: SABM and UA on `sapi`, then
/// the message's I-frames (uplink when `uplink`), then the peer's RR,
/// each as a GSMTAP packet 20 ms apart starting at `t`.
pub fn gsmtap_dedicated(n: &mut Net, t: i64, arfcn: u16, sapi: u8, uplink: bool, sacch: bool, l3: &[u8]) {
    gsmtap_dedicated_many(n, t, arfcn, sapi, uplink, sacch, &[l3.to_vec()]);
}

/// Several L3 messages on one link: SABM and UA once, then each message's
/// I-frames with N(S) counting on (modulo 8) and the peer's RR after it.
/// Gives the frame number (from 1) of each message's first I-frame.
pub fn gsmtap_dedicated_many(
    n: &mut Net,
    t: i64,
    arfcn: u16,
    sapi: u8,
    uplink: bool,
    sacch: bool,
    msgs: &[Vec<u8>],
) -> Vec<usize> {
    let (sub, n201) = if sacch { (CH_SDCCH8 | CH_ACCH, N201_SACCH) } else { (CH_SDCCH8, N201_SDCCH) };
    let block = |f: Vec<u8>| if sacch { sacch_block(&f) } else { f };
    let mut frames = vec![
        (uplink, block(lapdm_frame(lapdm_address(sapi, uplink, true), SABM, &[], false, n201))),
        (!uplink, block(lapdm_frame(lapdm_address(sapi, !uplink, false), UA, &[], false, n201))),
    ];
    let mut firsts = Vec::new();
    let mut ns = 0u8;
    for l3 in msgs {
        firsts.push(n.packets.len() + frames.len() + 1);
        for f in lapdm_segments(sapi, uplink, l3, n201, ns) {
            frames.push((uplink, block(f)));
        }
        ns = ns.wrapping_add(l3.len().div_ceil(n201) as u8) & 7;
        let rr = lapdm_frame(lapdm_address(sapi, !uplink, false), rr_control(ns), &[], false, n201);
        frames.push((!uplink, block(rr)));
    }
    for (i, (up, f)) in frames.into_iter().enumerate() {
        let fn_ = 0x0012_3456 + 51 * i as u32;
        gsmtap_udp(n, t, 20_000 * i as u32, &gsmtap_um_fn(arfcn, up, sub, 1, fn_, &f));
    }
    firsts
}

// ---------------------------------------------------------------- SIP

/// An IMS phone's identities.
#[derive(Clone, Debug)]
pub struct Phone {
    pub imsi: String,
    /// Digits of the MNC in the IMSI (2 in Europe, 3 in North America).
    pub mnc_len: usize,
    /// 15 digits (the URN writes 8-6-1).
    pub imei: String,
    /// E.164 with `+`.
    pub msisdn: String,
    /// The phone's SIP address (`ip:port`, IPv6 as `[addr]:port`).
    pub addr: SocketAddr,
    /// The P-CSCF's.
    pub pcscf: SocketAddr,
    pub access: Access,
}

impl Phone {
    pub fn mcc(&self) -> &str {
        &self.imsi[..3]
    }
    pub fn mnc(&self) -> &str {
        &self.imsi[3..3 + self.mnc_len]
    }
    /// The home domain of TS 23.003 13.2: `ims.mnc<MNC>.mcc<MCC>.3gppnetwork.org`,
    /// a two-digit MNC padded with a leading zero.
    pub fn domain(&self) -> String {
        format!("ims.mnc{:0>3}.mcc{}.3gppnetwork.org", self.mnc(), self.mcc())
    }
    /// The IMPI of TS 23.003 13.3: IMSI `@` home domain.
    pub fn impi(&self) -> String {
        format!("{}@{}", self.imsi, self.domain())
    }
    /// `urn:gsma:imei:TAC(8)-SNR(6)-check` (RFC 7254).
    pub fn imei_urn(&self) -> String {
        format!("urn:gsma:imei:{}-{}-{}", &self.imei[..8], &self.imei[8..14], &self.imei[14..])
    }
    fn contact_host(&self) -> String {
        self.addr.to_string()
    }
}

/// The access types of P-Access-Network-Info (TS 24.229 7.2A.4), each
/// with its cell id parameter.
#[derive(Clone, Debug)]
pub enum Access {
    /// `utran-cell-id-3gpp` = MCC MNC TAC(4 hex) ECI(7 hex).
    EutranFdd(String),
    /// `utran-cell-id-3gpp` = MCC MNC LAC(4 hex) UC-ID(7 hex).
    UtranFdd(String),
    /// `cgi-3gpp` = MCC MNC LAC(4 hex) CI(4 hex).
    Geran(String),
    /// `utran-cell-id-3gpp` = MCC MNC TAC(6 hex) NCI(9 hex).
    NrFdd(String),
}

impl Access {
    pub fn header_value(&self) -> String {
        match self {
            Access::EutranFdd(c) => format!("3GPP-E-UTRAN-FDD; utran-cell-id-3gpp={c}"),
            Access::UtranFdd(c) => format!("3GPP-UTRAN-FDD; utran-cell-id-3gpp={c}"),
            Access::Geran(c) => format!("3GPP-GERAN; cgi-3gpp={c}"),
            Access::NrFdd(c) => format!("3GPP-NR-FDD; utran-cell-id-3gpp={c}"),
        }
    }
    pub fn cell(&self) -> &str {
        match self {
            Access::EutranFdd(c) | Access::UtranFdd(c) | Access::Geran(c) | Access::NrFdd(c) => c,
        }
    }
}

/// Header names written in full or in the compact forms of RFC 3261 7.3.3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Full,
    Compact,
}

fn name(form: Form, full: &'static str) -> &'static str {
    if form == Form::Full {
        return full;
    }
    match full {
        "From" => "f",
        "To" => "t",
        "Contact" => "m",
        "Call-ID" => "i",
        "Via" => "v",
        "Content-Length" => "l",
        "Content-Type" => "c",
        "Supported" => "k",
        other => other,
    }
}

/// The forms of a phone's address in From / To / P-*-Identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ident {
    /// `sip:+E164@domain;user=phone`
    SipPhone,
    /// `tel:+E164`
    Tel,
    /// `sip:IMSI@ims.mncXXX.mccYYY.3gppnetwork.org` (a temporary IMPU)
    SipImsi,
}

fn uri(p: &Phone, id: Ident) -> String {
    match id {
        Ident::SipPhone => format!("sip:{}@{};user=phone", p.msisdn, p.domain()),
        Ident::Tel => format!("tel:{}", p.msisdn),
        Ident::SipImsi => format!("sip:{}", p.impi()),
    }
}

/// A SIP message being written: start line and headers in order.
struct Msg {
    form: Form,
    lines: Vec<String>,
}

impl Msg {
    fn new(start: String, form: Form) -> Msg {
        Msg { form, lines: vec![start] }
    }
    fn h(&mut self, full: &'static str, value: impl Into<String>) -> &mut Msg {
        let v = value.into();
        self.lines.push(format!("{}: {v}", name(self.form, full)));
        self
    }
    fn finish(&mut self, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
        if let Some(ct) = content_type {
            self.h("Content-Type", ct);
        }
        self.h("Content-Length", body.len().to_string());
        let mut out = self.lines.join("\r\n").into_bytes();
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
        out
    }
}

fn via(p: &Phone, tcp: bool, branch: &str) -> String {
    let transport = if tcp { "TCP" } else { "UDP" };
    format!("SIP/2.0/{transport} {};branch=z9hG4bK{branch};rport", p.contact_host())
}

/// The common request headers of a phone; the identity forms are chosen
/// by the caller.
fn request(p: &Phone, form: Form, tcp: bool, method: &str, ruri: &str, cseq: u32, call_id: &str) -> Msg {
    let mut m = Msg::new(format!("{method} {ruri} SIP/2.0"), form);
    m.h("Via", via(p, tcp, &format!("{method}{cseq}")));
    m.h("Max-Forwards", "70");
    m.h("Call-ID", call_id);
    m.h("CSeq", format!("{cseq} {method}"));
    m
}

/// REGISTER (TS 24.229 5.1.1.2): To/From the public identity `id`,
/// Contact with the IMEI instance id, Authorization with the IMPI as
/// username (an initial one, empty nonce and response), the access
/// network with its cell.
pub fn register(p: &Phone, form: Form, id: Ident, tcp: bool, cseq: u32) -> Vec<u8> {
    let domain = p.domain();
    let mut m = request(p, form, tcp, "REGISTER", &format!("sip:{domain}"), cseq, "reg-5715@phone");
    m.h("From", format!("<{}>;tag=reg{cseq}", uri(p, id)));
    m.h("To", format!("<{}>", uri(p, id)));
    m.h(
        "Contact",
        format!(
            "<sip:{}>;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\";+g.3gpp.smsip;+sip.instance=\"<{}>\";expires=600000",
            p.contact_host(),
            p.imei_urn()
        ),
    );
    m.h(
        "Authorization",
        format!("Digest username=\"{}\",realm=\"{domain}\",uri=\"sip:{domain}\",nonce=\"\",response=\"\"", p.impi()),
    );
    m.h("P-Access-Network-Info", p.access.header_value());
    m.h("Supported", "path,gruu,sec-agree");
    m.h("User-Agent", "LENNY3-IMS/1.0");
    m.h("Expires", "600000");
    m.finish(None, b"")
}

/// INVITE to `callee` with an SDP offer whose `o=` user is the phone's
/// number (RFC 4566 5.2).
pub fn invite(p: &Phone, form: Form, id: Ident, tcp: bool, callee: &str) -> Vec<u8> {
    let ruri = format!("tel:{callee}");
    let mut m = request(p, form, tcp, "INVITE", &ruri, 1, "call-5715@phone");
    m.h("From", format!("<{}>;tag=inv1", uri(p, id)));
    m.h("To", format!("<{ruri}>"));
    m.h("Contact", format!("<sip:{}>;+sip.instance=\"<{}>\"", p.contact_host(), p.imei_urn()));
    m.h("P-Preferred-Identity", format!("<{}>", uri(p, Ident::SipPhone)));
    m.h("P-Access-Network-Info", p.access.header_value());
    let ip = p.addr.ip();
    let (fam, host) = match ip {
        IpAddr::V4(a) => ("IP4", a.to_string()),
        IpAddr::V6(a) => ("IP6", a.to_string()),
    };
    let number = p.msisdn.trim_start_matches('+');
    let sdp = format!(
        "v=0\r\no={number} 1483607523 1 IN {fam} {host}\r\ns=-\r\nc=IN {fam} {host}\r\nt=0 0\r\nm=audio 49152 RTP/AVP 104\r\na=rtpmap:104 AMR-WB/16000\r\n"
    );
    m.finish(Some("application/sdp"), sdp.as_bytes())
}

/// MESSAGE carrying SMS over IP (TS 24.341 5.3.1.2): to the service
/// centre's `tel:` URI, P-Preferred-Identity and P-Access-Network-Info,
/// Content-Type application/vnd.3gpp.sms, the RP-DATA as body.
pub fn message(p: &Phone, form: Form, id: Ident, tcp: bool, smsc: &str, rp: &[u8]) -> Vec<u8> {
    let ruri = format!("tel:{smsc}");
    let mut m = request(p, form, tcp, "MESSAGE", &ruri, 2, "sms-5715@phone");
    m.h("From", format!("<{}>;tag=sms2", uri(p, id)));
    m.h("To", format!("<{ruri}>"));
    m.h("P-Preferred-Identity", format!("<{}>", uri(p, Ident::Tel)));
    m.h("P-Access-Network-Info", p.access.header_value());
    m.h("Request-Disposition", "no-fork");
    m.h("Accept-Contact", "*;+g.3gpp.smsip");
    m.finish(Some("application/vnd.3gpp.sms"), rp)
}

/// A response of the network to `request` (RFC 3261 8.2.6): its Via,
/// From, To (with a tag), Call-ID and CSeq copied, then what the status
/// adds: 401 a WWW-Authenticate challenge naming the IMPI, 200 to a
/// REGISTER the Contact and P-Associated-URI with the phone number, P-Asserted-Identity.
pub fn response(p: &Phone, form: Form, request: &[u8], code: u16) -> Vec<u8> {
    let reason = match code {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        202 => "Accepted",
        401 => "Unauthorized",
        _ => "Status",
    };
    let text = String::from_utf8_lossy(request);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut m = Msg::new(format!("SIP/2.0 {code} {reason}"), form);
    let is_register = head.starts_with("REGISTER ");
    for line in head.lines().skip(1) {
        let Some((n, v)) = line.split_once(':') else { continue };
        let v = v.trim();
        match n.trim().to_ascii_lowercase().as_str() {
            "via" | "v" => {
                m.h("Via", format!("{v};received={}", p.addr.ip()));
            }
            "from" | "f" => {
                m.h("From", v);
            }
            "to" | "t" if code == 100 => {
                m.h("To", v);
            }
            "to" | "t" => {
                m.h("To", format!("{v};tag=net{code}"));
            }
            "call-id" | "i" => {
                m.h("Call-ID", v);
            }
            "cseq" => {
                m.h("CSeq", v);
            }
            _ => {}
        }
    }
    match code {
        401 => {
            m.h(
                "WWW-Authenticate",
                format!(
                    "Digest realm=\"{}\",nonce=\"qTmEfUJ1c9pEm2YkcU8D0nPh8tg0YQAAAAAAAAAAAAAAAAA=\",algorithm=AKAv1-MD5,qop=\"auth\",username=\"{}\"",
                    p.domain(),
                    p.impi()
                ),
            );
        }
        200 if is_register => {
            m.h("Contact", format!("<sip:{}>;expires=600000;+sip.instance=\"<{}>\"", p.contact_host(), p.imei_urn()));
            m.h("P-Associated-URI", format!("<{}>, <{}>", uri(p, Ident::SipPhone), uri(p, Ident::Tel)));
            m.h("Service-Route", "<sip:orig@scscf.ims.example;lr>");
        }
        200 | 202 => {
            m.h("P-Asserted-Identity", format!("<{}>", uri(p, Ident::Tel)));
        }
        _ => {}
    }
    m.h("Server", "ims.example P-CSCF");
    m.finish(None, b"")
}

// ----------------------------------------------------------- transports

/// One UDP datagram between any two addresses of one family.
pub fn udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            PacketBuilder::ipv4(s.octets(), d.octets(), 64).udp(src.port(), dst.port()).write(&mut out, payload)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            PacketBuilder::ipv6(s.octets(), d.octets(), 64).udp(src.port(), dst.port()).write(&mut out, payload)
        }
        _ => panic!("mixed address families"),
    }
    .expect("write to vec");
    out
}

/// How the SIP packets reach the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    /// As they are (the phone's IMS interface, or a VoIP line).
    Plain,
    /// Inside GTP-U (UDP 2152), as seen at a mobile core.
    GtpU,
}

/// An exchange of SIP messages over UDP: each `(from_phone, bytes)` one
/// datagram, 10 ms apart from `t`.
pub fn sip_udp(n: &mut Net, t: i64, p: &Phone, carrier: Carrier, msgs: &[(bool, Vec<u8>)]) {
    for (i, (up, m)) in msgs.iter().enumerate() {
        let ip = if *up { udp(p.addr, p.pcscf, m) } else { udp(p.pcscf, p.addr, m) };
        push_carried(n, ts(t, 10_000 * i as u32), carrier, &ip, i as u16);
    }
}

/// An exchange of SIP messages on one TCP connection (handshake, each
/// message in segments of at most 1300 bytes, FIN).
pub fn sip_tcp(n: &mut Net, t: i64, p: &Phone, carrier: Carrier, msgs: &[(bool, Vec<u8>)]) {
    let mut inner = Net::default();
    let mut c = inner.connect(ts(t, 0), &p.addr.to_string(), &p.pcscf.to_string(), 0x5060_0000, 0x5061_0000);
    for (i, (up, m)) in msgs.iter().enumerate() {
        let at = ts(t, 60_000 + 50_000 * i as u32);
        if *up { inner.send(at, &mut c, m, 1300) } else { inner.reply(at, &mut c, m, 1300) }
    }
    inner.close(ts(t + 1, 0), &mut c);
    for (i, (at, ip)) in inner.packets.iter().enumerate() {
        match carrier {
            Carrier::Plain => n.push(*at, ip.clone()),
            Carrier::GtpU => {
                for w in Wrap::GtpU.apply(ip, i as u16) {
                    n.push(*at, w);
                }
            }
        }
    }
}

fn push_carried(n: &mut Net, at: teleaudit::util::Timestamp, carrier: Carrier, ip: &[u8], id: u16) {
    match carrier {
        Carrier::Plain => n.push(at, ip.to_vec()),
        Carrier::GtpU => {
            for w in Wrap::GtpU.apply(ip, id) {
                n.push(at, w);
            }
        }
    }
}

/// A phone in the US test network of the brief: the IMSI and IMEI of the
/// iPhone capture's shape, a made-up North American number.
pub fn test_phone(addr: &str, pcscf: &str, access: Access) -> Phone {
    Phone {
        imsi: "310410123456789".into(),
        mnc_len: 3,
        imei: "354427063233479".into(),
        msisdn: "+12015550123".into(),
        addr: super::addr(addr),
        pcscf: super::addr(pcscf),
        access,
    }
}

/// The four access-network forms of the brief, with US cell ids.
pub fn accesses() -> [Access; 4] {
    [
        Access::EutranFdd("31041000011a2d001".into()),
        Access::UtranFdd("3104102f0100bc551".into()),
        Access::Geran("3104102f01bc55".into()),
        Access::NrFdd("310410000001000000abc".into()),
    ]
}

/// An initial L3 message as the MS sends it on a new SDCCH (TS 44.006
/// 5.4.1.1, contention resolution): inside the SABM's information field
/// on SAPI 0, uplink, and echoed by the network's UA (downlink).
pub fn gsmtap_initial(n: &mut Net, t: i64, arfcn: u16, l3: &[u8]) {
    let sabm = lapdm_frame(lapdm_address(0, true, true), SABM, l3, false, N201_SDCCH);
    let ua = lapdm_frame(lapdm_address(0, false, false), UA, l3, false, N201_SDCCH);
    gsmtap_udp(n, t, 0, &gsmtap_um_fn(arfcn, true, CH_SDCCH8, 1, 0x0012_0000, &sabm));
    gsmtap_udp(n, t, 20_000, &gsmtap_um_fn(arfcn, false, CH_SDCCH8, 1, 0x0012_0033, &ua));
}

/// One I-frame on SAPI 0 of SDCCH/8 (a message that fits N201), as GSMTAP.
pub fn gsmtap_i_frame(n: &mut Net, t: i64, micros: u32, arfcn: u16, uplink: bool, ns: u8, l3: &[u8]) {
    let f = lapdm_frame(lapdm_address(0, uplink, true), i_control(ns, ns), l3, false, N201_SDCCH);
    gsmtap_udp(n, t, micros, &gsmtap_um(arfcn, uplink, CH_SDCCH8, 1, &f));
}
