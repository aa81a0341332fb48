/**
 * {@code migrationctl certs}: a lab certificate authority and per-host certificates for the peer link's
 * mutual TLS ({@link dev.migrationd.control.cli.certs.LabCa}, BouncyCastle), written as PEM files that
 * {@code migrationd --tls-ca/--tls-cert/--tls-key} read.
 */
package dev.migrationd.control.cli.certs;
