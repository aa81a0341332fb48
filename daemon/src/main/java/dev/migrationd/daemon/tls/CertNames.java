package dev.migrationd.daemon.tls;

import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The names a certificate proves: its subjectAltName DNS entries (type 2), as
 * {@code openssl req -addext subjectAltName=DNS:hostA} writes them. The subject's common name is not an
 * identity (RFC 6125 deprecates it), and neither are IP address entries: a peer is known by its name.
 */
public final class CertNames {

    /** subjectAltName entry type of a DNS name (RFC 5280 GeneralName dNSName). */
    static final int SAN_DNS = 2;
    /** More names than this in one certificate are not read (a peer certificate names one host). */
    static final int MAX_NAMES = 64;

    private CertNames() {
    }

    /** The DNS names of the certificate's subjectAltName extension, in order (empty if it has none). */
    public static List<String> dnsNames(X509Certificate cert) {
        Collection<List<?>> sans;
        try {
            sans = cert.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return List.of();
        }
        if (sans == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (List<?> san : sans) {
            if (out.size() >= MAX_NAMES) {
                break;
            }
            if (san.size() >= 2 && san.get(0) instanceof Integer type && type == SAN_DNS && san.get(1) instanceof String n) {
                out.add(n);
            }
        }
        return List.copyOf(out);
    }

    /** The DNS names of the leaf of a chain (empty for no chain or a non-X.509 leaf). */
    public static List<String> dnsNames(Certificate[] chain) {
        if (chain == null || chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
            return List.of();
        }
        return dnsNames(leaf);
    }

    /** For logs: the names joined by commas, or {@code none}. */
    public static String describe(List<String> names) {
        return names.isEmpty() ? "none" : String.join(",", names);
    }
}
