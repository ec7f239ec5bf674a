package io.pointsman.core.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Go's duration syntax ("30s", "1m30s", "500ms", "1h"), as kube-proxy's flags and config use it. */
public final class GoDuration {
    private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)");

    private GoDuration() {
    }

    public static Duration parse(String field, String text) {
        String t = text == null ? "" : text.trim();
        if (t.equals("0")) {
            return Duration.ZERO;
        }
        Matcher m = PART.matcher(t);
        int pos = 0;
        double nanos = 0;
        while (pos < t.length() && m.find(pos) && m.start() == pos) {
            double v = Double.parseDouble(m.group(1));
            nanos += v * switch (m.group(2)) {
                case "ns" -> 1d;
                case "us", "µs" -> 1e3;
                case "ms" -> 1e6;
                case "s" -> 1e9;
                case "m" -> 60e9;
                default -> 3600e9;
            };
            pos = m.end();
        }
        if (t.isEmpty() || pos != t.length()) {
            throw new ConfigException(field + ": \"" + text + "\" (expected: a duration such as 30s, 1m or 500ms)");
        }
        return Duration.ofNanos((long) nanos);
    }

    /** Formats like Go's Duration.String() for whole units ("30s", "1m0s", "1h0m0s", "500ms"). */
    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms == 0) {
            return "0s";
        }
        if (ms < 1000) {
            return ms + "ms";
        }
        long h = d.toHours();
        long m = d.toMinutesPart();
        long s = d.toSecondsPart();
        int milli = d.toMillisPart();
        String sec = milli == 0 ? s + "s" : String.format(java.util.Locale.ROOT, "%d.%03ds", s, milli).replaceAll("0+s$", "s");
        if (h > 0) {
            return h + "h" + m + "m" + sec;
        }
        if (m > 0) {
            return m + "m" + sec;
        }
        return sec;
    }
}
