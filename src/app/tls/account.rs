//! Each connection counted once, under its outcome, in the capture's
//! [`TlsStats`].

use super::*;

/// Distinct unsupported suites and versions named per capture; the
/// peer picks them, so past this they are counted under [`OTHER`].
const MAX_UNSUPPORTED_NAMES: usize = 64;
const OTHER: &str = "other suites or versions";

/// Adds a connection not decrypted for an unsupported reason.
pub fn count_unsupported(t: &mut TlsStats, name: &str, bytes: u64) {
    let name = if t.unsupported.len() >= MAX_UNSUPPORTED_NAMES && !t.unsupported.iter().any(|u| u.0 == name) {
        OTHER
    } else {
        name
    };
    match t.unsupported.iter_mut().find(|u| u.0 == name) {
        Some(u) => {
            u.1 += 1;
            u.2 += bytes;
        }
        None => t.unsupported.push((name.to_string(), 1, bytes)),
    }
}

impl Tls {
    /// Counts the connection once, under its outcome.
    pub(super) fn account(&mut self, cx: &mut Cx<'_>) {
        let [c, srv] = &self.dirs;
        // The client's direction is what carries uploads: a connection
        // whose client records were all lost is not called decrypted for
        // its server's; one whose records were given up at a limit is not
        // called decrypted either (what they held was not read).
        let limited = self.dirs.iter().any(|d| d.stop == Some(Stop::Limit));
        // Decrypted: application keys proven (not only a handshake's), and
        // the client's not missing or wrong.
        let client_keys_ok = !matches!(c.stop, Some(Stop::NoKey | Stop::BadKey));
        if self.unsupported.is_none() && !limited && (c.read || (srv.read && client_keys_ok)) {
            let t = &mut cx.out.stats.tls;
            t.decrypted += 1;
            // Read, but not to the end: a renegotiated session without
            // keys, a gap, records that stopped parsing.
            if self
                .dirs
                .iter()
                .any(|d| matches!(d.stop, Some(Stop::NoKey | Stop::BadKey | Stop::Gap | Stop::Malformed)))
            {
                t.partly += 1;
            }
            return;
        }
        let bytes: u64 = self.dirs.iter().map(|d| d.record_bytes).sum::<u64>() + self.ignored.iter().sum::<u64>();
        if let Some(sni) = self.ch.as_ref().and_then(|c| c.sni.as_ref()) {
            cx.out.stats.undecrypted_name(sni);
        }
        let keys_known = self.ch.as_ref().is_some_and(|ch| {
            cx.keys.secrets(&ch.random).is_some()
                || cx.keys.master(&ch.random, &ch.session_id, ch.ticket.as_deref()).is_some()
        });
        let t = &mut cx.out.stats.tls;
        if let Some(name) = &self.unsupported {
            count_unsupported(t, name, bytes);
            return;
        }
        let stop = self
            .dirs
            .iter()
            .find_map(|d| d.stop.filter(|s| *s != Stop::NoKey))
            .or(self.dirs.iter().find_map(|d| d.stop));
        let slot = match stop {
            // Records given up at the limit while their keys never came:
            // there was nothing to decrypt them with anyway.
            Some(Stop::Limit) if !keys_known => &mut t.no_key,
            Some(Stop::Limit) => &mut t.limit,
            // Bytes cut out of a record by a capture that starts inside
            // the connection do not parse: that is not malformed TLS.
            _ if self.midstream && self.ch.is_none() => &mut t.midstream,
            Some(Stop::Malformed) => &mut t.malformed,
            _ if self.ch.is_none() && self.dirs.iter().any(|d| d.protected_seen) => &mut t.midstream,
            Some(Stop::BadKey) => &mut t.bad_key,
            Some(Stop::Gap) => &mut t.gap,
            Some(Stop::Midstream) => &mut t.midstream,
            // No hello whole, or no protected record: nothing to decrypt.
            _ if self.ch.is_none() || !self.dirs.iter().any(|d| d.protected_seen) => &mut t.handshake_only,
            _ => &mut t.no_key,
        };
        slot.0 += 1;
        slot.1 += bytes;
    }
}
