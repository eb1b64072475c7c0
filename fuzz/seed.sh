#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/<target>, git-ignored) from the
# bundled fixtures, the shared corpus beside the checkout, and the kept
# crash reproducers.
set -euo pipefail
cd "$(dirname "$0")"
shared="${TELEAUDIT_CORPUS:-../../shared/corpus}"
mkdir -p corpus/capture corpus/packets corpus/http corpus/tls corpus/keylog
cp ../fixtures/*.pcap corpus/capture/
if [ -d "$shared" ]; then
  find "$shared" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -size -200k | while read -r f; do
    cp "$f" "corpus/capture/$(echo "${f#"$shared"/}" | tr '/' '_')"
  done
fi
for t in capture packets http tls keylog; do
  cp ../tests/fuzz-regressions/$t/* corpus/$t/ 2>/dev/null || true
done
# HTTP seeds: request streams cut from the fixture's conversations.
printf '\x10GET /a?imei=356938035643809 HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' > corpus/http/pipeline
printf '\x07POST /u HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"d":{"imei":"356938035643809","x":[1]}}' > corpus/http/json
# TLS seeds (see harness::tls): one per session kind, a request with an
# IMEI protected as application data, then a raw record header; one with
# a KeyUpdate, a flipped bit and a gap; one with the handshake cut into
# 7-byte segments and a request split over two segments.
req='POST /u?imei=356938035643809 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd'
len="\\x$(printf '%02x' "$(printf "$req" | wc -c)")"
for k in 0 1 2 3; do
  printf "\\x0$k\\x00$len$req\\x04\\x05\\x17\\x03\\x03\\x40\\x00" > corpus/tls/request-$k
done
printf "\\x00\\x02\\x06\\x16\\x18\\x00\\x00\\x01\\x00\\x00$len$req\\x06\\x10\\x09GET / HTTP\\x20\\x05HTTP/\\x01\\x05HTTP/" > corpus/tls/keyupdate
printf "\\x71\\x08$len$req\\x09\\x06\\x15\\x02\\x00abc" > corpus/tls/segments
# Key log seeds: every label, a comment, CRLF, a bad line.
r=$(printf 'c0%.0s' $(seq 32)); s32=$(printf '11%.0s' $(seq 32)); s48=$(printf '4d%.0s' $(seq 48))
printf "# keys\r\nCLIENT_RANDOM $r $s48\nCLIENT_HANDSHAKE_TRAFFIC_SECRET $r $s32\nSERVER_HANDSHAKE_TRAFFIC_SECRET $r $s32\nCLIENT_TRAFFIC_SECRET_0 $r $s32\nSERVER_TRAFFIC_SECRET_0 $r $s32\nCLIENT_EARLY_TRAFFIC_SECRET $r $s32\nEXPORTER_SECRET $r $s32\nRSA Session-ID:$s32 Master-Key:$s48\nCLIENT_RANDOM $r 4d\nNOPE x y\n" > corpus/keylog/all
