//! tpdu: the SMS transfer PDU of 3GPP TS 23.040 section 9.2, and the GSM
//! 7-bit default alphabet of TS 23.038 section 6.2.
//!
//! Input: a TPDU and its direction. Output: [`Tpdu`] with the address,
//! the text in Unicode and the concatenation IE. Header fields are checked
//! strictly; user data shorter than TP-UDL says is decoded as far as it
//! goes and noted, so a clipped message still has its text scanned.
//! Never: index past the buffer or trust a length unchecked.

use super::{Alphabet, Concat, Sms, SmsError, SmsKind, SmsPart};

/// TP-MTI values (9.2.3.1); their meaning depends on the direction.
const MTI_DELIVER_OR_REPORT: u8 = 0b00;
const MTI_SUBMIT_OR_REPORT: u8 = 0b01;
const MTI_COMMAND_OR_STATUS: u8 = 0b10;
/// First-octet bits (9.2.3.23, 9.2.3.3).
const UDHI: u8 = 0x40;
const VPF_SHIFT: u8 = 3;
/// Most semi-octets in TP-DA / TP-OA (an address field is 2 to 12 octets).
const MAX_ADDRESS_DIGITS: u8 = 20;
/// Type of number (9.1.2.5).
const TON_INTERNATIONAL: u8 = 1;
const TON_ALPHANUMERIC: u8 = 5;
/// TP-SCTS and the enhanced / absolute TP-VP are 7 octets.
const TIMESTAMP_LEN: usize = 7;
/// User data header IEs (9.2.3.24).
const IEI_CONCAT_8: u8 = 0x00;
const IEI_CONCAT_16: u8 = 0x08;
const IEI_SHIFT_LOCKING: u8 = 0x24;
const IEI_SHIFT_SINGLE: u8 = 0x25;
/// Escape to the extension table (TS 23.038 6.2.1.1).
const ESC: u8 = 0x1b;

/// A decoded SMS-SUBMIT or SMS-DELIVER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tpdu {
    pub kind: SmsKind,
    /// TP-DA of a SUBMIT, TP-OA of a DELIVER.
    pub address: Option<String>,
    pub alphabet: Alphabet,
    pub text: String,
    pub concat: Option<Concat>,
    pub notes: Vec<String>,
}

impl Tpdu {
    /// This TPDU as one part of a message travelling `uplink`.
    pub fn into_part(self, uplink: bool, rp_destination: Option<String>) -> SmsPart {
        let mut notes = self.notes;
        if uplink && self.kind == SmsKind::Deliver {
            notes.push("SMS-DELIVER sent in the uplink (a test rig or SIM tool acting as the network)".into());
        }
        let sms = Sms {
            kind: self.kind,
            uplink,
            address: self.address,
            rp_destination,
            text: self.text,
            alphabet: self.alphabet,
            parts: 1,
            notes,
        };
        SmsPart { sms, concat: self.concat }
    }
}

/// Decodes a TPDU sent by the mobile (`from_ms`) or by the service centre.
/// Reports and commands are [`SmsError::NoUserMessage`].
pub fn decode(tpdu: &[u8], from_ms: bool) -> Result<Tpdu, SmsError> {
    let &first = tpdu.first().ok_or(SmsError::Truncated("TPDU"))?;
    match (first & 0b11, from_ms) {
        (MTI_SUBMIT_OR_REPORT, true) => submit(tpdu),
        (MTI_DELIVER_OR_REPORT, false) => deliver(tpdu),
        (MTI_DELIVER_OR_REPORT, true) => Err(SmsError::NoUserMessage("SMS-DELIVER-REPORT")),
        (MTI_SUBMIT_OR_REPORT, false) => Err(SmsError::NoUserMessage("SMS-SUBMIT-REPORT")),
        (MTI_COMMAND_OR_STATUS, true) => Err(SmsError::NoUserMessage("SMS-COMMAND")),
        (MTI_COMMAND_OR_STATUS, false) => Err(SmsError::NoUserMessage("SMS-STATUS-REPORT")),
        (mti, _) => Err(SmsError::Reserved { field: "TP-MTI", value: mti }),
    }
}

/// A cursor over the fixed fields, each read checked.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self, field: &'static str) -> Result<u8, SmsError> {
        let v = *self.b.get(self.pos).ok_or(SmsError::Truncated(field))?;
        self.pos += 1;
        Ok(v)
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], SmsError> {
        let end = self.pos.checked_add(n).ok_or(SmsError::Truncated(field))?;
        let s = self.b.get(self.pos..end).ok_or(SmsError::Truncated(field))?;
        self.pos = end;
        Ok(s)
    }

    fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or_default()
    }
}

/// SMS-SUBMIT (9.2.2.2): MTI, MR, DA, PID, DCS, VP, UDL, UD.
fn submit(tpdu: &[u8]) -> Result<Tpdu, SmsError> {
    let mut r = Reader { b: tpdu, pos: 0 };
    let first = r.u8("TPDU")?;
    r.u8("TP-MR")?;
    let address = address(&mut r, "TP-DA")?;
    r.u8("TP-PID")?;
    let dcs = r.u8("TP-DCS")?;
    // TP-VPF (9.2.3.3): none, enhanced, relative, absolute.
    let vp_len = match (first >> VPF_SHIFT) & 0b11 {
        0b00 => 0,
        0b10 => 1,
        _ => TIMESTAMP_LEN,
    };
    r.take(vp_len, "TP-VP")?;
    finish(SmsKind::Submit, first, address, dcs, &mut r)
}

/// SMS-DELIVER (9.2.2.1): MTI, OA, PID, DCS, SCTS, UDL, UD.
fn deliver(tpdu: &[u8]) -> Result<Tpdu, SmsError> {
    let mut r = Reader { b: tpdu, pos: 0 };
    let first = r.u8("TPDU")?;
    let address = address(&mut r, "TP-OA")?;
    r.u8("TP-PID")?;
    let dcs = r.u8("TP-DCS")?;
    r.take(TIMESTAMP_LEN, "TP-SCTS")?;
    finish(SmsKind::Deliver, first, address, dcs, &mut r)
}

fn finish(kind: SmsKind, first: u8, address: Option<String>, dcs: u8, r: &mut Reader) -> Result<Tpdu, SmsError> {
    let udl = r.u8("TP-UDL")?;
    let mut notes = Vec::new();
    let coding = data_coding(dcs, &mut notes);
    let (text, concat) = user_data(r.rest(), udl, coding, first & UDHI != 0, &mut notes)?;
    let alphabet = match coding {
        Coding::Gsm7 => Alphabet::Gsm7,
        Coding::Octets => Alphabet::EightBit,
        Coding::Ucs2 => Alphabet::Ucs2,
    };
    Ok(Tpdu { kind, address, alphabet, text, concat, notes })
}

/// TP-DA / TP-OA (9.1.2.5): digit count, type of address, semi-octets.
fn address(r: &mut Reader, field: &'static str) -> Result<Option<String>, SmsError> {
    let digits = r.u8(field)?;
    if digits > MAX_ADDRESS_DIGITS {
        return Err(SmsError::TooLong { field, len: usize::from(digits) });
    }
    let toa = r.u8(field)?;
    let value = r.take(usize::from(digits).div_ceil(2), field)?;
    if digits == 0 {
        return Ok(None);
    }
    let ton = (toa >> 4) & 0b111;
    if ton == TON_ALPHANUMERIC {
        // Alphanumeric: GSM 7-bit packed in the semi-octets (9.1.2.5).
        let septets = unpack_septets(value, 0, usize::from(digits) * 4 / 7);
        return Ok(Some(gsm7_to_string(&septets)));
    }
    let mut s = String::with_capacity(usize::from(digits) + 1);
    if ton == TON_INTERNATIONAL {
        s.push('+');
    }
    for i in 0..usize::from(digits) {
        let b = value[i / 2];
        let nibble = if i % 2 == 0 { b & 0x0f } else { b >> 4 };
        s.push(bcd_char(nibble).ok_or(SmsError::BadDigit(field))?);
    }
    Ok(Some(s))
}

/// A semi-octet of an address (TS 24.008 10.5.4.7 / 23.040 9.1.2.3);
/// `None` for the filler.
pub(super) fn bcd_char(nibble: u8) -> Option<char> {
    match nibble {
        0..=9 => Some(char::from(b'0' + nibble)),
        0x0a => Some('*'),
        0x0b => Some('#'),
        0x0c => Some('a'),
        0x0d => Some('b'),
        0x0e => Some('c'),
        _ => None,
    }
}

/// How the user data is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    Gsm7,
    Octets,
    Ucs2,
}

/// TP-DCS (TS 23.038 section 4): the general data coding, message
/// waiting and data coding / message class groups. Reserved codings are
/// read as the default alphabet, as the spec tells a receiver to.
fn data_coding(dcs: u8, notes: &mut Vec<String>) -> Coding {
    match dcs >> 4 {
        // General data coding (00xx) and automatic deletion (01xx).
        0x0..=0x7 => {
            if dcs & 0x20 != 0 {
                notes.push("compressed user data (TS 23.042) shown undecompressed".into());
                return Coding::Octets;
            }
            match (dcs >> 2) & 0b11 {
                0b01 => Coding::Octets,
                0b10 => Coding::Ucs2,
                _ => Coding::Gsm7,
            }
        }
        0x8..=0xb => {
            notes.push(format!("reserved TP-DCS {dcs:#04x} read as the GSM 7-bit alphabet"));
            Coding::Gsm7
        }
        // Message waiting: discard / store (GSM 7-bit), store (UCS-2).
        0xc | 0xd => Coding::Gsm7,
        0xe => Coding::Ucs2,
        // Data coding / message class: bit 2 picks 8-bit data.
        _ if dcs & 0x04 != 0 => Coding::Octets,
        _ => Coding::Gsm7,
    }
}

/// TP-UD (9.2.3.24): the optional header, then the text. `udl` counts
/// septets for GSM 7-bit, octets otherwise.
fn user_data(
    ud: &[u8],
    udl: u8,
    coding: Coding,
    udhi: bool,
    notes: &mut Vec<String>,
) -> Result<(String, Option<Concat>), SmsError> {
    let udl = usize::from(udl);
    let octets = match coding {
        Coding::Gsm7 => (udl * 7).div_ceil(8),
        _ => udl,
    };
    let ud = if ud.len() < octets {
        notes.push(format!("user data truncated: {} of {octets} octets", ud.len()));
        ud
    } else {
        &ud[..octets]
    };
    let mut concat = None;
    let mut header_octets = 0;
    if udhi {
        let udhl = usize::from(*ud.first().ok_or(SmsError::Truncated("TP-UDH"))?);
        let header = ud.get(1..1 + udhl).ok_or(SmsError::Truncated("TP-UDH"))?;
        concat = header_elements(header, notes);
        header_octets = 1 + udhl;
    }
    let text = match coding {
        Coding::Gsm7 => {
            // The text starts at the septet boundary after the header;
            // the bits between are fill (9.2.3.24).
            let skip = (header_octets * 8).div_ceil(7);
            if skip > udl {
                return Err(SmsError::TooLong { field: "TP-UDH", len: header_octets });
            }
            gsm7_to_string(&unpack_septets(ud, skip, udl - skip))
        }
        Coding::Octets => octets_to_string(ud.get(header_octets..).unwrap_or_default()),
        Coding::Ucs2 => {
            let b = ud.get(header_octets..).unwrap_or_default();
            if b.len() % 2 != 0 {
                notes.push("UCS-2 text has an odd trailing octet".into());
            }
            let units = b.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
            char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
        }
    };
    Ok((text, concat))
}

/// The header IEs; returns the last valid concatenation IE (a repeated IE
/// is superseded by the later one, 9.2.3.24).
fn header_elements(mut h: &[u8], notes: &mut Vec<String>) -> Option<Concat> {
    let mut concat = None;
    while let [iei, len, rest @ ..] = h {
        let Some(data) = rest.get(..usize::from(*len)) else {
            notes.push("user data header truncated".into());
            break;
        };
        let found = match (*iei, data) {
            (IEI_CONCAT_8, &[r, total, seq]) => Some(Concat { reference: u16::from(r), total, seq }),
            (IEI_CONCAT_16, &[r0, r1, total, seq]) => {
                Some(Concat { reference: u16::from_be_bytes([r0, r1]), total, seq })
            }
            (IEI_SHIFT_LOCKING | IEI_SHIFT_SINGLE, _) => {
                notes.push(format!("national language shift table IE {iei:#04x} not applied"));
                None
            }
            _ => None,
        };
        if let Some(c) = found {
            // A zero or out-of-range number voids the IE (9.2.3.24.1).
            if c.total == 0 || c.seq == 0 || c.seq > c.total {
                notes.push(format!("concatenation IE ignored: part {} of {}", c.seq, c.total));
            } else {
                concat = Some(c);
            }
        }
        h = &rest[usize::from(*len)..];
    }
    concat
}

/// 8-bit data as text: UTF-8 when it is, else one char per byte, so every
/// ASCII identifier stays visible to the detectors.
fn octets_to_string(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => b.iter().map(|&c| char::from(c)).collect(),
    }
}

/// `count` septets packed LSB first, starting `skip` septets in; stops at
/// the end of `packed`.
pub fn unpack_septets(packed: &[u8], skip: usize, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count.min(packed.len() * 8 / 7 + 1));
    for i in skip..skip.saturating_add(count) {
        let bit = i * 7;
        let (byte, shift) = (bit / 8, bit % 8);
        let Some(&lo) = packed.get(byte) else { break };
        let mut v = u16::from(lo) >> shift;
        if shift > 1 {
            let Some(&hi) = packed.get(byte + 1) else { break };
            v |= u16::from(hi) << (8 - shift);
        }
        out.push((v & 0x7f) as u8);
    }
    out
}

/// The default alphabet (TS 23.038 6.2.1), indexed by septet.
const GSM7: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table (TS 23.038 6.2.1.1): the characters after ESC.
pub(super) const GSM7_EXT: [(u8, char); 10] = [
    (0x0a, '\u{0c}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2f, '\\'),
    (0x3c, '['),
    (0x3d, '~'),
    (0x3e, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Septets to Unicode. An escaped code with no extension character shows
/// the default-table character, as 6.2.1.1 tells a receiver to; a lone
/// ESC at the end is dropped.
pub fn gsm7_to_string(septets: &[u8]) -> String {
    let mut s = String::with_capacity(septets.len());
    let mut it = septets.iter();
    while let Some(&c) = it.next() {
        let c = usize::from(c & 0x7f);
        if c != usize::from(ESC) {
            s.push(GSM7[c]);
            continue;
        }
        let Some(&e) = it.next() else { break };
        let e = e & 0x7f;
        match GSM7_EXT.iter().find(|(code, _)| *code == e) {
            Some(&(_, ch)) => s.push(ch),
            None if e == ESC => s.push(' '),
            None => s.push(GSM7[usize::from(e)]),
        }
    }
    s
}

/// The septet of a default-alphabet character, for the encoder in
/// [`super::build`].
pub(super) fn gsm7_code(c: char) -> Option<u8> {
    GSM7.iter().position(|&g| g == c && c != '\u{1b}').and_then(|p| u8::try_from(p).ok())
}
