/**
 * TLS material for the daemon's listeners: PEM files ({@link dev.migrationd.daemon.tls.TlsFiles}) read
 * and checked into {@link dev.migrationd.daemon.tls.TlsMaterial} (CA bundle, certificate chain, key in
 * PKCS#8 or the traditional RSA/EC form), and the peer link's mutual TLS 1.3 contexts
 * ({@link dev.migrationd.daemon.tls.PeerTls}), re-read on SIGHUP. The identity of a peer is a
 * subjectAltName DNS entry of its verified certificate ({@link dev.migrationd.daemon.tls.CertNames}).
 * Nothing here knows the engine; the transport uses it, and the control server can build its own
 * contexts from the same {@link dev.migrationd.daemon.tls.TlsMaterial}.
 */
package dev.migrationd.daemon.tls;
