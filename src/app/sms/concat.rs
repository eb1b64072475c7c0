//! concat: joins the parts of concatenated short messages (TS 23.040
//! 9.2.3.24.1 / .8), keyed by direction, address, reference and total.
//!
//! Input: [`SmsPart`]s in capture order. Output: a whole [`Sms`] when its
//! last part arrives; at [`Reassembler::finish`], and when the held parts
//! pass [`MAX_PARTS_HELD`] (the oldest set first), the incomplete ones as
//! partial messages noting each missing part, so no text goes unscanned.
//! Never: hold more than [`MAX_PARTS_HELD`] parts, depend on time, or
//! iterate a hash map for output (the order is the capture's).

use std::collections::{BTreeMap, HashMap};

use super::{Sms, SmsPart};

/// Most parts held, over all incomplete messages.
pub const MAX_PARTS_HELD: usize = 1024;
/// Most parts of one message (the IE's count is one octet).
pub const MAX_PARTS_PER_MESSAGE: usize = 255;

/// What the reassembler did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConcatStats {
    /// Parts that carried a concatenation IE.
    pub parts: u64,
    /// Messages joined from all their parts.
    pub completed: u64,
    /// Messages emitted with parts missing (at the end or on eviction).
    pub partial: u64,
    /// Incomplete messages pushed out by [`MAX_PARTS_HELD`].
    pub limit_evictions: u64,
    /// Parts seen twice (the first kept).
    pub duplicates: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    uplink: bool,
    address: Option<String>,
    reference: u16,
    total: u8,
}

#[derive(Debug)]
struct Set {
    /// Arrival number of the first part: the eviction order.
    order: u64,
    parts: BTreeMap<u8, Sms>,
}

/// Incomplete concatenated messages of one capture.
#[derive(Debug, Default)]
pub struct Reassembler {
    sets: HashMap<Key, Set>,
    /// Arrival order of the sets held.
    oldest: BTreeMap<u64, Key>,
    next: u64,
    held: usize,
    stats: ConcatStats,
}

impl Reassembler {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> ConcatStats {
        self.stats
    }

    /// Parts held now.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Takes one part; pushes to `out` the message it completes (or the
    /// part itself when not concatenated) and any set evicted for room.
    pub fn push(&mut self, part: SmsPart, out: &mut Vec<Sms>) {
        let Some(c) = part.concat.filter(|c| c.total > 1) else {
            out.push(part.sms);
            return;
        };
        self.stats.parts += 1;
        let key =
            Key { uplink: part.sms.uplink, address: part.sms.address.clone(), reference: c.reference, total: c.total };
        let set = self.sets.entry(key.clone()).or_insert_with(|| {
            let order = self.next;
            self.next += 1;
            self.oldest.insert(order, key.clone());
            Set { order, parts: BTreeMap::new() }
        });
        if set.parts.contains_key(&c.seq) {
            self.stats.duplicates += 1;
            return;
        }
        set.parts.insert(c.seq, part.sms);
        self.held += 1;
        if set.parts.len() == usize::from(c.total) {
            if let Some(sms) = self.remove(&key).and_then(|set| join(set, c.total)) {
                self.stats.completed += 1;
                out.push(sms);
            }
            return;
        }
        while self.held > MAX_PARTS_HELD {
            let Some((_, k)) = self.oldest.pop_first() else { break };
            if let Some(mut sms) = self.remove_set(&k).and_then(|set| join(set, k.total)) {
                self.stats.limit_evictions += 1;
                self.stats.partial += 1;
                sms.notes.push(format!("held-parts limit ({MAX_PARTS_HELD}) reached: emitted incomplete"));
                out.push(sms);
            }
        }
    }

    /// Emits every incomplete message, oldest first.
    pub fn finish(&mut self, out: &mut Vec<Sms>) {
        while let Some((_, k)) = self.oldest.pop_first() {
            if let Some(sms) = self.remove_set(&k).and_then(|set| join(set, k.total)) {
                self.stats.partial += 1;
                out.push(sms);
            }
        }
    }

    fn remove(&mut self, key: &Key) -> Option<Set> {
        let set = self.remove_set(key)?;
        self.oldest.remove(&set.order);
        Some(set)
    }

    /// Removes the set, not its `oldest` entry.
    fn remove_set(&mut self, key: &Key) -> Option<Set> {
        let set = self.sets.remove(key)?;
        self.held -= set.parts.len();
        Some(set)
    }
}

/// The parts in order, one message; each missing part noted.
fn join(set: Set, total: u8) -> Option<Sms> {
    let mut it = set.parts.into_iter();
    let (first_seq, mut sms) = it.next()?;
    let mut notes = std::mem::take(&mut sms.notes);
    let mut present = vec![first_seq];
    for (seq, p) in it {
        sms.text.push_str(&p.text);
        if p.alphabet != sms.alphabet {
            notes.push(format!("part {seq} is {}, part {first_seq} {}", p.alphabet.as_str(), sms.alphabet.as_str()));
        }
        for n in p.notes {
            if !notes.contains(&n) {
                notes.push(n);
            }
        }
        present.push(seq);
    }
    for seq in 1..=total {
        if present.binary_search(&seq).is_err() {
            notes.push(format!("part {seq} of {total} missing"));
        }
    }
    sms.parts = u8::try_from(present.len()).unwrap_or(u8::MAX);
    sms.notes = notes;
    Some(sms)
}
