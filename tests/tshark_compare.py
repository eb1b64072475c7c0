#!/usr/bin/env python3
# Compares `teleaudit requests` with tshark (out-of-order reassembly on) on a
# folder of captures: python3 tests/tshark_compare.py ../shared/corpus
# (needs tshark and a release build). A measurement, not a CI test.
import subprocess, json, os, sys, collections
if len(sys.argv) != 2:
    sys.exit("usage: python3 tests/tshark_compare.py CORPUS_FOLDER")
corpus = os.path.abspath(sys.argv[1])
# The release binary of this checkout, wherever the script is run from.
binary = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "teleaudit")
if not os.path.exists(binary):
    sys.exit(f"{binary} not found: run `cargo build --release` first")
ours = collections.defaultdict(list)
out = subprocess.run([binary,"requests","--format","jsonl",corpus],capture_output=True,text=True).stdout
for l in out.splitlines():
    o=json.loads(l)
    if o["type"]=="request":
        ours[os.path.relpath(o["capture"],corpus)].append((o["method"],o["uri"]))
files=[]
for root,_,fs in os.walk(corpus):
    for f in fs:
        if f.endswith((".pcap",".pcapng",".cap")): files.append(os.path.relpath(os.path.join(root,f),corpus))
files.sort()
same=0; total=0; diffs=[]
for f in files:
    r=subprocess.run(["tshark","-r",os.path.join(corpus,f),"-o","tcp.reassemble_out_of_order:TRUE","-Y","http.request","-T","fields","-e","http.request.method","-e","http.request.uri"],capture_output=True,text=True)
    theirs=[]
    for line in r.stdout.splitlines():
        parts=line.split("\t")
        if len(parts)>=2:
            # tshark lists pipelined requests in one frame comma-separated
            ms=parts[0].split(","); us=parts[1].split(",") if len(ms)>1 else [parts[1]]
            for m,u in zip(ms,us): theirs.append((m,u))
    mine=ours.get(f,[])
    if not theirs and not mine: continue
    total+=1
    if sorted(theirs)==sorted(mine): same+=1
    else: diffs.append((f,len(theirs),len(mine), sorted(set(theirs)-set(mine))[:3], sorted(set(mine)-set(theirs))[:3]))
print(f"{same}/{total} captures with HTTP agree exactly ({100*same/max(total,1):.1f}%)")
for d in diffs: print(d)
sup=0
for f,nt,nm,missing,extra in diffs:
    if not missing: sup+=1
print(f"teleaudit finds every request tshark finds in {same+sup}/{total} captures ({100*(same+sup)/total:.1f}%)")
for f,nt,nm,missing,extra in diffs:
    if missing: print("tshark-only:", f, missing[:2])
