package dev.migrationd.hypervisor;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * A guest's configuration as a toolstack describes it (Xen: libxl's {@code libxl_domain_config} as JSON, what
 * {@code xl migrate} sends ahead of the stream), carried from the source to a destination that builds the guest
 * through its own toolstack. It comes from a peer, so it is bounded and checked here before anything else reads
 * it: at most {@link #MAX_BYTES} of UTF-8, no control characters but whitespace, one JSON object whose strings
 * are closed and whose brackets balance, nested at most {@link #MAX_DEPTH} deep. The toolstack's own parser
 * (libxl's) then checks the meaning.
 *
 * @param json the configuration
 */
public record ToolstackConfig(String json) {

    /**
     * The largest configuration accepted: libxl's JSON for a guest with a few disks and NICs is a few KiB, and
     * the offer that carries it must fit one peer-link message of 64 KiB with room for the rest.
     */
    public static final int MAX_BYTES = 48 * 1024;
    /** The deepest nesting of objects and arrays accepted (libxl's configuration nests about five deep). */
    public static final int MAX_DEPTH = 32;

    public ToolstackConfig {
        Objects.requireNonNull(json, "json");
        String problem = problem(json);
        if (problem != null) {
            throw new IllegalArgumentException("toolstack configuration " + problem);
        }
    }

    /** What is wrong with {@code json} as a configuration, or null when nothing is. */
    public static String problem(String json) {
        int bytes = json.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_BYTES) {
            return "of " + bytes + " bytes exceeds the limit of " + MAX_BYTES;
        }
        int depth = 0;
        boolean inString = false;
        boolean escaped = false;
        boolean started = false;
        boolean ended = false;
        char[] open = new char[MAX_DEPTH];
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                return "has control character 0x" + Integer.toHexString(c) + " at offset " + i;
            }
            if (inString) {
                if (escaped) {
                    escaped = false;
                } else if (c == '\\') {
                    escaped = true;
                } else if (c == '"') {
                    inString = false;
                }
                continue;
            }
            if (Character.isWhitespace(c)) {
                continue;
            }
            if (ended) {
                return "has data after its closing brace at offset " + i;
            }
            if (!started) {
                if (c != '{') {
                    return "is not a JSON object (starts with '" + c + "')";
                }
                started = true;
            }
            switch (c) {
                case '"' -> inString = true;
                case '{', '[' -> {
                    if (depth == MAX_DEPTH) {
                        return "nests deeper than " + MAX_DEPTH + " at offset " + i;
                    }
                    open[depth++] = c;
                }
                case '}', ']' -> {
                    if (depth == 0 || open[depth - 1] != (c == '}' ? '{' : '[')) {
                        return "has an unbalanced '" + c + "' at offset " + i;
                    }
                    depth--;
                    ended = depth == 0;
                }
                default -> {
                }
            }
        }
        if (!started) {
            return "is empty";
        }
        if (inString || depth != 0) {
            return "ends inside " + (inString ? "a string" : depth + " open bracket(s)");
        }
        return null;
    }

    /**
     * The string at {@code object.key} of this configuration (libxl's {@code c_info.uuid}, {@code c_info.type},
     * {@code c_info.name}), or empty when there is none or it is not a string. The configuration was checked
     * ({@link #problem}): the walk is bounded by its size and depth.
     */
    public java.util.Optional<String> string(String object, String key) {
        JsonWalk w = new JsonWalk(json);
        Object top = w.value();
        if (top instanceof java.util.Map<?, ?> m && m.get(object) instanceof java.util.Map<?, ?> inner
                && inner.get(key) instanceof String v) {
            return java.util.Optional.of(v);
        }
        return java.util.Optional.empty();
    }

    /**
     * A reader of checked JSON into maps, lists and strings (numbers and literals are kept as their text), enough
     * to look fields up; anything it does not expect ends the walk as null.
     */
    private static final class JsonWalk {
        private final String s;
        private int i;

        JsonWalk(String s) {
            this.s = s;
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        /**
         * From the opening bracket at {@code i}: members read by {@code member} (false: not well formed), separated
         * by commas, up to {@code close}; whether that was well formed.
         */
        private boolean sequence(char close, java.util.function.BooleanSupplier member) {
            i++;
            ws();
            if (i < s.length() && s.charAt(i) == close) {
                i++;
                return true;
            }
            while (i < s.length()) {
                if (!member.getAsBoolean()) {
                    return false;
                }
                ws();
                if (i >= s.length()) {
                    return false;
                }
                char d = s.charAt(i++);
                if (d == close) {
                    return true;
                }
                if (d != ',') {
                    return false;
                }
            }
            return false;
        }

        Object value() {
            ws();
            if (i >= s.length()) {
                return null;
            }
            char c = s.charAt(i);
            if (c == '{') {
                java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                return sequence('}', () -> {
                    ws();
                    if (!(value() instanceof String k)) {
                        return false;
                    }
                    ws();
                    if (i >= s.length() || s.charAt(i++) != ':') {
                        return false;
                    }
                    m.put(k, value());
                    return true;
                }) ? m : null;
            }
            if (c == '[') {
                java.util.List<Object> l = new java.util.ArrayList<>();
                return sequence(']', () -> l.add(value())) ? l : null;
            }
            if (c == '"') {
                StringBuilder b = new StringBuilder();
                i++;
                while (i < s.length()) {
                    char d = s.charAt(i++);
                    if (d == '"') {
                        return b.toString();
                    }
                    if (d == '\\' && i < s.length()) {
                        char e = s.charAt(i++);
                        switch (e) {
                            case 'n' -> b.append('\n');
                            case 't' -> b.append('\t');
                            case 'r' -> b.append('\r');
                            case 'b' -> b.append('\b');
                            case 'f' -> b.append('\f');
                            case 'u' -> {
                                if (i + 4 > s.length()) {
                                    return null;
                                }
                                try {
                                    b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                                } catch (NumberFormatException x) {
                                    return null;
                                }
                                i += 4;
                            }
                            default -> b.append(e);
                        }
                    } else {
                        b.append(d);
                    }
                }
                return null;
            }
            int start = i;
            while (i < s.length() && ",}] \t\r\n".indexOf(s.charAt(i)) < 0) {
                i++;
            }
            return new Literal(s.substring(start, i));
        }
    }

    /** A JSON number or literal, as its text. */
    private record Literal(String text) {
    }
}
