//! SQLite: a run's results as tables a lab can query, appended to the
//! database named by `-o` under a new run id (a batch of thousands of
//! captures is one database; a second run adds rows, never replaces).
//!
//! Tables (README has the schema and example queries): `runs`,
//! `captures`, `requests` (those with findings), `findings`, `hosts`,
//! `apps`, `errors`, and the view `leaks` (findings of one capture grouped
//! by fingerprint, with their count and first and last time). Values are
//! masked unless `--show-values`, as in every format.
//!
//! The run is one transaction: a run that fails leaves the database as it
//! was. Streaming: each finding is one insert; nothing is held per
//! finding besides the ids of the latest requests (bounded).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;

use rusqlite::{Connection, params};

use super::{Privacy, ReportOptions, Reporter, Summary};
use crate::finding::{FileReport, Finding, RequestRecord};

/// The schema, created when missing. `schema_version` 1.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    files INTEGER, frames INTEGER, bytes INTEGER, requests INTEGER,
    findings_high INTEGER, findings_medium INTEGER, findings_low INTEGER,
    errors INTEGER, suppressed INTEGER, elapsed_seconds REAL
);
CREATE TABLE IF NOT EXISTS captures (
    capture_id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    name TEXT NOT NULL,
    format TEXT, frames INTEGER, bytes INTEGER, flows INTEGER, requests INTEGER,
    findings INTEGER, errors INTEGER, elapsed_seconds REAL,
    -- the whole capture record of JSON Lines (not_inspected, tls, apps...)
    record TEXT
);
CREATE TABLE IF NOT EXISTS requests (
    request_id INTEGER PRIMARY KEY,
    capture_id INTEGER NOT NULL REFERENCES captures(capture_id),
    frame INTEGER NOT NULL, time TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL,
    host TEXT, method TEXT, uri TEXT, protocol TEXT NOT NULL, stream_id INTEGER, app TEXT
);
CREATE TABLE IF NOT EXISTS findings (
    finding_id INTEGER PRIMARY KEY,
    capture_id INTEGER NOT NULL REFERENCES captures(capture_id),
    request_id INTEGER NOT NULL REFERENCES requests(request_id),
    rule TEXT NOT NULL, severity TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
    matched TEXT, confidence TEXT NOT NULL, location TEXT NOT NULL, field TEXT,
    encoding TEXT NOT NULL, role TEXT, title TEXT NOT NULL, fingerprint TEXT NOT NULL,
    frame INTEGER NOT NULL, time TEXT NOT NULL, host TEXT
);
CREATE TABLE IF NOT EXISTS hosts (
    capture_id INTEGER NOT NULL REFERENCES captures(capture_id),
    host TEXT NOT NULL, requests INTEGER NOT NULL, first TEXT, last TEXT, apps TEXT
);
CREATE TABLE IF NOT EXISTS apps (
    capture_id INTEGER NOT NULL REFERENCES captures(capture_id),
    app TEXT, app_id INTEGER, source TEXT, frames INTEGER, requests INTEGER, first TEXT, last TEXT
);
CREATE TABLE IF NOT EXISTS errors (
    capture_id INTEGER REFERENCES captures(capture_id),
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    frame INTEGER, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_kind ON findings(kind);
CREATE INDEX IF NOT EXISTS findings_host ON findings(host);
CREATE INDEX IF NOT EXISTS findings_capture ON findings(capture_id);
CREATE INDEX IF NOT EXISTS findings_fingerprint ON findings(fingerprint);
CREATE INDEX IF NOT EXISTS requests_capture ON requests(capture_id, frame);
CREATE INDEX IF NOT EXISTS captures_run ON captures(run_id);
CREATE VIEW IF NOT EXISTS leaks AS
    SELECT c.run_id, f.capture_id, f.fingerprint, f.rule, f.severity, f.kind, f.host,
           r.method, r.uri, f.location, f.field, f.encoding, r.app,
           count(*) AS times, min(f.time) AS first, max(f.time) AS last
    FROM findings f JOIN requests r USING (request_id) JOIN captures c USING (capture_id)
    GROUP BY f.capture_id, f.fingerprint;
";

/// Request ids remembered before the map starts again.
const RECENT_REQUESTS: usize = 4096;

pub struct SqliteReporter {
    db: Connection,
    p: Privacy,
    run_id: i64,
    capture_id: Option<i64>,
    /// Request ids of the capture's latest requests, by where each was
    /// seen. A request's findings come together, right after it, so the
    /// map is cleared past [`RECENT_REQUESTS`]: memory does not grow with
    /// the capture.
    requests: HashMap<(u64, SocketAddr, SocketAddr, Option<u32>), i64>,
}

fn db_err(e: rusqlite::Error) -> io::Error {
    io::Error::other(format!("SQLite: {e}"))
}

impl SqliteReporter {
    /// Opens (or creates) the database and starts a run in it.
    pub fn open(path: &Path, opts: ReportOptions) -> io::Result<SqliteReporter> {
        let db = Connection::open(path).map_err(db_err)?;
        db.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA foreign_keys = ON;").map_err(db_err)?;
        db.execute_batch("BEGIN").map_err(db_err)?;
        db.execute_batch(SCHEMA).map_err(db_err)?;
        let version: Option<i64> =
            db.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0)).map_err(db_err)?;
        match version {
            None => {
                db.execute("INSERT INTO schema_version VALUES (1)", []).map_err(db_err)?;
            }
            Some(1) => {}
            Some(v) => {
                return Err(io::Error::other(format!(
                    "{}: schema version {v}, this teleaudit writes 1",
                    path.display()
                )));
            }
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let started = crate::util::Timestamp::new(now.as_secs() as i64, now.subsec_nanos()).rfc3339();
        db.execute(
            "INSERT INTO runs (started, tool_version) VALUES (?1, ?2)",
            params![started, env!("CARGO_PKG_VERSION")],
        )
        .map_err(db_err)?;
        let run_id = db.last_insert_rowid();
        Ok(SqliteReporter { db, p: Privacy::new(opts), run_id, capture_id: None, requests: HashMap::new() })
    }

    /// The run's id in the database.
    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    fn capture(&mut self) -> io::Result<i64> {
        if let Some(id) = self.capture_id {
            return Ok(id);
        }
        self.db.execute("INSERT INTO captures (run_id, name) VALUES (?1, '')", params![self.run_id]).map_err(db_err)?;
        let id = self.db.last_insert_rowid();
        self.capture_id = Some(id);
        Ok(id)
    }

    fn request_of(&mut self, f: &Finding, capture_id: i64) -> io::Result<i64> {
        let key = (f.frame, f.src, f.dst, f.stream_id);
        if let Some(id) = self.requests.get(&key) {
            return Ok(*id);
        }
        let p = &self.p;
        let row = RequestRow {
            frame: f.frame,
            time: f.time,
            src: f.src,
            dst: f.dst,
            host: p.opt(f.host.as_deref()),
            method: p.opt(f.method.as_deref()),
            uri: p.uri(f),
            protocol: f.protocol,
            stream_id: f.stream_id,
            app: f.app.as_ref().map(|a| p.text(&a.display()).into_owned()),
        };
        let id = self.insert_request(capture_id, row)?;
        self.remember(key, id);
        Ok(id)
    }

    fn remember(&mut self, key: (u64, SocketAddr, SocketAddr, Option<u32>), id: i64) {
        if self.requests.len() >= RECENT_REQUESTS {
            self.requests.clear();
        }
        self.requests.insert(key, id);
    }

    fn insert_request(&self, capture_id: i64, r: RequestRow) -> io::Result<i64> {
        self.db
            .prepare_cached(
                "INSERT INTO requests (capture_id, frame, time, src, dst, host, method, uri, protocol, stream_id, app)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    capture_id,
                    r.frame as i64,
                    r.time.rfc3339(),
                    r.src.to_string(),
                    r.dst.to_string(),
                    r.host,
                    r.method,
                    r.uri,
                    r.protocol,
                    r.stream_id,
                    r.app,
                ])
            })
            .map_err(db_err)?;
        Ok(self.db.last_insert_rowid())
    }
}

/// One row of `requests`, its texts already masked.
struct RequestRow {
    frame: u64,
    time: crate::util::Timestamp,
    src: SocketAddr,
    dst: SocketAddr,
    host: Option<String>,
    method: Option<String>,
    uri: Option<String>,
    protocol: &'static str,
    stream_id: Option<u32>,
    app: Option<String>,
}

impl Reporter for SqliteReporter {
    fn begin(&mut self, capture: &str) -> io::Result<()> {
        self.capture_id = None;
        self.requests.clear();
        // The empty name holds errors of no capture (paths that could
        // not be read): no capture row for them.
        if capture.is_empty() { Ok(()) } else { self.capture().map(|_| ()) }
    }

    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        self.p.learn(f);
        let capture_id = self.capture()?;
        let request_id = self.request_of(f, capture_id)?;
        let p = &self.p;
        self.db
            .prepare_cached(
                "INSERT INTO findings (capture_id, request_id, rule, severity, kind, value, matched, confidence,
                 location, field, encoding, role, title, fingerprint, frame, time, host)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    capture_id,
                    request_id,
                    &*f.rule,
                    f.severity.as_str(),
                    &*f.kind,
                    p.value(&f.value),
                    f.matched.as_deref().map(|m| p.value(m)),
                    f.confidence.as_str(),
                    f.location.as_str(),
                    p.opt(f.field.as_deref()),
                    f.encoding.join(" > "),
                    f.role,
                    p.text(&f.title),
                    f.fingerprint(),
                    f.frame as i64,
                    f.time.rfc3339(),
                    p.opt(f.host.as_deref()),
                ])
            })
            .map_err(db_err)?;
        Ok(())
    }

    /// A request of `--all-requests`: listed with or without findings
    /// (its findings, which follow it, point to it).
    fn request(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.p.learn_values(&r.found);
        let capture_id = self.capture()?;
        let key = (r.frame, r.src, r.dst, r.stream_id);
        if self.requests.contains_key(&key) {
            return Ok(());
        }
        let p = &self.p;
        let uri = if p.opts.show_values { &r.uri } else { &r.uri_masked };
        let row = RequestRow {
            frame: r.frame,
            time: r.time,
            src: r.src,
            dst: r.dst,
            host: p.opt(r.host.as_deref()),
            method: Some(p.text(&r.method).into_owned()),
            uri: Some(p.text(uri).into_owned()),
            protocol: r.protocol,
            stream_id: r.stream_id,
            app: r.app.as_ref().map(|a| p.text(&a.display()).into_owned()),
        };
        let id = self.insert_request(capture_id, row)?;
        self.remember(key, id);
        Ok(())
    }

    fn end(&mut self, r: &FileReport) -> io::Result<()> {
        if r.capture.is_empty() {
            for e in &r.errors {
                let message = format!("{}: {}", e.capture, e.message);
                self.db
                    .execute(
                        "INSERT INTO errors VALUES (NULL, ?1, ?2, ?3)",
                        params![self.run_id, e.frame.map(|f| f as i64), self.p.text(&message)],
                    )
                    .map_err(db_err)?;
            }
            return Ok(());
        }
        let capture_id = self.capture()?;
        let p = &self.p;
        let s = &r.stats;
        let record = super::jsonl::capture_json(r, p).to_string();
        self.db
            .execute(
                "UPDATE captures SET name = ?1, format = ?2, frames = ?3, bytes = ?4, flows = ?5, requests = ?6,
                 findings = ?7, errors = ?8, elapsed_seconds = ?9, record = ?10 WHERE capture_id = ?11",
                params![
                    p.text(&r.capture),
                    s.format,
                    s.frames as i64,
                    s.bytes as i64,
                    s.flows as i64,
                    s.requests as i64,
                    s.findings as i64,
                    r.errors.len() as i64,
                    s.elapsed_secs,
                    record,
                    capture_id
                ],
            )
            .map_err(db_err)?;
        for h in &r.hosts {
            let apps: Vec<String> = h.apps.iter().map(|a| p.text(a).into_owned()).collect();
            self.db
                .prepare_cached("INSERT INTO hosts VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .and_then(|mut st| {
                    st.execute(params![
                        capture_id,
                        p.text(&h.host),
                        h.requests as i64,
                        h.first.rfc3339(),
                        h.last.rfc3339(),
                        apps.join(", ")
                    ])
                })
                .map_err(db_err)?;
        }
        for a in &r.apps {
            self.db
                .prepare_cached("INSERT INTO apps VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                .and_then(|mut st| {
                    st.execute(params![
                        capture_id,
                        p.opt(a.app.name.as_deref()),
                        a.app.id,
                        a.app.source,
                        a.frames as i64,
                        a.requests as i64,
                        a.first.rfc3339(),
                        a.last.rfc3339()
                    ])
                })
                .map_err(db_err)?;
        }
        for e in &r.errors {
            self.db
                .prepare_cached("INSERT INTO errors VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut st| {
                    st.execute(params![capture_id, self.run_id, e.frame.map(|f| f as i64), p.text(&e.message)])
                })
                .map_err(db_err)?;
        }
        self.capture_id = None;
        self.requests.clear();
        Ok(())
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        self.db
            .execute(
                "UPDATE runs SET files = ?1, frames = ?2, bytes = ?3, requests = ?4, findings_low = ?5,
                 findings_medium = ?6, findings_high = ?7, errors = ?8, suppressed = ?9, elapsed_seconds = ?10
                 WHERE run_id = ?11",
                params![
                    s.files as i64,
                    s.frames as i64,
                    s.bytes as i64,
                    s.requests as i64,
                    s.findings[0] as i64,
                    s.findings[1] as i64,
                    s.findings[2] as i64,
                    s.errors as i64,
                    s.suppressed as i64,
                    s.elapsed_secs,
                    self.run_id
                ],
            )
            .map_err(db_err)?;
        self.db.execute_batch("COMMIT").map_err(db_err)
    }
}
