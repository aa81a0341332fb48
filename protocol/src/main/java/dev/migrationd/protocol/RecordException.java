package dev.migrationd.protocol;

/** A well-framed item whose content is invalid (bad page type, PFN beyond p2m_size, wrong size field). */
public final class RecordException extends StreamException {
    public RecordException(String item, long code, long offset, String problem) {
        super(item, code, offset, problem, null);
    }
}
