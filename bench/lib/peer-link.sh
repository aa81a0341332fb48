# Sourced by the bench scripts: the peer link as a user sets it up. Mutual TLS with certificates made on the
# fly (default) or PEER_LINK=insecure for plaintext. Needs the caller's ctl function and BENCH_DIR.

peer_link_flags() { # name
  if [ "${PEER_LINK:-tls}" = insecure ]; then echo "--insecure-peer-link"; return; fi
  [ -f "$BENCH_DIR/tls/$1.pem" ] || ctl certs --dir "$BENCH_DIR/tls" hostA hostB >/dev/null
  echo "--tls-ca $BENCH_DIR/tls/ca.pem --tls-cert $BENCH_DIR/tls/$1.pem --tls-key $BENCH_DIR/tls/$1.key"
}
