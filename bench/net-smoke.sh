#!/usr/bin/env bash
# net-smoke.sh echo|http|fetch|fetch_https|echoload|tls_echo SERVER [ARGS...]
#
# The bench-smoke test of a network server (weft-bench echo-server or
# http-server, or ref_echo). Starts `SERVER ARGS` with no --port, so it
# binds any free port (no race with another test for a port picked here),
# and waits until it prints "... listening on 127.0.0.1:PORT" on stderr,
# which it does once the socket accepts connections. Then talks to it with
# bash's /dev/tcp, sends SIGTERM, and checks that it exits 0 and that its
# JSON line counts exactly what was sent (echo: bytes; http: requests
# answered and rejected). No step waits a fixed time: every wait is for an
# event, bounded by a generous timeout. Mode echoload is the exception: it
# runs the load generator $ECHOLOAD (bench/echoload) against an echo server
# for one second, and checks both sides report no error.
set -euo pipefail

mode=$1
shift
tmp=$(mktemp -d /tmp/weft-net-smoke.XXXXXX)
pid=

cleanup() {
  if [ -n "$pid" ]; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "net-smoke: FAIL: $*" >&2
  echo "--- server stderr:" >&2
  cat "$tmp/err" >&2 || true
  exit 1
}

# Starts the server and sets $port once it listens (30 s at most).
start_server() {
  : >"$tmp/err" # there for sed before the server's shell opens it
  "$@" >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  for ((i = 0; i < 3000; i++)); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
      "$tmp/err" || true)
    if [ -n "$port" ]; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || fail "the server exited before listening"
    sleep 0.01
  done
  fail "the server did not listen within 30 s"
}

# SIGTERM, then the exit status must be 0 and the JSON line there.
stop_server() {
  local rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  pid=
  [ "$rc" -eq 0 ] || fail "the server exited with $rc after SIGTERM"
  json=$(cat "$tmp/out")
  echo "$json"
  [[ "$json" == "{"*"}" ]] || fail "no JSON line: '$json'"
  [[ "$json" == *'"errors":0'* ]] || fail "errors reported: $json"
}

# The JSON member $1 of $json.
member() {
  sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$json"
}

# -- echo ------------------------------------------------------------------

echo_test() {
  local conns=8 rounds=20 big=1000000 sent=0 fds=() fd line
  for ((c = 0; c < conns; c++)); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$port"
    fds+=("$fd")
  done
  # Rounds on every connection at once: the line must come back whole.
  for ((r = 0; r < rounds; r++)); do
    for ((c = 0; c < conns; c++)); do
      printf 'round %d on connection %d\n' "$r" "$c" >&"${fds[c]}"
    done
    for ((c = 0; c < conns; c++)); do
      read -r -t 30 -u "${fds[c]}" line || fail "no echo (round $r, conn $c)"
      [ "$line" = "round $r on connection $c" ] ||
        fail "echo '$line' for round $r on connection $c"
      sent=$((sent + ${#line} + 1))
    done
  done
  for fd in "${fds[@]}"; do
    exec {fd}>&-
  done
  # 1 MB both ways at once: the server's writes outrun the socket, so this
  # goes through its queued writes and drain.
  head -c "$big" /dev/urandom >"$tmp/big"
  exec {fd}<>"/dev/tcp/127.0.0.1/$port"
  cat "$tmp/big" >&"$fd" &
  local writer=$!
  timeout 30 head -c "$big" <&"$fd" >"$tmp/back" || fail "1 MB echo timed out"
  wait "$writer"
  exec {fd}>&-
  cmp -s "$tmp/big" "$tmp/back" || fail "1 MB echo differs"
  sent=$((sent + big))
  # A connection still open at SIGTERM: its handler is cancelled by the
  # shutdown, which must still be clean (and count its bytes).
  exec {fd}<>"/dev/tcp/127.0.0.1/$port"
  printf 'still here\n' >&"$fd"
  read -r -t 30 -u "$fd" line || fail "no echo on the last connection"
  sent=$((sent + 11))
  stop_server
  exec {fd}>&-
  [ "$(member result)" = "$sent" ] ||
    fail "result $(member result), expected $sent bytes"
  [ "$(member ops)" = $((conns + 2)) ] ||
    fail "ops $(member ops), expected $((conns + 2)) connections"
}

# -- http ------------------------------------------------------------------

# Reads one response from fd $1: sets $status (the status line) and $body.
read_response() {
  local fd=$1 line len=0
  read -r -t 30 -u "$fd" status || fail "no response"
  status=${status%$'\r'}
  while read -r -t 30 -u "$fd" line; do
    line=${line%$'\r'}
    [ -n "$line" ] || break
    if [[ "${line,,}" == content-length:* ]]; then
      len=${line#*:}
      len=${len// /}
    fi
  done
  body=
  if [ "$len" -gt 0 ]; then
    read -r -t 30 -N "$len" -u "$fd" body || fail "short body"
  fi
}

# Sends $2 on a new connection and reads until the server closes it.
exchange_to_eof() {
  local fd
  exec {fd}<>"/dev/tcp/127.0.0.1/$port"
  printf '%b' "$1" >&"$fd"
  timeout 30 cat <&"$fd" >"$tmp/reply" || fail "$2: no close from the server"
  exec {fd}>&-
  tr -d '\r' <"$tmp/reply"
}

count() {
  grep -o "$1" <<<"$2" | wc -l
}

http_test() {
  local fd reply requests=0 get='GET / HTTP/1.1\r\nHost: x\r\n\r\n'
  # Keep-alive: three requests, one at a time, on one connection.
  exec {fd}<>"/dev/tcp/127.0.0.1/$port"
  for ((r = 0; r < 3; r++)); do
    printf '%b' "$get" >&"$fd"
    read_response "$fd"
    [ "$status" = "HTTP/1.1 200 OK" ] || fail "keep-alive: '$status'"
    [ "$body" = hello ] || fail "keep-alive: body '$body'"
  done
  exec {fd}>&-
  requests=$((requests + 3))
  # Pipelined: three in one write, the last asking to close.
  reply=$(exchange_to_eof "$get$get"'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' \
    pipelined)
  [ "$(count '200 OK' "$reply")" = 3 ] || fail "pipelined: $reply"
  [ "$(count hello "$reply")" = 3 ] || fail "pipelined: $reply"
  requests=$((requests + 3))
  # A body (read and dropped), then a request that closes.
  reply=$(exchange_to_eof 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello worldGET / HTTP/1.1\r\nHost: x\r\nconnection: Close\r\n\r\n' \
    body)
  [ "$(count '200 OK' "$reply")" = 2 ] || fail "body: $reply"
  requests=$((requests + 2))
  # A chunked body, then close.
  reply=$(exchange_to_eof 'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n' \
    chunked)
  [ "$(count '200 OK' "$reply")" = 1 ] || fail "chunked: $reply"
  requests=$((requests + 1))
  # HTTP/1.0 closes by default.
  reply=$(exchange_to_eof 'GET / HTTP/1.0\r\n\r\n' http10)
  [ "$(count '200 OK' "$reply")" = 1 ] || fail "HTTP/1.0: $reply"
  requests=$((requests + 1))
  # Malformed: 400, then the server closes (what follows is not answered).
  reply=$(exchange_to_eof "BLAH\\r\\n\\r\\n$get" malformed)
  [ "$(count '400 Bad Request' "$reply")" = 1 ] || fail "malformed: $reply"
  [ "$(count '200 OK' "$reply")" = 0 ] || fail "malformed: $reply"
  reply=$(exchange_to_eof 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' \
    bad-chunk)
  [ "$(count '400 Bad Request' "$reply")" = 1 ] || fail "bad chunk: $reply"
  # HTTP/1.1 needs a Host.
  reply=$(exchange_to_eof 'GET / HTTP/1.1\r\n\r\n' no-host)
  [ "$(count '400 Bad Request' "$reply")" = 1 ] || fail "no Host: $reply"
  # A connection that closes without a request.
  exec {fd}<>"/dev/tcp/127.0.0.1/$port"
  exec {fd}>&-
  # A keep-alive connection still open at SIGTERM: the shutdown cancels
  # its handler, and must still be clean.
  exec {fd}<>"/dev/tcp/127.0.0.1/$port"
  printf '%b' "$get" >&"$fd"
  read_response "$fd"
  [ "$status" = "HTTP/1.1 200 OK" ] || fail "last connection: '$status'"
  requests=$((requests + 1))
  stop_server
  exec {fd}>&-
  [ "$(member result)" = "$requests" ] ||
    fail "result $(member result), expected $requests requests"
  [ "$(member bad)" = 3 ] || fail "bad $(member bad), expected 3"
}

# fetch: the server is weft-bench http-server; the same binary's fetch
# subcommand sends 50 concurrent GETs and 3 one after another.
fetch_test() {
  local out
  out=$("$server_bin" fetch --port "$port" --urls 50 --threads 2) ||
    fail "fetch failed"
  [[ "$out" == *'"result":50'* ]] || fail "fetch: $out"
  out=$("$server_bin" fetch --port "$port" --urls 3 --sequential) ||
    fail "sequential fetch failed"
  [[ "$out" == *'"result":3'* ]] || fail "sequential fetch: $out"
  stop_server
  [ "$(member result)" = 53 ] || fail "result $(member result), expected 53"
}

# echoload: 4 connections, 1 s, 64-byte messages. echoload checks every
# reply against its message and exits non-zero on any error.
echoload_test() {
  local out
  [ -x "${ECHOLOAD:-}" ] || fail "ECHOLOAD='${ECHOLOAD:-}' is not a program"
  out=$(timeout 30 "$ECHOLOAD" "$port" 4 1 64 smoke) ||
    fail "echoload failed: $out"
  echo "$out"
  [[ "$out" == *'"errors":0'* ]] || fail "echoload: $out"
  [[ "$out" =~ \"round_trips\":[1-9] ]] || fail "no round trip: $out"
  stop_server
}

# fetch_https: the server is `openssl s_server -www` (OpenSSL's own, one
# connection at a time, each closed with close_notify) with the test
# certificates; SERVER is weft-bench, whose fetch gets https://localhost
# with --ca (every answer a 2xx), and fails without it (the system store
# does not know the test CA).
fetch_https_test() {
  local out bin=$1
  (cd "$tmp/pki" && exec stdbuf -oL openssl s_server -www -cert server.pem \
    -key server.key -accept 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err") &
  pid=$!
  for ((i = 0; i < 3000; i++)); do
    port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
      "$tmp/out" 2>/dev/null || true)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "s_server exited before listening"
    sleep 0.01
  done
  [ -n "$port" ] || fail "s_server did not listen within 30 s"
  out=$("$bin" fetch --url "https://localhost:$port/" --ca "$tmp/pki/ca.pem" \
    --urls 10 --threads 2) || fail "https fetch failed: $out"
  [[ "$out" == *'"result":10'* ]] || fail "https fetch: $out"
  [[ "$out" == *'"url":"https://localhost:'* ]] || fail "https fetch: $out"
  if out=$("$bin" fetch --url "https://localhost:$port/" --urls 1 \
    --threads 1 2>"$tmp/fetch_err"); then
    fail "a fetch without --ca verified the test CA: $out"
  fi
  grep -q "certificate verify failed" "$tmp/fetch_err" ||
    fail "no verify reason: $(cat "$tmp/fetch_err")"
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
}

# -- tls_echo ---------------------------------------------------------------

# The server is weft-bench tls-echo-server with the test certificates of
# tests/tls/make-certs.sh (set up below, before it starts); the clients are
# `openssl s_client`, which verify the chain and the name "localhost".
# Each client talks through two FIFOs opened read-write here, so that no
# open blocks whoever comes first.
tls_client() { # tls_client N: starts client N; sets w[N], r[N], cpid[N]
  local n=$1 fdw fdr
  mkfifo "$tmp/in$n" "$tmp/out$n"
  exec {fdw}<>"$tmp/in$n" {fdr}<>"$tmp/out$n"
  openssl s_client -connect "127.0.0.1:$port" -servername localhost \
    -verify_hostname localhost -CAfile "$tmp/pki/ca.pem" \
    -verify_return_error -quiet <"$tmp/in$n" >"$tmp/out$n" \
    2>"$tmp/sclient$n" &
  cpid[$n]=$!
  w[$n]=$fdw
  r[$n]=$fdr
}

tls_echo_test() {
  local conns=4 rounds=10 big=300000 sent=0 line c
  for ((c = 0; c < conns; c++)); do
    tls_client "$c"
  done
  for ((i = 0; i < rounds; i++)); do
    for ((c = 0; c < conns; c++)); do
      printf 'tls round %d on connection %d\n' "$i" "$c" >&"${w[$c]}"
    done
    for ((c = 0; c < conns; c++)); do
      read -r -t 30 -u "${r[$c]}" line ||
        fail "no echo (round $i, conn $c): $(cat "$tmp/sclient$c")"
      [ "$line" = "tls round $i on connection $c" ] ||
        fail "echo '$line' for round $i on connection $c"
      sent=$((sent + ${#line} + 1))
    done
  done
  # 300 KB both ways at once, through the queued writes and drain.
  head -c "$big" /dev/urandom >"$tmp/big"
  tls_client big
  cat "$tmp/big" >&"${w[big]}" &
  local writer=$!
  timeout 30 head -c "$big" <&"${r[big]}" >"$tmp/back" ||
    fail "300 KB TLS echo timed out"
  wait "$writer"
  cmp -s "$tmp/big" "$tmp/back" || fail "300 KB TLS echo differs"
  sent=$((sent + big))
  # A plain client on the TLS port: its handshake fails, the server goes on.
  local fd
  exec {fd}<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET / HTTP/1.0\r\n\r\n' >&"$fd"
  timeout 30 cat <&"$fd" >/dev/null || fail "plain client: no close"
  exec {fd}>&-
  # The clients stay connected through SIGTERM: the shutdown must be clean.
  stop_server
  for c in "${cpid[@]}"; do
    kill "$c" 2>/dev/null || true
  done
  [ "$(member result)" = "$sent" ] ||
    fail "result $(member result), expected $sent bytes"
  [ "$(member ops)" = $((conns + 2)) ] ||
    fail "ops $(member ops), expected $((conns + 2)) connections"
  [ "$(member handshakes)" = $((conns + 1)) ] ||
    fail "handshakes $(member handshakes), expected $((conns + 1))"
}

if [ "$mode" = tls_echo ] || [ "$mode" = fetch_https ]; then
  command -v openssl >/dev/null || fail "no openssl command"
  mkdir "$tmp/pki"
  sh "$(dirname "$0")/../tests/tls/make-certs.sh" "$tmp/pki" ||
    fail "make-certs.sh failed"
  export WEFT_BENCH_CERT=$tmp/pki/server.pem WEFT_BENCH_KEY=$tmp/pki/server.key
  declare -A w r cpid
fi

if [ "$mode" = fetch_https ]; then
  fetch_https_test "$1"
  echo "net-smoke: $mode: ok"
  exit 0
fi

server_bin=$1
start_server "$@"
case $mode in
echo) echo_test ;;
http) http_test ;;
fetch) fetch_test ;;
echoload) echoload_test ;;
tls_echo) tls_echo_test ;;
*) fail "unknown mode '$mode'" ;;
esac
echo "net-smoke: $mode: ok"
