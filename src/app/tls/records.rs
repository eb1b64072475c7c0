//! A direction's bytes cut into records; each record processed in clear
//! or decrypted, held while its keys (or the ServerHello) are missing,
//! and the ciphers made from the key material as a handshake allows.

use super::*;

impl Tls {
    /// Cuts a direction's bytes into records.
    pub(super) fn feed(&mut self, cx: &mut Cx<'_>, role: Role, chunk: Chunk<'_>) {
        let r = role.index();
        let mut rest = chunk.data;
        while !rest.is_empty() && self.dirs[r].stop.is_none() {
            let d = &mut self.dirs[r];
            if d.rec.is_empty() {
                if rest.len() >= RECORD_HEADER {
                    let Some(n) = record_len(rest) else {
                        self.stop(role, Stop::Malformed);
                        break;
                    };
                    if rest.len() >= RECORD_HEADER + n {
                        // A whole record in this segment: no copy.
                        let (rec, tail) = rest.split_at(RECORD_HEADER + n);
                        self.record(cx, role, rec, At { frame: chunk.frame, ts: chunk.ts });
                        rest = tail;
                        continue;
                    }
                }
                d.rec_at = At { frame: chunk.frame, ts: chunk.ts };
            }
            let want = if d.rec.len() < RECORD_HEADER { RECORD_HEADER - d.rec.len() } else { d.rec_need - d.rec.len() };
            let take = want.min(rest.len());
            if cx.out.tls.partial + take > self.cfg.tls.max_partial_total {
                self.stop(role, Stop::Limit);
                break;
            }
            d.rec.extend_from_slice(&rest[..take]);
            cx.out.tls.partial += take;
            rest = &rest[take..];
            if d.rec.len() == RECORD_HEADER && d.rec_need == 0 {
                let Some(n) = record_len(&d.rec) else {
                    self.stop(role, Stop::Malformed);
                    break;
                };
                // No reservation for the whole record: a peer that
                // announces 16 KB and sends 300 bytes costs 300.
                d.rec_need = RECORD_HEADER + n;
            }
            if d.rec_need > 0 && d.rec.len() == d.rec_need {
                let rec = std::mem::take(&mut d.rec);
                d.rec_need = 0;
                cx.out.tls.partial -= rec.len();
                let at = d.rec_at;
                self.record(cx, role, &rec, at);
            }
        }
        // What the direction stopped before is counted, not lost.
        self.dirs[r].record_bytes += rest.len() as u64;
    }

    pub(super) fn record(&mut self, cx: &mut Cx<'_>, role: Role, rec: &[u8], at: At) {
        let d = &mut self.dirs[role.index()];
        d.record_bytes += rec.len() as u64;
        if !d.held.is_empty() || !self.try_record(cx, role, rec, at) {
            self.hold(cx, role, rec, at);
        }
        if std::mem::take(&mut self.replay) {
            self.drain(cx, role.peer());
            self.drain(cx, role);
        }
    }

    /// Processes one record; `false` when it must wait (for the
    /// ServerHello, or for keys).
    pub(super) fn try_record(&mut self, cx: &mut Cx<'_>, role: Role, rec: &[u8], at: At) -> bool {
        let ct = rec[0];
        let frag = &rec[RECORD_HEADER..];
        let r = role.index();
        let protected = match self.version {
            Some(Version::Tls13) => ct == CT_APPLICATION_DATA,
            Some(_) => self.dirs[r].ccs.is_some(),
            None if self.unsupported.is_some() => {
                self.stop(role, Stop::Unsupported);
                return true;
            }
            None => match ct {
                CT_HANDSHAKE => false,
                // TLS 1.2 sends no CCS before the ServerHello: this is TLS
                // 1.3's compatibility CCS (after a HelloRetryRequest, or
                // before 0-RTT data), which carries nothing.
                CT_CHANGE_CIPHER_SPEC | CT_ALERT | CT_HEARTBEAT => return true,
                // Protected before any hello: picked up mid-way.
                _ if self.ch.is_none() => {
                    self.stop(role, Stop::Midstream);
                    return true;
                }
                // 0-RTT data comes before the ServerHello says which
                // version this is.
                _ => return false,
            },
        };
        if !protected {
            match ct {
                CT_HANDSHAKE => self.handshake(cx, role, frag),
                CT_CHANGE_CIPHER_SPEC if self.version != Some(Version::Tls13) => self.change_cipher_spec(role),
                // Application data in clear before a ChangeCipherSpec:
                // the handshake was not seen whole.
                CT_APPLICATION_DATA => self.stop(role, Stop::Midstream),
                _ => {}
            }
            return true;
        }
        self.dirs[r].protected_seen = true;
        match self.ensure_cipher(cx, role) {
            Ok(()) => {}
            Err(None) => return false,
            Err(Some(why)) => {
                self.stop(role, why);
                return true;
            }
        }
        if role == Role::Server
            && ct == CT_APPLICATION_DATA
            && self.dirs[r].proven
            && frag.len() >= SKIP_SERVER_RECORD
            && self.alpn.as_deref() != Some("h2")
        {
            // Server application data cannot carry an upload: once the
            // keys are proven, large records (downloads) are counted, not
            // decrypted. Small ones still are: in TLS 1.3 they may be
            // session tickets or key updates. (HTTP/2 will need them all
            // for its header tables.)
            if let Some(n) = self.dirs[r].cipher.as_mut().and_then(|c| c.skip(frag)) {
                cx.out.stats.tls.server_bytes += n as u64;
                return true;
            }
        }
        let mut plain = std::mem::take(&mut cx.out.tls.scratch);
        plain.clear();
        let header: [u8; 5] = [rec[0], rec[1], rec[2], rec[3], rec[4]];
        let inner = self.decrypt(cx, role, &header, frag, &mut plain);
        match inner {
            Some(inner) => self.plaintext(cx, role, inner, &plain, at),
            None => {
                let d = &mut self.dirs[r];
                d.failed += 1;
                if d.decrypted > 0 {
                    cx.out.stats.tls.bad_records += 1;
                    if role == Role::Client {
                        // Its plaintext is lost: the parser must not join
                        // what came before and after it.
                        self.child_gap(cx, frag.len() as u64);
                    }
                } else if d.failed > d.tolerate {
                    self.stop(role, Stop::BadKey);
                }
            }
        }
        cx.out.tls.scratch = plain;
        self.after_record(cx, role);
        true
    }

    /// Decrypts with the direction's cipher; in TLS 1.3, on failure, with
    /// the ciphers of the phases after it (a record's phase is not
    /// written on it).
    pub(super) fn decrypt(
        &mut self,
        cx: &mut Cx<'_>,
        role: Role,
        header: &[u8; 5],
        frag: &[u8],
        plain: &mut Vec<u8>,
    ) -> Option<u8> {
        let d = &mut self.dirs[role.index()];
        let cipher = d.cipher.as_mut()?;
        if let Ok(ct) = cipher.decrypt(header, frag, plain) {
            d.decrypted += 1;
            d.proven |= self.version != Some(Version::Tls13) || d.phase == Phase::App;
            d.read |= d.proven;
            return Some(ct);
        }
        if self.version != Some(Version::Tls13) {
            return None;
        }
        let (suite, ch) = (self.suite?, self.ch.as_ref()?);
        let secrets = cx.keys.secrets(&ch.random)?;
        for phase in [Phase::Handshake, Phase::App] {
            if phase <= d.phase {
                continue;
            }
            let Some(Ok(mut c)) = secret_of(secrets, role, phase).map(|s| RecordCipher::tls13(suite, s)) else {
                continue;
            };
            plain.clear();
            if let Ok(ct) = c.decrypt(header, frag, plain) {
                d.cipher = Some(Box::new(c));
                d.phase = phase;
                d.decrypted += 1;
                d.proven |= phase == Phase::App;
                d.read |= d.proven;
                return Some(ct);
            }
        }
        None
    }

    /// Makes the direction's cipher. `Err(None)`: keys may still come;
    /// `Err(Some(why))`: this direction cannot be decrypted.
    pub(super) fn ensure_cipher(&mut self, cx: &mut Cx<'_>, role: Role) -> Result<(), Option<Stop>> {
        let d = &mut self.dirs[role.index()];
        if d.cipher.is_some() {
            return Ok(());
        }
        // Keys can only come later from a Decryption Secrets Block.
        let wait = if cx.keys.may_grow() { None } else { Some(Stop::NoKey) };
        if cx.keys.hopeless() {
            return Err(Some(Stop::NoKey));
        }
        let Some(suite) = self.suite else { return Err(Some(Stop::Unsupported)) };
        let Some(ch) = self.ch.as_ref() else { return Err(Some(Stop::Midstream)) };
        if self.version == Some(Version::Tls13) {
            let Some(secrets) = cx.keys.secrets(&ch.random) else { return Err(wait) };
            let first = if role == Role::Client && ch.early_data { Phase::Early } else { Phase::Handshake };
            let start = first.max(d.phase);
            let found = [Phase::Early, Phase::Handshake, Phase::App]
                .into_iter()
                .filter(|p| *p >= start)
                .find_map(|p| secret_of(secrets, role, p).map(|s| (p, s)));
            let Some((phase, secret)) = found else { return Err(wait) };
            if ch.early_data && phase != Phase::Early {
                // 0-RTT data whose secret was not logged: however many
                // records it takes, they cannot authenticate; the
                // handshake's come after them.
                d.tolerate = u32::MAX;
            } else if phase != first {
                // Records of the phases skipped cannot authenticate.
                d.tolerate = TOLERATED_FAILURES;
            }
            d.phase = phase;
            // A secret of the wrong length for the suite cannot be right.
            d.cipher = Some(Box::new(RecordCipher::tls13(suite, secret).map_err(|_| Some(Stop::BadKey))?));
            return Ok(());
        }
        let Some(p) = d.ccs.as_ref() else { return Err(Some(Stop::Midstream)) };
        let resumed = self.sh.as_ref().is_some_and(|sh| !sh.session_id.is_empty() && sh.session_id == p.session_id);
        // Only a resumed session (its id echoed) reuses an earlier
        // master secret; a full handshake made a new one.
        let (sid, ticket): (&[u8], _) = if resumed { (&p.session_id, p.ticket.as_deref()) } else { (&[], None) };
        let Some(master) = cx.keys.master(&p.client_random, sid, ticket) else { return Err(wait) };
        let side = if role == Role::Client { Side::Client } else { Side::Server };
        let cipher = RecordCipher::tls12(
            p.suite,
            p.version,
            &master,
            &p.client_random,
            &p.server_random,
            side,
            p.encrypt_then_mac,
        );
        // A suite its version cannot use: the ServerHello is not one we
        // can follow.
        d.cipher = Some(Box::new(cipher.map_err(|_| Some(Stop::Unsupported))?));
        if let Some(sh) = self.sh.as_ref() {
            cx.keys.learn_session(&sh.session_id, &master);
        }
        Ok(())
    }

    /// TLS 1.0-1.2: the direction's records are protected from now on
    /// with the parameters of the latest ServerHello.
    pub(super) fn change_cipher_spec(&mut self, role: Role) {
        let d = &mut self.dirs[role.index()];
        d.ccs = self.params.clone();
        d.cipher = None;
        // New keys: not proven until a record decrypts with them.
        d.proven = false;
        if d.ccs.is_none() {
            self.stop(role, Stop::Midstream);
        }
    }

    /// Key changes a record's handshake messages asked for.
    pub(super) fn after_record(&mut self, cx: &mut Cx<'_>, role: Role) {
        let d = &mut self.dirs[role.index()];
        let next = match d.change.take() {
            None => return,
            Some(KeyChange::Update) => {
                if let Some(c) = d.cipher.as_mut() {
                    // Only TLS 1.3 ciphers get here: the message is
                    // parsed only then.
                    let _ = c.key_update();
                }
                return;
            }
            Some(KeyChange::ToApp) => Phase::App,
            Some(KeyChange::ToHandshake) => Phase::Handshake,
        };
        d.phase = next;
        d.cipher = None;
        let (Some(suite), Some(ch)) = (self.suite, self.ch.as_ref()) else { return };
        if let Some(secret) = cx.keys.secrets(&ch.random).and_then(|s| secret_of(s, role, next)) {
            d.cipher = RecordCipher::tls13(suite, secret).ok().map(Box::new);
        }
    }

    /// Keeps a record until keys (or the ServerHello) arrive, within the
    /// limits.
    pub(super) fn hold(&mut self, cx: &mut Cx<'_>, role: Role, rec: &[u8], at: At) {
        if self.version.is_some() && cx.keys.hopeless() {
            self.stop(role, Stop::NoKey);
            return;
        }
        let limits = self.cfg.tls;
        let d = &mut self.dirs[role.index()];
        if d.held_bytes + rec.len() > limits.max_held_per_conn || cx.out.tls.held + rec.len() > limits.max_held_total {
            // What is held so far still waits for its keys (the first
            // records of a connection, where requests start); the rest of
            // the direction is given up, and the limit is reported.
            self.stop(role, Stop::Limit);
            return;
        }
        d.held_bytes += rec.len();
        cx.out.tls.held += rec.len();
        d.held.push(Held { at, rec: rec.to_vec() });
    }

    /// Retries the records a direction holds.
    pub(super) fn drain(&mut self, cx: &mut Cx<'_>, role: Role) {
        let d = &mut self.dirs[role.index()];
        if d.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut d.held);
        cx.out.tls.held -= d.held_bytes;
        d.held_bytes = 0;
        let mut it = held.into_iter();
        while let Some(h) = it.next() {
            if self.dirs[role.index()].stop.is_some_and(|s| s != Stop::Limit) {
                break;
            }
            if !self.try_record(cx, role, &h.rec, h.at) {
                let d = &mut self.dirs[role.index()];
                let back: Vec<Held> = std::iter::once(h).chain(it).collect();
                d.held_bytes = back.iter().map(|h| h.rec.len()).sum();
                cx.out.tls.held += d.held_bytes;
                d.held = back;
                break;
            }
        }
    }

    pub(super) fn waiting(&self) -> bool {
        self.dirs.iter().any(|d| !d.held.is_empty() && d.stop.is_none_or(|s| s == Stop::Limit))
    }
}
