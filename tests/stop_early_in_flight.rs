//! A reporter that stops early (a closed pipe, a full disk) while the
//! reader waits for batches to come back under its budget of bytes in
//! flight (`IN_FLIGHT_BYTES`): the scan must end, not hang. A record of
//! more than 8 MiB makes one batch cost more than the whole budget.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn csum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An Ethernet/IPv4/TCP frame from 10.0.0.2:40000 to 93.184.216.34:80.
fn frame(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (src, dst) = ([10u8, 0, 0, 2], [93u8, 184, 216, 34]);
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&40000u16.to_be_bytes());
    tcp.extend_from_slice(&80u16.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&1u32.to_be_bytes());
    tcp.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    let mut ph = Vec::new();
    ph.extend_from_slice(&src);
    ph.extend_from_slice(&dst);
    ph.extend_from_slice(&[0, 6]);
    ph.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    ph.extend_from_slice(&tcp);
    let c = csum(&ph);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0, 0, 64, 6, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = csum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
    f.extend_from_slice(&ip);
    f.extend_from_slice(&tcp);
    f
}

/// One connection of HTTP requests carrying an IMEI, the `big_at`th of
/// them in a record padded to `big` bytes.
fn capture(requests: usize, big_at: usize, big: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&(64u32 << 20).to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut us = 0u32;
    let mut rec = |out: &mut Vec<u8>, data: Vec<u8>, pad: usize| {
        us += 100;
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        out.extend_from_slice(&us.to_le_bytes());
        let n = (data.len() + pad) as u32;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&data);
        out.resize(out.len() + pad, 0);
    };
    let mut seq = 1000u32;
    rec(&mut out, frame(seq, 0x02, b""), 0);
    seq += 1;
    for i in 0..requests {
        let p = format!("GET /t?imei=490154203237518&n={i} HTTP/1.1\r\nHost: x.example\r\n\r\n");
        rec(&mut out, frame(seq, 0x18, p.as_bytes()), if i == big_at { big } else { 0 });
        seq = seq.wrapping_add(p.len() as u32);
    }
    out
}

fn wait_or_kill(child: &mut std::process::Child, what: &str) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if child.try_wait().expect("wait").is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{what}: the scan hung after its reporter stopped");
}

#[test]
fn a_reporter_that_stops_while_the_reader_waits_on_its_budget_ends_the_scan() {
    let dir = std::env::temp_dir().join(format!("teleaudit-stop-early-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("big-record.pcap");
    std::fs::write(&pcap, capture(26_000, 6_000, 9 << 20)).unwrap();
    for jobs in ["2", "3"] {
        for round in 0..3 {
            // A pipe closed after the first bytes.
            let mut child = Command::new(env!("CARGO_BIN_EXE_teleaudit"))
                .args(["scan", "--format", "jsonl", "-j", jobs])
                .arg(&pcap)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut head = [0u8; 100];
            child.stdout.take().unwrap().read_exact(&mut head).unwrap();
            wait_or_kill(&mut child, &format!("-j {jobs}, closed pipe, run {round}"));
            // A full disk.
            if std::path::Path::new("/dev/full").exists() {
                let mut child = Command::new(env!("CARGO_BIN_EXE_teleaudit"))
                    .args(["scan", "--format", "jsonl", "-o", "/dev/full", "-j", jobs])
                    .arg(&pcap)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                wait_or_kill(&mut child, &format!("-j {jobs}, /dev/full, run {round}"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
