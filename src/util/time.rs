//! Capture timestamps: seconds and nanoseconds since the Unix epoch, and
//! their RFC 3339 rendering. No time-zone database: captures are UTC.

use std::fmt;

/// A frame timestamp, UTC. `secs` may be negative for broken clocks; the
/// rendering still works (proleptic Gregorian calendar).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

const NANOS_PER_SEC: u128 = 1_000_000_000;

impl Timestamp {
    pub const fn new(secs: i64, nanos: u32) -> Self {
        Timestamp { secs, nanos }
    }

    /// Converts a count of `units` at `units_per_sec` (any resolution,
    /// decimal or power of two) plus an offset in seconds.
    pub fn from_units(units: u64, units_per_sec: u64, offset_secs: i64) -> Self {
        let per = units_per_sec.max(1);
        let secs = (units / per) as i64;
        let frac = (units % per) as u128;
        let nanos = (frac * NANOS_PER_SEC / per as u128) as u32;
        Timestamp { secs: secs.saturating_add(offset_secs), nanos }
    }

    /// RFC 3339 in UTC, with microseconds, or nanoseconds when the
    /// timestamp has sub-microsecond precision.
    pub fn rfc3339(&self) -> String {
        self.to_string()
    }
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A rendered timestamp or address, on the stack (no formatter, no heap:
/// reporters render one per finding).
pub struct Rendered {
    /// Room for the longest: an IPv6 address with a scope id and port
    /// (58 bytes), a time of a year past 9999 (under 45).
    buf: [u8; 64],
    len: usize,
}

/// Formatted straight into the buffer (what is past its room is cut).
impl fmt::Write for Rendered {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            self.byte(b);
        }
        Ok(())
    }
}

impl Rendered {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    fn new() -> Rendered {
        Rendered { buf: [0; 64], len: 0 }
    }

    fn byte(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }

    /// A byte in decimal, without leading zeros.
    fn octet(&mut self, v: u8) {
        if v >= 100 {
            self.byte(b'0' + v / 100);
        }
        if v >= 10 {
            self.byte(b'0' + (v / 10) % 10);
        }
        self.byte(b'0' + v % 10);
    }

    /// `v` in decimal, at least `width` digits (zero-padded).
    fn digits(&mut self, v: u64, width: usize) {
        let mut tmp = [0u8; 20];
        let mut n = 0;
        let mut v = v;
        loop {
            tmp[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for _ in n..width {
            self.byte(b'0');
        }
        for i in (0..n).rev() {
            self.byte(tmp[i]);
        }
    }
}

impl Timestamp {
    /// The RFC 3339 form of [`fmt::Display`], rendered without a
    /// formatter; years outside 0..=9999 (broken clocks) go through it.
    pub fn render(&self) -> Rendered {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400) as u64;
        let (y, mo, d) = civil_from_days(days);
        let mut r = Rendered::new();
        if !(0..=9999).contains(&y) {
            use std::fmt::Write;
            let mut s = String::new();
            let _ = write!(s, "{self}");
            for b in s.bytes() {
                r.byte(b);
            }
            return r;
        }
        r.digits(y as u64, 4);
        r.byte(b'-');
        r.digits(u64::from(mo), 2);
        r.byte(b'-');
        r.digits(u64::from(d), 2);
        r.byte(b'T');
        r.digits(sod / 3600, 2);
        r.byte(b':');
        r.digits((sod / 60) % 60, 2);
        r.byte(b':');
        r.digits(sod % 60, 2);
        r.byte(b'.');
        if self.nanos.is_multiple_of(1000) {
            r.digits(u64::from(self.nanos / 1000), 6);
        } else {
            r.digits(u64::from(self.nanos), 9);
        }
        r.byte(b'Z');
        r
    }
}

/// An address as `Display` writes it (`192.0.2.1:80`, `[2001:db8::1]:443`),
/// IPv4 without a formatter.
pub fn render_addr(a: &std::net::SocketAddr) -> Rendered {
    let mut r = Rendered::new();
    match a {
        std::net::SocketAddr::V4(v4) => {
            for (i, o) in v4.ip().octets().iter().enumerate() {
                if i > 0 {
                    r.byte(b'.');
                }
                r.octet(*o);
            }
            r.byte(b':');
            r.digits(u64::from(v4.port()), 1);
        }
        std::net::SocketAddr::V6(_) => {
            use std::fmt::Write;
            let _ = write!(r, "{a}");
        }
    }
    r
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (y, mo, d) = civil_from_days(days);
        write!(f, "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, (sod / 60) % 60, sod % 60)?;
        if self.nanos.is_multiple_of(1000) {
            write!(f, ".{:06}Z", self.nanos / 1000)
        } else {
            write!(f, ".{:09}Z", self.nanos)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_without_a_formatter_as_display_writes() {
        let mut seed: u64 = 7;
        for i in 0..20_000i64 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let secs = match i % 4 {
                0 => (seed >> 20) as i64 % 4_000_000_000,
                1 => -((seed >> 30) as i64),
                2 => (seed >> 1) as i64,
                _ => 253_402_300_799 + (seed % 1000) as i64 - 500,
            };
            let nanos = if i % 3 == 0 { (seed % 1_000_000) as u32 * 1000 } else { (seed % 1_000_000_000) as u32 };
            let t = Timestamp::new(secs, nanos);
            assert_eq!(t.render().as_str(), t.to_string(), "{secs} {nanos}");
        }
        for t in [Timestamp::new(i64::MIN, u32::MAX), Timestamp::new(i64::MAX, 999_999_999), Timestamp::new(-1, 1)] {
            assert_eq!(t.render().as_str(), t.to_string());
        }
        for a in [
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.2.30.4:8080",
            "[2001:db8::1]:443",
            "[::ffff:1.2.3.4]:80",
            "[2001:db8:1234:5678:9abc:def0:1234:5678%4294967295]:65535",
        ] {
            let a: std::net::SocketAddr = a.parse().unwrap();
            assert_eq!(render_addr(&a).as_str(), a.to_string());
        }
        // Every octet value in every place, and ports of each length.
        for v in 0..=255u8 {
            for (i, port) in [0u16, 7, 80, 443, 8080, 65535].into_iter().enumerate() {
                let mut o = [1, 22, 133, 244];
                o[i % 4] = v;
                let a = std::net::SocketAddr::from((o, port));
                assert_eq!(render_addr(&a).as_str(), a.to_string());
            }
        }
    }

    #[test]
    fn renders_known_instants() {
        // 2017-01-05 was the date of the STS disclosure write-ups.
        assert_eq!(Timestamp::new(1_483_574_400, 0).rfc3339(), "2017-01-05T00:00:00.000000Z");
        assert_eq!(Timestamp::new(951_782_400, 5).rfc3339(), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(Timestamp::new(-1, 0).rfc3339(), "1969-12-31T23:59:59.000000Z");
    }

    #[test]
    fn converts_power_of_two_resolution() {
        // 2^-10 s units: 1536 units = 1.5 s
        let t = Timestamp::from_units(1536, 1024, 0);
        assert_eq!((t.secs, t.nanos), (1, 500_000_000));
        let t = Timestamp::from_units(1_000_000_123, 1_000_000_000, 10);
        assert_eq!((t.secs, t.nanos), (11, 123));
    }
}
