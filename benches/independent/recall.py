#!/usr/bin/env python3
"""recall.py CAPTURE.truth.tsv OUT.jsonl [--examples N]

OUT.jsonl: `teleaudit scan --format jsonl --show-values` of the capture.
A planted identifier (truth row) is found when a finding of the same kind, at the
frame of its request, has the same value (normalised per kind; for geo_location and
cell_location any finding of that kind in that request counts). Reports recall per
kind and per `how` (encoding), misses (with what teleaudit said instead, if anything),
and findings that match no planted identifier (false alarms) by kind.
"""
import collections
import json
import re
import sys


def norm(kind, v):
    if v is None:
        return None
    v = str(v)
    if kind in ("imei", "imsi", "iccid"):
        return re.sub(r"\D", "", v)
    if kind == "msisdn":
        return re.sub(r"\D", "", v)[-9:]
    if kind == "mac":
        return re.sub(r"[^0-9a-f]", "", v.lower())
    return v.lower()


LOOSE = ("geo_location", "cell_location")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    nex = 10
    if "--examples" in sys.argv:
        nex = int(sys.argv[sys.argv.index("--examples") + 1])
    truth_path, out_path = args
    truth = []
    by_frame = collections.defaultdict(list)
    for line in open(truth_path):
        if line.startswith("#"):
            continue
        req, frame, host, kind, value, sent, field, how = line.rstrip("\n").split("\t")
        t = dict(req=int(req), frame=int(frame), host=host, kind=kind, value=value, sent=sent, field=field, how=how)
        truth.append(t)
        by_frame[t["frame"]].append(t)

    findings = []
    other = collections.Counter()
    bad_lines = 0
    errors = []
    for line in open(out_path):
        try:
            o = json.loads(line)
        except ValueError:
            bad_lines += 1
            continue
        ty = o.get("type")
        other[ty] += 1
        if ty == "finding":
            findings.append(o)
        elif ty == "error":
            errors.append(o)
    f_by_frame = collections.defaultdict(list)
    f_by_hostkind = collections.defaultdict(set)
    for f in findings:
        f_by_frame[f.get("frame")].append(f)
        f_by_hostkind[(f.get("host"), f.get("kind"))].add(norm(f.get("kind"), f.get("value")))

    found = collections.Counter()
    total = collections.Counter()
    how_tot = collections.Counter()
    how_found = collections.Counter()
    misses = collections.defaultdict(list)
    used = set()
    elsewhere = collections.Counter()
    for t in truth:
        k = t["kind"]
        total[k] += 1
        how_tot[t["how"]] += 1
        tv = norm(k, t["value"])
        hit = None
        for i, f in enumerate(f_by_frame.get(t["frame"], [])):
            if f.get("kind") != k:
                continue
            if k in LOOSE or norm(k, f.get("value")) == tv:
                hit = i
                break
        if hit is not None:
            found[k] += 1
            how_found[t["how"]] += 1
            used.add((t["frame"], hit))
            continue
        # what did teleaudit say instead?
        said = []
        for f in f_by_frame.get(t["frame"], []):
            fv = str(f.get("value"))
            if norm(k, fv) == tv or (t["sent"].split("=", 1)[-1] and t["sent"].split("=", 1)[-1] in fv):
                said.append("reported as %s (%s=%s)" % (f.get("kind"), f.get("field"), fv))
        if tv in f_by_hostkind.get((t["host"], k), ()):
            elsewhere[k] += 1
            said.append("found for this host in another frame")
        misses[k].append((t, said))

    # also count findings that repeat a matched planted value (same frame, kind, value) as matched
    false = collections.defaultdict(list)
    for fr, fl in f_by_frame.items():
        planted = by_frame.get(fr, [])
        for i, f in enumerate(fl):
            if (fr, i) in used:
                continue
            k = f.get("kind")
            ok = any(t["kind"] == k and (k in LOOSE or norm(k, t["value"]) == norm(k, f.get("value"))) for t in planted)
            if not ok:
                false[k].append(f)

    print("truth: %d identifiers in %d requests; JSONL: %d findings, %d error lines, %d unparsable lines; line types %s"
          % (len(truth), len({t['req'] for t in truth}), len(findings), len(errors), bad_lines, dict(other)))
    print()
    print("%-16s %8s %8s %8s %8s" % ("kind", "planted", "found", "recall", "f.alarm"))
    kinds = sorted(set(total) | {k for k, v in false.items() if v})
    for k in kinds:
        r = found[k] / total[k] if total[k] else float("nan")
        print("%-16s %8d %8d %8.4f %8d" % (k, total[k], found[k], r, len(false.get(k, []))))
    T = sum(total.values())
    F = sum(found.values())
    FA = sum(len(v) for v in false.values())
    print("%-16s %8d %8d %8.4f %8d" % ("all", T, F, F / T if T else 0, FA))
    print("precision (findings matching a planted identifier / all findings): %.4f" % (
        (len(findings) - FA) / len(findings) if findings else 0))
    print()
    print("%-22s %8s %8s %8s" % ("how", "planted", "found", "recall"))
    for h in sorted(how_tot):
        print("%-22s %8d %8d %8.4f" % (h, how_tot[h], how_found[h], how_found[h] / how_tot[h]))
    if any(elsewhere.values()):
        print("\nmisses whose value was found for the same host in another frame:", dict(elsewhere))
    for k in sorted(misses):
        print("\nmisses: %s (%d)" % (k, len(misses[k])))
        fields = collections.Counter((t["field"], t["how"]) for t, _ in misses[k])
        print("  by field/how:", ", ".join("%s/%s x%d" % (a, b, n) for (a, b), n in fields.most_common(12)))
        for t, said in misses[k][:nex]:
            print("  frame %d req %d %s %s [%s] %s" % (t["frame"], t["req"], t["host"], t["sent"], t["how"],
                                                     "; ".join(said) if said else "nothing reported"))
    for k in sorted(k for k, v in false.items() if v):
        print("\nfalse alarms: %s (%d)" % (k, len(false[k])))
        fields = collections.Counter((f.get("field"), f.get("location")) for f in false[k])
        print("  by field/location:", ", ".join("%s/%s x%d" % (a, b, n) for (a, b), n in fields.most_common(12)))
        for f in false[k][:nex]:
            print("  frame %s %s %s %s=%s rule=%s conf=%s enc=%s" % (f.get("frame"), f.get("host"), f.get("location"),
                                                                   f.get("field"), f.get("value"), f.get("rule"),
                                                                   f.get("confidence"), f.get("encoding")))
    for e in errors[:nex]:
        print("error line:", json.dumps(e))


if __name__ == "__main__":
    main()
