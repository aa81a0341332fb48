package dev.migrationd.control.cli.text;

import dev.migrationd.control.v1.Fill;
import dev.migrationd.control.v1.GuestType;
import dev.migrationd.control.v1.Policy;
import dev.migrationd.control.v1.StreamFormat;
import dev.migrationd.control.v1.TimeoutAction;
import dev.migrationd.control.v1.WritePattern;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** picocli converters: units (via {@link Units}) and the API's enums under their command-line names. */
public final class Converters {

    private Converters() {
    }

    private static <T> T convert(java.util.function.Function<String, T> f, String value) {
        try {
            return f.apply(value);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }

    public static final class Size implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return Converters.convert(Units::parseSize, value);
        }
    }

    public static final class Rate implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return Converters.convert(Units::parseRate, value);
        }
    }

    public static final class Time implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            return Converters.convert(Units::parseDuration, value);
        }
    }

    public static final class Percent implements ITypeConverter<Double> {
        @Override
        public Double convert(String value) {
            return Converters.convert(Units::parsePercent, value);
        }
    }

    /** Maps lower-case command-line words to enum values, and lists them as completion candidates. */
    public abstract static class Words<E> implements ITypeConverter<E>, Iterable<String> {
        private final Map<String, E> words;

        protected Words(Map<String, E> words) {
            this.words = words;
        }

        @Override
        public E convert(String value) {
            E e = words.get(value.toLowerCase(Locale.ROOT));
            if (e == null) {
                throw new TypeConversionException("'" + value + "': expected one of " + String.join(", ", words.keySet()));
            }
            return e;
        }

        @Override
        public Iterator<String> iterator() {
            return new ArrayList<>(words.keySet()).iterator();
        }
    }

    public static final class PolicyWords extends Words<Policy> {
        public PolicyWords() {
            super(ordered("downtime", Policy.POLICY_DOWNTIME, "xen-legacy", Policy.POLICY_XEN_LEGACY));
        }
    }

    public static final class TimeoutWords extends Words<TimeoutAction> {
        public TimeoutWords() {
            super(ordered("abort", TimeoutAction.TIMEOUT_ACTION_ABORT, "force", TimeoutAction.TIMEOUT_ACTION_FORCE));
        }
    }

    public static final class StreamFormatWords extends Words<StreamFormat> {
        public StreamFormatWords() {
            super(ordered("legacy", StreamFormat.STREAM_FORMAT_LEGACY, "v2", StreamFormat.STREAM_FORMAT_V2));
        }
    }

    public static final class GuestTypeWords extends Words<GuestType> {
        public GuestTypeWords() {
            super(ordered("hvm", GuestType.GUEST_TYPE_HVM, "pv", GuestType.GUEST_TYPE_PV));
        }
    }

    public static final class FillWords extends Words<Fill> {
        public FillWords() {
            super(ordered("zero", Fill.FILL_ZERO, "random", Fill.FILL_RANDOM));
        }
    }

    public static final class PatternWords extends Words<WritePattern> {
        public PatternWords() {
            super(ordered("random", WritePattern.WRITE_PATTERN_RANDOM, "sequential", WritePattern.WRITE_PATTERN_SEQUENTIAL,
                    "ab", WritePattern.WRITE_PATTERN_AB));
        }
    }

    public static final class WidthWords extends Words<Integer> {
        public WidthWords() {
            super(ordered("64", 64, "32", 32));
        }
    }

    @SuppressWarnings("unchecked")
    private static <E> Map<String, E> ordered(Object... pairs) {
        java.util.LinkedHashMap<String, E> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put((String) pairs[i], (E) pairs[i + 1]);
        }
        return java.util.Collections.unmodifiableMap(m);
    }
}
