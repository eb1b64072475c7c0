#!/usr/bin/env python3
"""Finding-dense, phone-like pcap generator (independent of teleaudit's own bench).

gen.py OUT.pcap --size-mb N --seed S [--devices D]

Writes a classic pcap (Ethernet, IPv4 and some IPv6), streamed to disk in constant
memory, and OUT.pcap.truth.tsv beside it: one line per planted identifier:
  req  frame  host  kind  value  sent  field  how
`frame` is the number (from 1) of the frame that carries the first byte of the
request; `value` is the canonical value, `sent` the string as it is in the request.

Traffic: keep-alive HTTP/1.1 upload connections (form, JSON, query, gzip, chunked)
carrying identifiers of D devices; TLS connections on 443 (ClientHello with SNI,
random records, no keys); bulk downloads on 80; DNS for the hosts. Connections are
interleaved packet by packet. About one upload request per 7 KB of capture.
"""
import argparse
import gzip
import json
import random
import struct
import sys
import urllib.parse

MSS = 1448
BYTES_PER_REQ = 7050
ACTIVE = 24          # connections alive at once
P_SPLIT = 0.30       # request cut at 1-2 extra random points
P_OOO = 0.04         # first two segments of a multi-segment send swapped
P_RETX = 0.02        # a data segment sent twice
ROUTER_MAC = bytes.fromhex("0026f2a1b2c3")

rng = random.Random()
STATIC_GEO = False  # --static-geo: each device always reports the same position (experiment knob)
POOL = b""


def luhn_digit(s):
    tot = 0
    for i, ch in enumerate(reversed(s)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        tot += d
    return str((10 - tot % 10) % 10)


def luhn_ok(s):
    return luhn_digit(s[:-1]) == s[-1]


def digits(n):
    return "".join(rng.choice("0123456789") for _ in range(n))


def uuid4():
    b = bytearray(rng.getrandbits(128).to_bytes(16, "big"))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def csum(b):
    if len(b) & 1:
        b += b"\0"
    n = int.from_bytes(b, "big")
    s = n % 0xFFFF
    if s == 0 and n:
        s = 0xFFFF
    return (~s) & 0xFFFF


def rand_bytes(n):
    o = rng.randrange(0, len(POOL) - n)
    return POOL[o:o + n]


# ---------------------------------------------------------------- devices

COUNTRIES = [
    # mcc, mncs, msisdn builder, iccid prefix, city lat/lon, mail domains
    ("208", ["01", "10", "20"], lambda: "+33" + rng.choice("67") + digits(8), "8933", (48.8566, 2.3522), ["gmail.com", "orange.fr", "free.fr"]),
    ("310", ["260", "410"], lambda: "+1" + rng.choice(["415", "212", "312", "646"]) + digits(7), "8901", (37.7749, -122.4194), ["gmail.com", "yahoo.com", "outlook.com"]),
    ("262", ["01", "02", "03"], lambda: "+49" + rng.choice(["151", "160", "170", "176"]) + digits(8), "8949", (52.52, 13.405), ["gmail.com", "web.de", "gmx.de"]),
    ("234", ["10", "15", "20"], lambda: "+447" + digits(9), "8944", (51.5072, -0.1276), ["gmail.com", "hotmail.co.uk"]),
    ("440", ["10", "20"], lambda: "+81" + rng.choice(["90", "80", "70"]) + digits(8), "8981", (35.6762, 139.6503), ["gmail.com", "yahoo.co.jp"]),
    ("460", ["00", "01"], lambda: "+86" + rng.choice(["135", "138", "186"]) + digits(8), "8986", (39.9042, 116.4074), ["qq.com", "163.com"]),
    ("404", ["45", "10"], lambda: "+91" + rng.choice("6789") + digits(9), "8991", (19.076, 72.8777), ["gmail.com", "rediffmail.com"]),
    ("724", ["06", "11"], lambda: "+5511" + "9" + digits(8), "8955", (-23.5505, -46.6333), ["gmail.com", "uol.com.br"]),
]
TACS = ["35332510", "35891603", "86769504", "35420811", "86891803", "35260511",
        "01332700", "35912610", "86531104", "35655210", "35303110", "86240405"]
OUIS = ["5c0a5b", "ac5f3e", "f4f524", "64a2f9", "ac3743", "3c286d", "f8a45f", "286c07",
        "009acd", "e8508b", "d0817a", "a4c69a"]
FIRST = ["julie", "marc", "anna", "li", "kenji", "priya", "lucas", "emma", "oliver", "sofia",
         "wei", "raj", "mia", "noah", "lea", "tom", "yuki", "ana", "max", "ines"]
LAST = ["martin", "smith", "muller", "wang", "tanaka", "sharma", "silva", "brown", "dubois",
        "schmidt", "chen", "kumar", "santos", "jones", "moreau", "weber", "sato", "patel"]


class Device:
    def __init__(self, i):
        c = COUNTRIES[i % len(COUNTRIES)] if i < len(COUNTRIES) else rng.choice(COUNTRIES)
        mcc, mncs, msisdn, iccp, (lat, lon), mails = c
        self.ios = rng.random() < 0.2
        self.mcc = mcc
        self.mnc = rng.choice(mncs)
        t = rng.choice(TACS)
        self.imei = t + digits(6)
        self.imei += luhn_digit(self.imei)
        self.imsi = mcc + self.mnc + digits(15 - len(mcc) - len(self.mnc))
        base = iccp + digits(2) + digits(18 - len(iccp) - 2)
        self.iccid = base + luhn_digit(base)
        self.mac = rng.choice(OUIS) + "%06x" % rng.getrandbits(24)
        self.android_id = "%016x" % rng.getrandbits(64)
        while self.android_id[0] == "0":
            self.android_id = "%016x" % rng.getrandbits(64)
        self.adid = uuid4()
        self.email = "%s.%s%d@%s" % (rng.choice(FIRST), rng.choice(LAST), rng.randrange(1, 99), rng.choice(mails))
        self.msisdn = msisdn()
        self.lat = lat + rng.uniform(-0.05, 0.05)
        self.lon = lon + rng.uniform(-0.05, 0.05)
        self.cells = [(rng.randrange(100, 65000), rng.randrange(10000, 268000000)) for _ in range(3)]
        self.ip4 = bytes([10, 20, i // 200, 10 + i % 200])
        self.ip6 = None
        if rng.random() < 0.5:
            self.ip6 = bytes.fromhex("2a010e0a01b23c40") + rng.getrandbits(64).to_bytes(8, "big")
        self.ethmac = bytes.fromhex(self.mac)
        self.port = rng.randrange(32768, 60000)
        self.resolved = set()
        if self.ios:
            self.kinds = {"advertising_id": 1.5, "email": 0.6, "msisdn": 0.4, "geo_location": 0.6}
        else:
            self.kinds = {"imei": 1.0, "android_id": 1.0, "advertising_id": 1.2, "mac": 0.7, "email": 0.5,
                          "msisdn": 0.4, "imsi": 0.5, "iccid": 0.3, "geo_location": 0.5, "cell_location": 0.3}
        self.ua_model = rng.choice(["SM-G991B", "Pixel 7", "M2101K6G", "CPH2451", "moto g(60)", "22081212UG"])

    def next_port(self):
        self.port += 1
        if self.port > 60999:
            self.port = 32768
        return self.port


# ---------------------------------------------------------------- hosts

SYL = ["zen", "tri", "lox", "vant", "mob", "kal", "quor", "nex", "pix", "rul", "sta", "bri",
       "dat", "fen", "gra", "hol", "ix", "jum", "kev", "lum", "mar", "nov", "orb", "pel"]
API_PFX = ["api", "sdk", "t", "collect", "events", "stats", "log", "metrics", "track", "ads", "config", "push", "data", "in"]
CDN_PFX = ["cdn", "static", "img", "dl", "media", "assets", "video"]
TLDS = [".com", ".io", ".net", ".co", ".app"]
PATHS = ["/v1/events", "/collect", "/api/track", "/sdk/init", "/log/upload", "/v2/device/register",
         "/ad/request", "/api/v3/session", "/batch", "/i", "/report", "/m/ping", "/rtb/bid", "/profile/update"]
KEYS = {
    "imei": ["imei", "IMEI", "deviceId", "device_id", "imei1"],
    "imsi": ["imsi", "IMSI", "subscriberId", "subscriber_id"],
    "iccid": ["iccid", "ICCID", "simSerial", "sim_serial"],
    "mac": ["mac", "wifi_mac", "macAddress", "wlan_mac", "mac_address"],
    "android_id": ["android_id", "androidId", "ANDROID_ID", "ssaid", "deviceId"],
    "advertising_id": ["gaid", "adid", "advertising_id", "google_ad_id", "advertisingId"],
    "email": ["email", "user_email", "mail", "account"],
    "msisdn": ["msisdn", "phone", "phone_number", "mobile", "tel"],
    "geo_location": [("lat", "lon"), ("latitude", "longitude"), ("lat", "lng")],
    "cell_location": [("mcc", "mnc", "lac", "cid"), ("mcc", "mnc", "tac", "ci")],
}
STYLES = ["json", "form", "query", "json_gzip", "chunked", "form_json", "multipart"]


class Host:
    def __init__(self, name, api):
        self.name = name
        self.api = api
        self.ip4 = bytes([rng.choice([34, 35, 52, 54, 104, 151, 142, 157, 185, 13]), rng.randrange(1, 255),
                          rng.randrange(0, 255), rng.randrange(1, 255)])
        self.ip6 = None
        if rng.random() < 0.4:
            self.ip6 = bytes.fromhex("26001f18") + rng.getrandbits(96).to_bytes(12, "big")
        self.style = rng.choices(STYLES, [35, 25, 25, 10, 5, 4, 3])[0]
        self.keys = {k: rng.randrange(len(v)) for k, v in KEYS.items()}
        self.paths = rng.sample(PATHS, rng.randrange(1, 4))
        self.nested = rng.random() < 0.5


def make_hosts(n_api, n_cdn):
    names = set()
    out = []
    while len(out) < n_api + n_cdn:
        api = len(out) < n_api
        brand = "".join(rng.sample(SYL, rng.randrange(2, 4)))
        name = rng.choice(API_PFX if api else CDN_PFX) + "." + brand + rng.choice(TLDS)
        if name in names:
            continue
        names.add(name)
        out.append(Host(name, api))
    return out


# ---------------------------------------------------------------- packets

def eth(src, dst, etype, payload):
    return dst + src + struct.pack(">H", etype) + payload


def ip4(src, dst, proto, payload, ident, ttl):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, ttl, proto, 0, src, dst)
    h = h[:10] + struct.pack(">H", csum(h)) + h[12:]
    return h + payload


def ip6(src, dst, nh, payload, hlim):
    return struct.pack(">IHBB", 0x60000000, len(payload), nh, hlim) + src + dst + payload


def pseudo(src, dst, proto, length):
    if len(src) == 4:
        return src + dst + struct.pack(">BBH", 0, proto, length)
    return src + dst + struct.pack(">IxxxB", length, proto)


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


def tcp(src, dst, sport, dport, seq, ack, flags, payload, opts=b""):
    hl = 20 + len(opts)
    h = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (hl // 4) << 4, flags,
                    65535 if flags & SYN else 2048, 0, 0) + opts
    c = csum(pseudo(src, dst, 6, hl + len(payload)) + h + payload)
    return h[:16] + struct.pack(">H", c) + h[18:] + payload


def udp(src, dst, sport, dport, payload):
    h = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0)
    c = csum(pseudo(src, dst, 17, 8 + len(payload)) + h + payload) or 0xFFFF
    return h[:6] + struct.pack(">H", c) + payload


def frame(dev, v6, fc, proto, l4, src, dst, ident):
    if v6:
        ip = ip6(src, dst, proto, l4, 64 if fc else 54)
        et = 0x86DD
    else:
        ip = ip4(src, dst, proto, l4, ident, 64 if fc else 54)
        et = 0x0800
    if fc:
        return eth(dev.ethmac, ROUTER_MAC, et, ip)
    return eth(ROUTER_MAC, dev.ethmac, et, ip)


def qname(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


RESOLV4 = bytes([8, 8, 8, 8])
RESOLV6 = bytes.fromhex("20014860486000000000000000008888")


def dns_packets(dev, host, v6):
    qid = rng.getrandbits(16)
    qt = 28 if v6 else 1
    q = qname(host.name) + struct.pack(">HH", qt, 1)
    query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q
    addr = host.ip6 if v6 else host.ip4
    ans = b"\xc0\x0c" + struct.pack(">HHIH", qt, 1, rng.randrange(30, 3600), len(addr)) + addr
    resp = struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + ans
    sport = rng.randrange(10000, 65000)
    csrc = dev.ip6 if v6 else dev.ip4
    rs = RESOLV6 if v6 else RESOLV4
    yield frame(dev, v6, True, 17, udp(csrc, rs, sport, 53, query), csrc, rs, rng.getrandbits(16)), None
    yield frame(dev, v6, False, 17, udp(rs, csrc, 53, sport, resp), rs, csrc, rng.getrandbits(16)), None


class Conn:
    def __init__(self, dev, host, dport, v6=None):
        self.dev, self.host = dev, host
        if v6 is None:
            v6 = bool(dev.ip6 and host.ip6 and rng.random() < 0.6)
        self.v6 = v6
        self.c = dev.ip6 if v6 else dev.ip4
        self.s = host.ip6 if v6 else host.ip4
        self.cp = dev.next_port()
        self.sp = dport
        self.cseq = rng.getrandbits(32)
        self.sseq = rng.getrandbits(32)
        self.cid = rng.getrandbits(16)
        self.sid = rng.getrandbits(16)

    def pkt(self, fc, flags, payload=b"", seq=None, opts=b""):
        if fc:
            self.cid = (self.cid + 1) & 0xFFFF
            l4 = tcp(self.c, self.s, self.cp, self.sp, self.cseq if seq is None else seq,
                     self.sseq if flags & ACK else 0, flags, payload, opts)
            return frame(self.dev, self.v6, True, 6, l4, self.c, self.s, self.cid)
        self.sid = (self.sid + 1) & 0xFFFF
        l4 = tcp(self.s, self.c, self.sp, self.cp, self.sseq if seq is None else seq, self.cseq, flags, payload, opts)
        return frame(self.dev, self.v6, False, 6, l4, self.s, self.c, self.sid)

    def open(self):
        key = (self.host.name, self.v6)
        if key not in self.dev.resolved or rng.random() < 0.02:
            self.dev.resolved.add(key)
            yield from dns_packets(self.dev, self.host, self.v6)
        mss = struct.pack(">BBH", 2, 4, 1440 if self.v6 else 1460)
        yield self.pkt(True, SYN, opts=mss), None
        self.cseq += 1
        yield self.pkt(False, SYN | ACK, opts=mss), None
        self.sseq += 1
        yield self.pkt(True, ACK), None

    def close(self):
        if rng.random() < 0.05:
            yield self.pkt(True, RST | ACK), None
            return
        fc = rng.random() < 0.7
        yield self.pkt(fc, FIN | ACK), None
        if fc:
            self.cseq += 1
        else:
            self.sseq += 1
        yield self.pkt(not fc, FIN | ACK), None
        if fc:
            self.sseq += 1
        else:
            self.cseq += 1
        yield self.pkt(fc, ACK), None

    def send(self, fc, data, meta=None, split=False, ack_every=2):
        n = len(data)
        cuts = set(range(0, n, MSS))
        if split and n > 40 and rng.random() < P_SPLIT:
            for _ in range(rng.randrange(1, 3)):
                cuts.add(rng.randrange(1, min(n, MSS)))
        cuts = sorted(cuts) + [n]
        base = self.cseq if fc else self.sseq
        segs = [(cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1) if cuts[i + 1] > cuts[i]]
        order = list(range(len(segs)))
        if len(segs) >= 2 and rng.random() < P_OOO:
            order[0], order[1] = order[1], order[0]
        got = [False] * len(segs)
        contig = 0
        for k, i in enumerate(order):
            a, b = segs[i]
            p = self.pkt(fc, PSH | ACK, data[a:b], seq=base + a)
            yield p, (meta if i == 0 else None)
            if rng.random() < P_RETX:
                yield p, None
            got[i] = True
            while contig < len(segs) and got[contig]:
                contig += 1
            if (k + 1) % ack_every == 0 or k == len(order) - 1:
                end = segs[contig - 1][1] if contig else 0
                if fc:
                    self.cseq = base + end
                    yield self.pkt(False, ACK), None
                else:
                    self.sseq = base + end
                    yield self.pkt(True, ACK), None
        if fc:
            self.cseq = base + n
        else:
            self.sseq = base + n


# ---------------------------------------------------------------- HTTP bodies

def mac_form(m):
    r = rng.random()
    pairs = [m[i:i + 2] for i in range(0, 12, 2)]
    if r < 0.6:
        return ":".join(pairs)
    if r < 0.85:
        return ":".join(pairs).upper()
    if r < 0.95:
        return m
    return "-".join(pairs).upper()


def msisdn_form(dev):
    r = rng.random()
    if r < 0.65:
        return dev.msisdn
    return dev.msisdn[1:]


def decoys():
    d = [("ts", str(1709280000000 + rng.randrange(10 ** 9))), ("event", rng.choice(
        ["app_open", "session_start", "screen_view", "ad_impression", "heartbeat", "purchase", "click"]))]
    if rng.random() < 0.6:
        d.append(("app_ver", "%d.%d.%d" % (rng.randrange(1, 9), rng.randrange(20), rng.randrange(50))))
    if rng.random() < 0.5:
        d.append(("net", rng.choice(["wifi", "lte", "5g"])))
    if rng.random() < 0.4:
        d.append(("lang", rng.choice(["fr_FR", "en_US", "de_DE", "ja_JP", "pt_BR"])))
    if rng.random() < 0.3:
        d.append(("req_id", "%032x" % rng.getrandbits(128)))
    if rng.random() < 0.15:
        d.append(("session_id", uuid4()))
    if rng.random() < 0.15:
        d.append(("trace_id", "%016x" % rng.getrandbits(64)))
    if rng.random() < 0.05:
        o = digits(15)
        while luhn_ok(o):
            o = digits(15)
        d.append(("order_id", o))
    if rng.random() < 0.3:
        d.append(("battery", str(rng.randrange(5, 100))))
    return d


def pick_ids(dev, host):
    k = rng.choices([0, 1, 2, 3, 4], [10, 25, 30, 20, 15])[0]
    kinds = list(dev.kinds)
    w = [dev.kinds[x] for x in kinds]
    chosen = []
    while len(chosen) < min(k, len(kinds)):
        x = rng.choices(kinds, w)[0]
        if x not in chosen:
            chosen.append(x)
    out = []  # (kind, canonical, [(key, sent)])
    used = set()
    for kind in chosen:
        keys = KEYS[kind]
        ki = host.keys[kind] if rng.random() < 0.8 else rng.randrange(len(keys))
        while keys[ki] in used:  # one key per request: a JSON object keeps only one
            ki = (ki + 1) % len(keys)
        key = keys[ki]
        used.add(key)
        if kind == "imei":
            out.append((kind, dev.imei, [(key, dev.imei)]))
        elif kind == "imsi":
            out.append((kind, dev.imsi, [(key, dev.imsi)]))
        elif kind == "iccid":
            out.append((kind, dev.iccid, [(key, dev.iccid)]))
        elif kind == "mac":
            out.append((kind, dev.mac, [(key, mac_form(dev.mac))]))
        elif kind == "android_id":
            out.append((kind, dev.android_id, [(key, dev.android_id)]))
        elif kind == "advertising_id":
            if dev.ios:
                out.append((kind, dev.adid, [("idfa", dev.adid.upper())]))
            else:
                out.append((kind, dev.adid, [(key, dev.adid)]))
        elif kind == "email":
            out.append((kind, dev.email, [(key, dev.email)]))
        elif kind == "msisdn":
            out.append((kind, dev.msisdn, [(key, msisdn_form(dev))]))
        elif kind == "geo_location":
            j = 0.0 if STATIC_GEO else 0.001
            la = "%.6f" % (dev.lat + rng.uniform(-j, j))
            lo = "%.6f" % (dev.lon + rng.uniform(-j, j))
            out.append((kind, la + "," + lo, [(key[0], la), (key[1], lo)]))
        elif kind == "cell_location":
            lac, cid = rng.choice(dev.cells)
            vals = [dev.mcc, dev.mnc, str(lac), str(cid)]
            out.append((kind, ",".join(vals), list(zip(key, vals))))
    return out


NUMERIC = {"lat", "lon", "lng", "latitude", "longitude", "mcc", "mnc", "lac", "cid", "tac", "ci", "battery", "ts"}


def jval(k, v):
    if not isinstance(v, str):
        return v
    if k in NUMERIC:
        return float(v) if "." in v else int(v)
    return v


def idval(kind, v):
    if kind in ("imei", "imsi") and v[0] != "0" and rng.random() < 0.25:
        return int(v)  # sent as a JSON number
    return v


def json_body(host, ids, dec):
    ids = [(kind, c, [(k, idval(kind, v)) for k, v in kv]) for kind, c, kv in ids]
    if not host.nested:
        d = {}
        for k, v in dec:
            d[k] = jval(k, v)
        for kind, _, kv in ids:
            if kind == "cell_location":
                d["cell"] = {k: jval(k, v) for k, v in kv}
            else:
                for k, v in kv:
                    d[k] = jval(k, v)
        return json.dumps(d, separators=(",", ":")).encode()
    dev = {"os": "android", "model_class": "phone"}
    loc = None
    for kind, _, kv in ids:
        if kind == "geo_location":
            loc = {k: jval(k, v) for k, v in kv}
        elif kind == "cell_location":
            dev["cell"] = {k: jval(k, v) for k, v in kv}
        else:
            for k, v in kv:
                dev[k] = jval(k, v) if not isinstance(v, str) else v
    d = {"app": {"pkg": "com.example.app%d" % rng.randrange(30), "ver": "4.%d" % rng.randrange(30)},
         "device": dev, "events": [{k: jval(k, v) for k, v in dec}]}
    if loc:
        d["location"] = loc
    return json.dumps(d, separators=(",", ":")).encode()


def form_body(ids, dec):
    pairs = list(dec)
    for _, _, kv in ids:
        pairs.extend(kv)
    rng.shuffle(pairs)
    return urllib.parse.urlencode(pairs)


def chunk(body):
    n = len(body)
    cuts = sorted(set([0, n] + [rng.randrange(1, n) for _ in range(rng.randrange(0, 3))] if n > 2 else [0, n]))
    out = b""
    for a, b in zip(cuts, cuts[1:]):
        out += b"%x\r\n" % (b - a) + body[a:b] + b"\r\n"
    return out + b"0\r\n\r\n"


def build_request(dev, host):
    ids = pick_ids(dev, host)
    dec = decoys()
    style = host.style if rng.random() < 0.7 else rng.choice(STYLES)
    path = rng.choice(host.paths)
    ua = ("Dalvik/2.1.0 (Linux; U; Android 13; %s Build/TP1A.220624.014)" % dev.ua_model
          if rng.random() < 0.3 else "okhttp/4.11.0")
    hdrs = [("Host", host.name), ("User-Agent", ua), ("Accept-Encoding", "gzip"), ("Connection", "keep-alive")]
    truth = []
    # a few identifiers go in a header instead
    if ids and rng.random() < 0.04 and ids[0][0] in ("android_id", "advertising_id", "imei"):
        kind, canon, kv = ids.pop(0)
        hn = {"android_id": "X-Android-ID", "advertising_id": "X-Ad-Id", "imei": "X-IMEI"}[kind]
        hdrs.append((hn, kv[0][1]))
        truth.append((kind, canon, kv[0][1], hn, "header"))
    how = style
    if style == "query":
        method = "GET"
        uri = path + "?" + form_body(ids, dec)
        body = b""
    else:
        method = "POST"
        uri = path
        if style == "form_json":
            inner = {k: jval(k, v) for _, _, kv in ids for k, v in kv}
            pairs = list(dec) + [("data", json.dumps(inner, separators=(",", ":")))]
            body = urllib.parse.urlencode(pairs).encode()
            hdrs.append(("Content-Type", "application/x-www-form-urlencoded"))
            kindb = "form_json"
        elif style == "multipart":
            bnd = "----okhttp%032x" % rng.getrandbits(128)
            parts = list(dec) + [kv for _, _, kvs in ids for kv in kvs]
            rng.shuffle(parts)
            body = "".join('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (bnd, k, v)
                           for k, v in parts).encode() + b"--" + bnd.encode() + b"--\r\n"
            hdrs.append(("Content-Type", "multipart/form-data; boundary=" + bnd))
            kindb = "multipart"
        elif style == "form" or (style == "chunked" and rng.random() < 0.5):
            body = form_body(ids, dec).encode()
            hdrs.append(("Content-Type", "application/x-www-form-urlencoded"))
            kindb = "form"
        else:
            body = json_body(host, ids, dec)
            hdrs.append(("Content-Type", "application/json; charset=utf-8"))
            kindb = "json"
        if style == "json_gzip" or (style == "chunked" and rng.random() < 0.3):
            body = gzip.compress(body, 6, mtime=0)
            hdrs.append(("Content-Encoding", "gzip"))
            kindb += "+gzip"
        if style == "chunked":
            body = chunk(body)
            hdrs.append(("Transfer-Encoding", "chunked"))
            how = "chunked-" + kindb
        else:
            hdrs.append(("Content-Length", str(len(body))))
            how = kindb
    for kind, canon, kv in ids:
        truth.append((kind, canon, "&".join("%s=%s" % p for p in kv), ",".join(k for k, _ in kv), how))
    expect = bool(body) and rng.random() < 0.03
    if expect:
        hdrs.append(("Expect", "100-continue"))
        how += "+expect"
        truth = [t[:4] + (t[4] + "+expect",) for t in truth]
    head = "%s %s HTTP/1.1\r\n" % (method, uri) + "".join("%s: %s\r\n" % h for h in hdrs) + "\r\n"
    return head.encode(), body, expect, truth


def build_response(dev):
    if rng.random() < 0.1:
        return b"HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"
    if rng.random() < 0.05:
        body = ('{"status":"ok","uid":"%s","imei":"%s"}' % (dev.android_id, dev.imei)).encode()
    else:
        body = b'{"status":"ok","next":%d}' % rng.randrange(30, 3600)
    return (b"HTTP/1.1 200 OK\r\nDate: Fri, 01 Mar 2024 10:00:00 GMT\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(body)) + body


# ---------------------------------------------------------------- connections

def upload_conn(dev, host, nreq):
    c = Conn(dev, host, 80)
    yield from c.open()
    left = nreq
    while left > 0:
        if left >= 2 and rng.random() < 0.03:  # pipelined: two requests, then two responses
            for _ in range(2):
                head, body, expect, truth = build_request(dev, host)
                if expect:
                    truth = [t[:4] + (t[4].replace("+expect", "") + "+pipelined",) for t in truth]
                else:
                    truth = [t[:4] + (t[4] + "+pipelined",) for t in truth]
                yield from c.send(True, head + body, (host.name, truth), split=True, ack_every=99)
            yield from c.send(False, build_response(dev) + build_response(dev), ack_every=99)
            left -= 2
            continue
        head, body, expect, truth = build_request(dev, host)
        if expect:
            yield from c.send(True, head, (host.name, truth), ack_every=99)
            yield from c.send(False, b"HTTP/1.1 100 Continue\r\n\r\n", ack_every=99)
            yield from c.send(True, body, split=True, ack_every=99)
        else:
            yield from c.send(True, head + body, (host.name, truth), split=True, ack_every=99)
        yield from c.send(False, build_response(dev), ack_every=99)
        left -= 1
    yield from c.close()


def download_conn(dev, host, size):
    c = Conn(dev, host, 80)
    yield from c.open()
    name = "/%s/%x.%s" % (rng.choice(["assets", "v", "bundles", "img"]), rng.getrandbits(48),
                          rng.choice(["bin", "mp4", "jpg", "zip", "webp"]))
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: okhttp/4.11.0\r\nAccept-Encoding: gzip\r\n"
           "Connection: keep-alive\r\n\r\n" % (name, host.name)).encode()
    yield from c.send(True, req, ack_every=99)
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n"
            b"Cache-Control: max-age=86400\r\n\r\n" % size)
    first = head + rand_bytes(max(0, MSS - len(head)))
    first = first[:len(head) + size]
    yield from c.send(False, first, ack_every=99)
    left = size - (len(first) - len(head))
    while left > 0:
        n = min(left, MSS * 2)
        yield from c.send(False, rand_bytes(n), ack_every=2)
        left -= n
    yield from c.close()


def client_hello(sni):
    sn = sni.encode()
    ext = b""
    ext += struct.pack(">HHHBH", 0, len(sn) + 5, len(sn) + 3, 0, len(sn)) + sn
    ext += struct.pack(">HHH", 10, 8, 6) + struct.pack(">HHH", 0x1D, 0x17, 0x18)
    ext += struct.pack(">HHH", 13, 8, 6) + struct.pack(">HHH", 0x0403, 0x0804, 0x0401)
    alpn = b"\x08http/1.1"
    ext += struct.pack(">HHH", 16, len(alpn) + 2, len(alpn)) + alpn
    ext += struct.pack(">HHB", 43, 5, 4) + b"\x03\x04\x03\x03"
    ext += struct.pack(">HHHHH", 51, 38, 36, 0x1D, 32) + rand_bytes(32)
    cs = struct.pack(">9H", 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8)
    body = b"\x03\x03" + rand_bytes(32) + b"\x20" + rand_bytes(32) + struct.pack(">H", len(cs)) + cs + b"\x01\x00"
    body += struct.pack(">H", len(ext)) + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def server_hello():
    ext = struct.pack(">HHH", 43, 2, 0x0304) + struct.pack(">HHHH", 51, 36, 0x1D, 32) + rand_bytes(32)
    body = b"\x03\x03" + rand_bytes(32) + b"\x20" + rand_bytes(32) + b"\x13\x01\x00" + struct.pack(">H", len(ext)) + ext
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + struct.pack(">H", len(hs)) + hs + b"\x14\x03\x03\x00\x01\x01"


def app_records(total):
    out = b""
    while total > 0:
        n = min(total, 16384 + 17)
        out += b"\x17\x03\x03" + struct.pack(">H", n) + rand_bytes(n)
        total -= n
    return out


def tls_conn(dev, host, size):
    c = Conn(dev, host, 443)
    yield from c.open()
    yield from c.send(True, client_hello(host.name))
    yield from c.send(False, server_hello() + app_records(rng.randrange(2500, 5000)))
    yield from c.send(True, b"\x14\x03\x03\x00\x01\x01" + app_records(53))
    left = size
    while left > 0:
        yield from c.send(True, app_records(rng.randrange(60, 1500)))
        n = min(left, int(rng.lognormvariate(8.5, 1.2)) + 100)
        yield from c.send(False, app_records(n))
        left -= n + 200
    yield from c.close()


# ---------------------------------------------------------------- main

class Writer:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 20)
        self.t = open(path + ".truth.tsv", "w", buffering=1 << 20)
        self.t.write("#req\tframe\thost\tkind\tvalue\tsent\tfield\thow\n")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.bytes = 24
        self.frames = 0
        self.reqs = 0
        self.ids = 0
        self.us = 1709280000 * 1000000

    def write(self, pkt, meta):
        self.frames += 1
        self.us += int(rng.expovariate(1 / 250.0)) + 1
        self.f.write(struct.pack("<IIII", self.us // 1000000, self.us % 1000000, len(pkt), len(pkt)))
        self.f.write(pkt)
        self.bytes += 16 + len(pkt)
        if meta is not None:
            host, truth = meta
            self.reqs += 1
            for kind, canon, sent, field, how in truth:
                self.ids += 1
                self.t.write("%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n" % (self.reqs, self.frames, host, kind, canon,
                                                                   sent.replace("\t", " "), field, how))

    def close(self):
        self.f.close()
        self.t.close()


def main():
    global POOL
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size-mb", type=float, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--static-geo", action="store_true",
                    help="no GPS jitter: each device sends one position (default: every fix differs)")
    a = ap.parse_args()
    global STATIC_GEO
    STATIC_GEO = a.static_geo
    rng.seed(a.seed)
    POOL = rng.randbytes(1 << 22)
    devs = [Device(i) for i in range(a.devices)]
    hosts = make_hosts(110, 40)
    api = [h for h in hosts if h.api]
    cdn = [h for h in hosts if not h.api]
    api_w = [1.0 / (i + 1) ** 0.8 for i in range(len(api))]
    target = int(a.size_mb * 1024 * 1024)
    w = Writer(a.out)
    planned_bytes = 0
    planned_reqs = 0
    active = []  # [gen, is_upload]

    def new_conn():
        nonlocal planned_bytes, planned_reqs
        dev = rng.choice(devs)
        if planned_reqs * BYTES_PER_REQ <= planned_bytes:
            n = min(1 + int(rng.expovariate(1 / 4.0)), 30)
            planned_reqs += n
            planned_bytes += 1000 * n + 600
            return [upload_conn(dev, rng.choices(api, api_w)[0], n), True]
        if rng.random() < 0.55:
            size = int(rng.lognormvariate(11.5, 1.0))  # median ~100 KB
            size = max(2000, min(size, 8 << 20))
            planned_bytes += size * 1.07 + 1000
            return [download_conn(dev, rng.choice(cdn), size), False]
        size = int(rng.lognormvariate(10.0, 1.2))  # median ~22 KB
        planned_bytes += size * 1.1 + 8000
        return [tls_conn(dev, rng.choice(hosts), size), False]

    next_report = 1 << 30
    while w.bytes < target:
        while len(active) < ACTIVE:
            active.append(new_conn())
        i = rng.randrange(len(active))
        try:
            pkt, meta = next(active[i][0])
        except StopIteration:
            active[i] = active[-1]
            active.pop()
            continue
        w.write(pkt, meta)
        if w.bytes >= next_report:
            print("gen: %d MB, %d frames, %d requests" % (w.bytes >> 20, w.frames, w.reqs), file=sys.stderr)
            next_report += 1 << 30
    # finish the upload connections (their requests are in the truth); cut the rest
    ups = [g for g, up in active if up]
    while ups:
        i = rng.randrange(len(ups))
        try:
            pkt, meta = next(ups[i])
        except StopIteration:
            ups[i] = ups[-1]
            ups.pop()
            continue
        w.write(pkt, meta)
    w.close()
    print("gen: %s: %.1f MB, %d frames, %d upload requests, %d identifiers (%.2f/request), %.0f bytes/request"
          % (a.out, w.bytes / 1048576, w.frames, w.reqs, w.ids, w.ids / max(1, w.reqs), w.bytes / max(1, w.reqs)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
