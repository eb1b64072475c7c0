//! shape: what one pass over a value's bytes says about which decodings
//! [`super::nested_in`] could find anything with, so that a value is tried
//! only with those. Each gate is a necessary condition of its decoding
//! (the decodings still check everything themselves): a gate that
//! refused a value a decoding would have read would lose fields, and
//! `extract::tests::shape_gates_lose_nothing` compares with every gate open.
//!
//! Input: a value's text. Output: a [`Shape`]. Never: decode.

/// A structure's opening byte: `{` or `[` (JSON).
pub const OPEN: u32 = 1;
pub const QUESTION: u32 = 1 << 1;
pub const EQ: u32 = 1 << 2;
pub const AMP: u32 = 1 << 3;
pub const LT: u32 = 1 << 4;
pub const NL: u32 = 1 << 5;
pub const COLON: u32 = 1 << 6;
/// `,` or `;` (lists).
pub const LIST: u32 = 1 << 7;
pub const AT: u32 = 1 << 8;
pub const PERCENT: u32 = 1 << 9;
/// An ASCII byte neither of the base64 alphabets (letters, digits,
/// `+/=-_`) nor white space that `str::trim` removes.
pub const NOT_B64: u32 = 1 << 10;
/// An ASCII byte neither a hex digit nor white space.
pub const NOT_HEX: u32 = 1 << 11;
/// A byte that is not an ASCII digit.
pub const NOT_DIGIT: u32 = 1 << 12;
/// Within a run: a base64 byte.
const B64: u32 = 1 << 13;
/// Within a run: a hex digit.
const HEX: u32 = 1 << 14;
/// Between the tokens of a model or firmware string: `_ - /` or space.
const TOKEN_SEP: u32 = 1 << 15;

/// The bytes that start a structure [`super::nothing_inside`] looks for.
pub const STRUCTURE: u32 = OPEN | LT | EQ | AMP | COLON | LIST | QUESTION | AT | PERCENT;

const CLASS: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut k = match c {
            b'{' | b'[' => OPEN,
            b'?' => QUESTION,
            b'=' => EQ,
            b'&' => AMP,
            b'<' => LT,
            b'\n' => NL,
            b':' => COLON,
            b',' | b';' => LIST,
            b'@' => AT,
            b'%' => PERCENT,
            _ => 0,
        };
        // `str::trim`'s white space among ASCII bytes: \t \n \x0b \x0c \r and space.
        let space = matches!(c, 0x09..=0x0d | b' ');
        let b64 = c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'-' | b'_');
        if b64 {
            k |= B64;
        }
        if c.is_ascii_hexdigit() {
            k |= HEX;
        }
        if c.is_ascii() && !b64 && !space {
            k |= NOT_B64;
        }
        if c.is_ascii() && !c.is_ascii_hexdigit() && !space {
            k |= NOT_HEX;
        }
        if !c.is_ascii_digit() {
            k |= NOT_DIGIT;
        }
        if matches!(c, b'_' | b'-' | b'/' | b' ') {
            k |= TOKEN_SEP;
        }
        t[i] = k;
        i += 1;
    }
    t
};

/// What a value's bytes hold, from one pass, and the decodings that
/// cannot read it for certain.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// The classes above of all its bytes, OR-ed.
    pub marks: u32,
    pub len: usize,
    /// Could the whole (trimmed) value be base64 of
    /// [`super::MIN_BASE64_LEN`] or more? Not when a byte is neither
    /// base64 nor white space, nor when every one is hex or white space
    /// (`decode_base64` refuses all-hex values).
    pub base64: bool,
    /// Could the whole (trimmed) value be hex of 16 digits or more?
    pub hex: bool,
    /// Is there a run of 16 base64 bytes (`base64_runs`)?
    pub runs: bool,
    /// Could a 12-hex token be glued in (`inner::glued_hex_tokens`: 13 to
    /// 256 bytes, a separator, 12 hex digits in a row)?
    pub tokens: bool,
}

impl Shape {
    pub fn of(v: &str) -> Shape {
        let (mut marks, mut b64, mut b64_run, mut hex, mut hex_run) = (0u32, 0usize, 0usize, 0usize, 0usize);
        for &b in v.as_bytes() {
            let c = CLASS[usize::from(b)];
            marks |= c;
            b64 = (b64 + 1) * usize::from(c & B64 != 0);
            b64_run = b64_run.max(b64);
            hex = (hex + 1) * usize::from(c & HEX != 0);
            hex_run = hex_run.max(hex);
        }
        let len = v.len();
        Shape {
            marks,
            len,
            base64: len >= super::MIN_BASE64_LEN && marks & NOT_B64 == 0 && marks & NOT_HEX != 0,
            hex: len >= 16 && marks & NOT_HEX == 0,
            runs: b64_run >= 16,
            tokens: (13..=256).contains(&len) && marks & TOKEN_SEP != 0 && hex_run >= 12,
        }
    }

    /// `v`'s shape with every gate open: what the decodings were tried
    /// with before there were gates. `&` and `%` stay as they are: the
    /// pairs and percent decodings asked for them before.
    #[cfg(test)]
    pub fn open(v: &str) -> Shape {
        let real = Shape::of(v).marks & (AMP | PERCENT);
        let gates = OPEN | QUESTION | EQ | LT | NL | COLON | LIST | AT;
        Shape { marks: real | gates, len: v.len(), base64: true, hex: true, runs: true, tokens: true }
    }

    /// Does it hold a byte of any of `classes`?
    pub fn has(&self, classes: u32) -> bool {
        self.marks & classes != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_says_what_the_bytes_hold() {
        let s = Shape::of("ab12=xyz+/QQ");
        assert!(s.has(EQ) && !s.has(AMP | QUESTION | NOT_B64));
        assert!(s.has(NOT_HEX) && s.has(NOT_DIGIT));
        assert!(s.base64 && !s.hex && !s.runs && !s.tokens);
        let s = Shape::of(" 0123456789abcdef\n");
        assert!(s.hex && !s.base64 && s.has(NL), "all hex is not base64");
        assert!(Shape::of("aGVsbG8gd29ybGQh").runs);
        assert!(Shape::of("RT-AX58U_3.0.0.4_a45e60123456").tokens);
        assert!(!Shape::of("RT.AX58U.3.0.0.4.a45e60123456").tokens, "no separator");
        assert!(!Shape::of("12345").has(NOT_DIGIT));
        assert!(Shape::of("a@b.c").has(AT | NOT_B64));
        assert!(!Shape::of("é").has(NOT_B64 | NOT_HEX), "non-ASCII is left to the decodings");
    }
}
