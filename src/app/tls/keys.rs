//! The key material of one capture: the run's key logs (`--keylog`,
//! `SSLKEYLOGFILE`, shared by every capture), a key log found beside the
//! capture, the capture's own Decryption Secrets Blocks, and the TLS 1.2
//! sessions learnt while reading it (session id and ticket to master
//! secret, for resumed sessions whose key log line is missing).

use std::collections::HashMap;
use std::sync::Arc;

use super::keylog::{KeyLog, KeyLogNote, Secrets};

/// Sessions remembered per capture for resumption.
const MAX_SESSIONS: usize = 10_000;

pub struct KeyStore {
    shared: Arc<KeyLog>,
    local: KeyLog,
    /// Bumped whenever keys are added, so waiting connections retry.
    generation: u64,
    /// More keys may still come (the capture is pcapng: a Decryption
    /// Secrets Block can appear anywhere).
    may_grow: bool,
    sessions: HashMap<Vec<u8>, Vec<u8>>,
    tickets: HashMap<Vec<u8>, Vec<u8>>,
    /// Key log entries read from the capture itself.
    pub embedded_entries: u64,
}

impl KeyStore {
    pub fn new(shared: Arc<KeyLog>) -> Self {
        KeyStore {
            shared,
            local: KeyLog::new(),
            generation: 0,
            may_grow: false,
            sessions: HashMap::new(),
            tickets: HashMap::new(),
            embedded_entries: 0,
        }
    }

    /// Says whether key material may still arrive later in the capture.
    pub fn set_may_grow(&mut self, may: bool) {
        self.may_grow = may;
    }

    pub fn may_grow(&self) -> bool {
        self.may_grow
    }

    /// No key at all, and none can come: TLS is only counted.
    pub fn hopeless(&self) -> bool {
        !self.may_grow && self.shared.is_empty() && self.local.is_empty()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Adds a key log beside the capture.
    pub fn add_local(&mut self, text: &[u8]) -> Vec<KeyLogNote> {
        self.generation += 1;
        self.local.add(text)
    }

    /// Adds a key log embedded in the capture.
    pub fn add_embedded(&mut self, text: &[u8]) -> Vec<KeyLogNote> {
        let before = self.local.stats.entries;
        let notes = self.local.add(text);
        let added = self.local.stats.entries - before;
        self.embedded_entries += added;
        if added > 0 {
            self.generation += 1;
        }
        notes
    }

    /// The secrets logged for a client random.
    pub fn secrets(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.local.get(client_random).or_else(|| self.shared.get(client_random))
    }

    /// The TLS 1.2 master secret of a session: logged for its client
    /// random, else learnt for its session id or ticket (resumption),
    /// else logged for its session id (`RSA Session-ID:` lines).
    pub fn master(&self, client_random: &[u8; 32], session_id: &[u8], ticket: Option<&[u8]>) -> Option<Vec<u8>> {
        if let Some(m) = self.secrets(client_random).and_then(|s| s.master.clone()) {
            return Some(m);
        }
        if !session_id.is_empty() {
            if let Some(m) = self.sessions.get(session_id) {
                return Some(m.clone());
            }
            if let Some(m) =
                self.local.master_for_session(session_id).or_else(|| self.shared.master_for_session(session_id))
            {
                return Some(m.to_vec());
            }
        }
        ticket.and_then(|t| self.tickets.get(t)).cloned()
    }

    /// Remembers a session's master secret for later resumptions.
    pub fn learn_session(&mut self, session_id: &[u8], master: &[u8]) {
        if !session_id.is_empty() && self.sessions.len() < MAX_SESSIONS {
            self.sessions.insert(session_id.to_vec(), master.to_vec());
        }
    }

    pub fn learn_ticket(&mut self, ticket: &[u8], master: &[u8]) {
        if self.tickets.len() < MAX_SESSIONS {
            self.tickets.insert(ticket.to_vec(), master.to_vec());
        }
    }
}
