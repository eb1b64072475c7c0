//! What records carry: handshake messages (reassembled across records,
//! parsed for the randoms, version, suite, extensions, tickets and key
//! changes) and application data, handed to the child dissector.

use super::*;

impl Tls {
    pub(super) fn plaintext(&mut self, cx: &mut Cx<'_>, role: Role, ct: u8, plain: &[u8], at: At) {
        match ct {
            CT_HANDSHAKE => self.handshake(cx, role, plain),
            // A renegotiation's ChangeCipherSpec, under the old keys: the
            // records after it use the new handshake's.
            CT_CHANGE_CIPHER_SPEC if self.version != Some(Version::Tls13) => self.change_cipher_spec(role),
            CT_APPLICATION_DATA if role == Role::Server => {
                cx.out.stats.tls.server_bytes += plain.len() as u64;
                self.give_child(cx, role, plain, at);
            }
            CT_APPLICATION_DATA => {
                cx.out.stats.tls.client_bytes += plain.len() as u64;
                self.give_child(cx, role, plain, at);
            }
            _ => {}
        }
    }

    /// Plaintext, to the child dissector as if in clear: HTTP/2 when ALPN
    /// says so (or, without ALPN, the client's whole preface does), which
    /// reads both sides (the server's header blocks keep its HPACK table
    /// in step); else HTTP/1.x (or text), which reads the client's.
    pub(super) fn give_child(&mut self, cx: &mut Cx<'_>, role: Role, plain: &[u8], at: At) {
        if plain.is_empty() {
            return;
        }
        if self.child.is_none() {
            // Without ALPN, only the preface's first line at least says
            // HTTP/2 (a first record of one byte "P" is a TLS 1.0 client's
            // 1/n-1 split of a POST).
            let preface = role == Role::Client
                && self.alpn.is_none()
                && plain.len() >= 16
                && crate::app::http2::PREFACE.starts_with(&plain[..plain.len().min(crate::app::http2::PREFACE.len())]);
            if self.alpn.as_deref() == Some("h2") || preface {
                self.http2 = true;
                self.child = Some(Box::new(crate::app::http2::Http2::new(&self.cfg)));
            } else if role == Role::Client {
                self.child = Some(crate::app::dissector_for_plaintext(&self.cfg, plain));
            } else {
                return;
            }
        }
        if role == Role::Server && !self.http2 {
            return;
        }
        if self.child_done[role.index()] {
            return;
        }
        let Some((client, server)) = self.client_addrs else { return };
        let (src, dst) = if role == Role::Client { (client, server) } else { (server, client) };
        let seg = Seg { role, src, dst, midstream: false, chunk: Chunk { data: plain, frame: at.frame, ts: at.ts } };
        let (nr, ns) = (cx.out.requests.len(), (cx.out.streams.len(), cx.out.sip.len()));
        if let Some(c) = self.child.as_mut()
            && c.data(cx, seg) == Verdict::DropDir
        {
            self.child_done[role.index()] = true;
        }
        self.tag(cx, nr, ns);
    }

    /// Plaintext of the client that will never be seen (a record that
    /// did not authenticate, a capture gap): the child hears of it as a
    /// gap, as it would in clear.
    pub(super) fn child_gap(&mut self, cx: &mut Cx<'_>, len: u64) {
        let (nr, ns) = (cx.out.requests.len(), (cx.out.streams.len(), cx.out.sip.len()));
        if let Some(c) = self.child.as_mut() {
            c.gap(cx, Role::Client, len);
        }
        self.tag(cx, nr, ns);
    }

    /// Marks what the child produced since `nr`/`ns` (streams, SIP
    /// messages) as carried by TLS.
    pub(super) fn tag(&mut self, cx: &mut Cx<'_>, nr: usize, ns: (usize, usize)) {
        let info = self.info.clone();
        for r in &mut cx.out.requests[nr..] {
            r.tls = info.clone();
        }
        for s in &mut cx.out.streams[ns.0..] {
            s.tls = info.clone();
        }
        for m in &mut cx.out.sip[ns.1..] {
            m.tls = info.clone();
        }
    }

    /// Handshake bytes (clear or decrypted) of one direction, cut into
    /// messages.
    pub(super) fn handshake(&mut self, cx: &mut Cx<'_>, role: Role, mut rest: &[u8]) {
        let r = role.index();
        let u24 = |b: &[u8]| (usize::from(b[1]) << 16) | (usize::from(b[2]) << 8) | usize::from(b[3]);
        while !rest.is_empty() {
            let d = &mut self.dirs[r];
            if d.hs_skip > 0 {
                let n = d.hs_skip.min(rest.len());
                d.hs_skip -= n;
                rest = &rest[n..];
                continue;
            }
            if d.hs.is_empty() && rest.len() >= 4 {
                let (kind, len) = (rest[0], u24(rest));
                if !wanted(kind) || len > MAX_HANDSHAKE_MESSAGE {
                    d.hs_skip = len;
                    rest = &rest[4..];
                    continue;
                }
                if rest.len() >= 4 + len {
                    // A whole message in this record: no copy.
                    let (msg, tail) = rest.split_at(4 + len);
                    self.message(cx, role, kind, &msg[4..]);
                    rest = tail;
                    continue;
                }
            }
            // A message split across records: kept, within the budget of
            // partial records.
            let want = if d.hs.len() < 4 { 4 - d.hs.len() } else { 4 + u24(&d.hs) - d.hs.len() };
            let n = want.min(rest.len());
            if cx.out.tls.partial + n > self.cfg.tls.max_partial_total {
                self.stop(role, Stop::Limit);
                return;
            }
            d.hs.extend_from_slice(&rest[..n]);
            cx.out.tls.partial += n;
            rest = &rest[n..];
            if d.hs.len() < 4 {
                return;
            }
            let (kind, len) = (d.hs[0], u24(&d.hs));
            if !wanted(kind) || len > MAX_HANDSHAKE_MESSAGE {
                cx.out.tls.partial -= d.hs.len();
                d.hs.clear();
                d.hs_skip = len;
            } else if d.hs.len() == 4 + len {
                let msg = std::mem::take(&mut d.hs);
                cx.out.tls.partial -= msg.len();
                self.message(cx, role, kind, &msg[4..]);
            }
        }
    }

    pub(super) fn message(&mut self, cx: &mut Cx<'_>, role: Role, kind: u8, body: &[u8]) {
        let v13 = self.version == Some(Version::Tls13);
        let d = &mut self.dirs[role.index()];
        match (role, kind) {
            (Role::Client, handshake::CLIENT_HELLO) => {
                let Some(ch) = handshake::client_hello(body) else {
                    self.stop(role, Stop::Malformed);
                    return;
                };
                if let Some(name) = &ch.sni {
                    cx.out.stats.server_name(name);
                }
                // After a HelloRetryRequest the second hello keeps the
                // random; it may not send 0-RTT data.
                match self.ch.as_mut() {
                    Some(old) if old.random == ch.random => old.early_data = false,
                    _ => self.ch = Some(Box::new(ch)),
                }
            }
            (Role::Server, handshake::SERVER_HELLO) => {
                let Some(sh) = handshake::server_hello(body) else { return };
                if sh.retry {
                    return;
                }
                self.server_hello(sh);
            }
            (Role::Server, handshake::ENCRYPTED_EXTENSIONS) => {
                self.alpn = handshake::encrypted_extensions_alpn(body).or(self.alpn.take());
            }
            (Role::Server, handshake::NEW_SESSION_TICKET) if !v13 => {
                let master = self.params.as_ref().and_then(|p| {
                    let sid = self.sh.as_ref().map_or(&[][..], |s| &s.session_id);
                    cx.keys.master(&p.client_random, sid, p.ticket.as_deref())
                });
                if let (Some(t), Some(m)) = (handshake::new_session_ticket_12(body), master) {
                    cx.keys.learn_ticket(&t, &m);
                }
            }
            (_, handshake::FINISHED) if v13 && d.phase < Phase::App => d.change = Some(KeyChange::ToApp),
            (_, handshake::KEY_UPDATE) if v13 => d.change = Some(KeyChange::Update),
            (Role::Client, handshake::END_OF_EARLY_DATA) if v13 => d.change = Some(KeyChange::ToHandshake),
            _ => {}
        }
    }

    pub(super) fn server_hello(&mut self, sh: ServerHello) {
        let version = Version::from_wire(sh.version);
        let suite = crypto::suite(sh.suite);
        match (version, suite) {
            (Some(v), Some(s)) if s.tls13 == (v == Version::Tls13) => {
                self.version = Some(v);
                self.suite = Some(s);
                self.unsupported = None;
            }
            (None, _) => self.unsupported = Some(version_name(sh.version)),
            _ => {
                self.unsupported = Some(
                    crypto::suite_name(sh.suite)
                        .map_or_else(|| format!("cipher suite {:#06x}", sh.suite), |n| n.to_string()),
                )
            }
        }
        if self.unsupported.is_some() {
            // Also after a renegotiation: nothing of the old session
            // applies to the new one.
            (self.version, self.suite, self.params) = (None, None, None);
        }
        if let Some(a) = &sh.alpn {
            self.alpn = Some(a.clone());
        }
        let sni = self.ch.as_ref().and_then(|c| c.sni.clone());
        self.info = match (self.version, self.suite) {
            (Some(v), Some(s)) => Some(Arc::new(TlsInfo { version: v.as_str(), cipher: s.name, sni })),
            _ => None,
        };
        if let (Some(v), Some(s), Some(ch)) = (self.version, self.suite, self.ch.as_ref())
            && v != Version::Tls13
        {
            self.params = Some(Box::new(Params12 {
                version: v,
                suite: s,
                client_random: ch.random,
                server_random: sh.random,
                session_id: ch.session_id.clone(),
                ticket: ch.ticket.clone(),
                encrypt_then_mac: sh.encrypt_then_mac && ch.encrypt_then_mac,
            }));
        }
        self.sh = Some(Box::new(sh));
        self.replay = true;
    }
}
