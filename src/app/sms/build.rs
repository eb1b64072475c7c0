//! build: encoders for the PDUs this module decodes, so tests and
//! fixture generators can make SMS over IMS and GSMTAP traffic. Checked
//! against published vectors in the tests (the classic "hellohello"
//! PDU, a Wireshark capture), so a fixture made here is not just the
//! decoder's mirror.
//!
//! Input: text and numbers. Output: bytes. Never used on capture data.
#![doc(hidden)]

use super::tpdu::{GSM7_EXT, gsm7_code};
use super::{Alphabet, Concat};

/// Escape to the extension table.
const ESC: u8 = 0x1b;
/// LAPDm fill octet (TS 44.006 5.2).
pub const LAPDM_FILL: u8 = 0x2b;
/// A Um block on SDCCH / FACCH is 23 octets.
pub const UM_BLOCK: usize = 23;

/// Text as default-alphabet septets (ESC + code for the extension table);
/// `None` if a character has no GSM 7-bit form.
pub fn gsm7_septets(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if let Some(code) = gsm7_code(c) {
            out.push(code);
        } else {
            let &(code, _) = GSM7_EXT.iter().find(|(_, e)| *e == c)?;
            out.extend([ESC, code]);
        }
    }
    Some(out)
}

/// Packs septets LSB first after `fill_bits` zero bits.
pub fn pack_septets(septets: &[u8], fill_bits: usize) -> Vec<u8> {
    let bits = fill_bits + septets.len() * 7;
    let mut out = vec![0u8; bits.div_ceil(8)];
    for (i, &s) in septets.iter().enumerate() {
        let bit = fill_bits + i * 7;
        let v = u16::from(s & 0x7f) << (bit % 8);
        out[bit / 8] |= v as u8;
        if let Some(next) = out.get_mut(bit / 8 + 1) {
            *next |= (v >> 8) as u8;
        }
    }
    out
}

/// An address as (type of address, semi-octets, digit count); a leading
/// `+` makes it international (TON 1, NPI 1), else TON unknown.
pub fn bcd_address(number: &str) -> (u8, Vec<u8>, u8) {
    let (toa, digits) = match number.strip_prefix('+') {
        Some(d) => (0x91, d),
        None => (0x81, number),
    };
    let nibbles: Vec<u8> = digits
        .bytes()
        .map(|b| match b {
            b'*' => 0x0a,
            b'#' => 0x0b,
            _ => b.wrapping_sub(b'0') & 0x0f,
        })
        .collect();
    let packed = nibbles.chunks(2).map(|p| p[0] | (p.get(1).copied().unwrap_or(0x0f) << 4)).collect();
    (toa, packed, nibbles.len() as u8)
}

/// User data: the UDL octet, then the header and the text. `None` if the
/// text does not fit the alphabet.
fn user_data(text: &str, alphabet: Alphabet, concat: Option<(Concat, bool)>) -> Option<Vec<u8>> {
    let udh: Vec<u8> = match concat {
        None => Vec::new(),
        Some((c, false)) => vec![5, 0x00, 3, c.reference as u8, c.total, c.seq],
        Some((c, true)) => {
            let [r0, r1] = c.reference.to_be_bytes();
            vec![6, 0x08, 4, r0, r1, c.total, c.seq]
        }
    };
    let mut out = Vec::new();
    match alphabet {
        Alphabet::Gsm7 => {
            let septets = gsm7_septets(text)?;
            let skip = (udh.len() * 8).div_ceil(7);
            let mut body = pack_septets(&septets, skip * 7);
            body[..udh.len()].copy_from_slice(&udh);
            out.push(u8::try_from(skip + septets.len()).ok()?);
            out.extend(body);
        }
        Alphabet::Ucs2 => {
            let units: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
            out.push(u8::try_from(udh.len() + units.len()).ok()?);
            out.extend(udh);
            out.extend(units);
        }
        Alphabet::EightBit => {
            out.push(u8::try_from(udh.len() + text.len()).ok()?);
            out.extend(udh);
            out.extend(text.as_bytes());
        }
    }
    Some(out)
}

/// TP-DCS of the general data coding group for `alphabet`.
fn dcs(alphabet: Alphabet) -> u8 {
    match alphabet {
        Alphabet::Gsm7 => 0x00,
        Alphabet::EightBit => 0x04,
        Alphabet::Ucs2 => 0x08,
    }
}

/// An SMS-SUBMIT with no validity period; `concat` adds the IE (16-bit
/// reference when its flag is set).
pub fn submit(to: &str, text: &str, alphabet: Alphabet, concat: Option<(Concat, bool)>) -> Option<Vec<u8>> {
    let (toa, digits, n) = bcd_address(to);
    let first = 0x01 | if concat.is_some() { 0x40 } else { 0 };
    let mut out = vec![first, 0x00, n, toa];
    out.extend(digits);
    out.extend([0x00, dcs(alphabet)]);
    out.extend(user_data(text, alphabet, concat)?);
    Some(out)
}

/// An SMS-DELIVER from `from` with a fixed time stamp.
pub fn deliver(from: &str, text: &str, alphabet: Alphabet) -> Option<Vec<u8>> {
    let (toa, digits, n) = bcd_address(from);
    let mut out = vec![0x04, n, toa];
    out.extend(digits);
    out.extend([0x00, dcs(alphabet), 0x71, 0x20, 0x11, 0x21, 0x43, 0x65, 0x00]);
    out.extend(user_data(text, alphabet, None)?);
    Some(out)
}

/// SMS-SUBMITs carrying `text` in as many concatenated parts as it needs
/// (153 septets, 67 UCS-2 units or 134 octets each with an 8-bit
/// reference; one less with a 16-bit one).
pub fn submit_parts(to: &str, text: &str, alphabet: Alphabet, reference: u16, sixteen: bool) -> Option<Vec<Vec<u8>>> {
    let room = match alphabet {
        Alphabet::Gsm7 => 160 - if sixteen { 8 } else { 7 },
        Alphabet::Ucs2 => 140 - if sixteen { 7 } else { 6 },
        Alphabet::EightBit => 140 - if sixteen { 7 } else { 6 },
    };
    let mut chunks = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let cost = match alphabet {
            Alphabet::Gsm7 => gsm7_septets(c.encode_utf8(&mut [0; 4]))?.len(),
            Alphabet::Ucs2 => c.len_utf16() * 2,
            Alphabet::EightBit => c.len_utf8(),
        };
        if used + cost > room {
            chunks.push(String::new());
            used = 0;
        }
        used += cost;
        chunks.last_mut()?.push(c);
    }
    let total = u8::try_from(chunks.len()).ok()?;
    chunks
        .iter()
        .zip(1..=total)
        .map(|(chunk, seq)| submit(to, chunk, alphabet, Some((Concat { reference, total, seq }, sixteen))))
        .collect()
}

/// RP-DATA MS->N to service centre `sc`.
pub fn rp_data_ms(reference: u8, sc: &str, tpdu: &[u8]) -> Vec<u8> {
    let (toa, digits, _) = bcd_address(sc);
    let mut out = vec![0x00, reference, 0x00, (digits.len() + 1) as u8, toa];
    out.extend(digits);
    out.push(tpdu.len() as u8);
    out.extend(tpdu);
    out
}

/// RP-DATA N->MS from service centre `sc`.
pub fn rp_data_n(reference: u8, sc: &str, tpdu: &[u8]) -> Vec<u8> {
    let (toa, digits, _) = bcd_address(sc);
    let mut out = vec![0x01, reference, (digits.len() + 1) as u8, toa];
    out.extend(digits);
    out.extend([0x00, tpdu.len() as u8]);
    out.extend(tpdu);
    out
}

/// CP-DATA with transaction identifier `ti` (high nibble).
pub fn cp_data(ti: u8, rpdu: &[u8]) -> Vec<u8> {
    let mut out = vec![(ti << 4) | 0x09, 0x01, rpdu.len() as u8];
    out.extend(rpdu);
    out
}

/// `l3` as LAPDm I frames of at most `n201` octets each on `sapi`,
/// N(S) counting from `ns`, each padded to a 23-octet block.
pub fn lapdm_i_frames(sapi: u8, ns: u8, l3: &[u8], n201: usize) -> Vec<Vec<u8>> {
    let chunks: Vec<&[u8]> = l3.chunks(n201.max(1)).collect();
    let last = chunks.len().saturating_sub(1);
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let more = if i < last { 0x02 } else { 0 };
            let control = ((ns.wrapping_add(i as u8) & 7) << 1) & 0x0e;
            let mut f = vec![(sapi << 2) | 0x01, control, ((c.len() as u8) << 2) | more | 0x01];
            f.extend(*c);
            f.resize(UM_BLOCK.max(f.len()), LAPDM_FILL);
            f
        })
        .collect()
}

/// A GSMTAP v2 TYPE_UM datagram on ARFCN 17, timeslot 1.
pub fn gsmtap_um(uplink: bool, sub_type: u8, frame_number: u32, block: &[u8]) -> Vec<u8> {
    let arfcn: u16 = 17 | if uplink { 0x4000 } else { 0 };
    let mut out = vec![0x02, 0x04, 0x01, 0x01];
    out.extend(arfcn.to_be_bytes());
    out.extend([0xc8u8, 0x00]);
    out.extend(frame_number.to_be_bytes());
    out.extend([sub_type, 0x00, 0x00, 0x00]);
    out.extend(block);
    out
}
