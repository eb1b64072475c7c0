#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/<target>, git-ignored) from the
# bundled fixtures, the shared corpus beside the checkout, and the kept
# crash reproducers.
set -euo pipefail
cd "$(dirname "$0")"
shared="${TELEAUDIT_CORPUS:-../../shared/corpus}"
mkdir -p corpus/capture corpus/packets corpus/http
cp ../fixtures/*.pcap corpus/capture/
if [ -d "$shared" ]; then
  find "$shared" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -size -200k | while read -r f; do
    cp "$f" "corpus/capture/$(echo "${f#"$shared"/}" | tr '/' '_')"
  done
fi
for t in capture packets http; do
  cp ../tests/fuzz-regressions/$t/* corpus/$t/ 2>/dev/null || true
done
# HTTP seeds: request streams cut from the fixture's conversations.
printf '\x10GET /a?imei=356938035643809 HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' > corpus/http/pipeline
printf '\x07POST /u HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"d":{"imei":"356938035643809","x":[1]}}' > corpus/http/json
