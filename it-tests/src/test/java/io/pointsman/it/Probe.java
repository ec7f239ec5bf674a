package io.pointsman.it;

import io.pointsman.core.testing.Netns;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Real traffic from inside a namespace, one socat process per connection (so every connection
 * has a fresh source port and conntrack entry).
 */
final class Probe {
    private Probe() {
    }

    /** One connection's result: the server's one-line answer, or the client's error. */
    record Answer(String reply, String error, Duration elapsed) {
        boolean answered() {
            return error == null;
        }

        @Override
        public String toString() {
            return (answered() ? "'" + reply + "'" : "error '" + error + "'") + " in " + elapsed.toMillis() + " ms";
        }
    }

    /** Opens one TCP connection, sends nothing and reads until the server closes. */
    static Answer tcp(Netns from, String ip, int port, Duration connectTimeout) {
        List<String> cmd = new ArrayList<>(from.prefix());
        cmd.addAll(List.of("socat", "-T", "3", "STDIO",
                "TCP:" + ip + ":" + port + ",connect-timeout=" + seconds(connectTimeout)));
        return answer(Command.run(cmd, null, connectTimeout.plusSeconds(5)));
    }

    /** One TCP connection from a given source address of {@code from} ({@code bindIp}). */
    static Answer tcpFrom(Netns from, String bindIp, String ip, int port, Duration connectTimeout) {
        List<String> cmd = new ArrayList<>(from.prefix());
        cmd.addAll(List.of("socat", "-T", "3", "STDIO",
                "TCP:" + ip + ":" + port + ",connect-timeout=" + seconds(connectTimeout) + ",bind=" + bindIp));
        return answer(Command.run(cmd, null, connectTimeout.plusSeconds(5)));
    }

    /**
     * One UDP exchange from a fixed source port: every call with the same port continues the same
     * conntrack flow (the same 5-tuple), as a long-lived client such as a DNS resolver would.
     */
    static Answer udpFromPort(Netns from, String ip, int port, int sourcePort, Duration limit) {
        List<String> cmd = new ArrayList<>(from.prefix());
        cmd.addAll(List.of("socat", "STDIO", "UDP:" + ip + ":" + port + ",sourceport=" + sourcePort + ",reuseaddr"));
        Command.Outcome o = Command.firstLine(cmd, "ping\n", limit);
        if (!o.ok()) {
            String why = o.stderr().isBlank() ? "" : ": " + o.stderr().strip();
            return new Answer(null, "no reply within " + limit.toMillis() + " ms" + why, o.elapsed());
        }
        return answer(o);
    }

    /** {@code count} TCP connections one after another. */
    static List<Answer> tcp(Netns from, String ip, int port, int count) {
        List<Answer> answers = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            answers.add(tcp(from, ip, port, Duration.ofSeconds(2)));
        }
        return answers;
    }

    /**
     * One UDP exchange from a fresh socket (so a fresh source port and conntrack entry): one datagram
     * out, the first reply line back.
     */
    static Answer udp(Netns from, String ip, int port, Duration limit) {
        List<String> cmd = new ArrayList<>(from.prefix());
        cmd.addAll(List.of("socat", "STDIO", "UDP:" + ip + ":" + port));
        Command.Outcome o = Command.firstLine(cmd, "ping\n", limit);
        if (!o.ok()) {
            String why = o.stderr().isBlank() ? "" : ": " + o.stderr().strip();
            return new Answer(null, "no reply within " + limit.toMillis() + " ms" + why, o.elapsed());
        }
        return answer(o);
    }

    /** {@code count} UDP exchanges one after another, each from its own source port. */
    static List<Answer> udp(Netns from, String ip, int port, int count) {
        List<Answer> answers = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            answers.add(udp(from, ip, port, Duration.ofSeconds(2)));
        }
        return answers;
    }

    private static Answer answer(Command.Outcome o) {
        String reply = o.stdout().strip();
        if (o.ok() && !reply.isEmpty()) {
            return new Answer(reply, null, o.elapsed());
        }
        // Drop socat's "2026/01/01 12:00:00 socat[123] E " prefix so equal errors tally together.
        String error = o.stderr().strip().replaceAll("(?m)^\\d{4}/\\d\\d/\\d\\d [\\d:.]+ socat\\[\\d+\\] [A-Z] ", "");
        if (error.isEmpty()) {
            error = "no reply (exit " + o.exit() + ")";
        }
        return new Answer(null, error, o.elapsed());
    }

    /** How often each reply (or error) was seen, for assertion messages. */
    static Map<String, Long> tally(List<Answer> answers) {
        Function<Answer, String> key = a -> a.answered() ? a.reply() : "error: " + a.error();
        return answers.stream().collect(Collectors.groupingBy(key, TreeMap::new, Collectors.counting()));
    }

    private static String seconds(Duration d) {
        return String.format(java.util.Locale.ROOT, "%.3f", d.toMillis() / 1000.0);
    }

    /** An HTTP/1.0 exchange: status code and (de-chunked) body. */
    record HttpReply(int status, String body) {
    }

    /** GET over plain TCP from inside a namespace, with socat; HTTP/1.0 so the server closes. */
    static HttpReply httpGet(Netns from, String hostPort, String path) {
        List<String> cmd = new ArrayList<>(from.prefix());
        // ignoreeof: do not half-close after the request, some servers drop half-closed connections.
        cmd.addAll(List.of("socat", "-t", "0.2", "-T", "5", "STDIO,ignoreeof", "TCP:" + hostPort + ",connect-timeout=3"));
        String request = "GET " + path + " HTTP/1.0\r\nHost: " + hostPort + "\r\nAccept: */*\r\n\r\n";
        Command.Outcome o = Command.run(cmd, request, Duration.ofSeconds(10));
        if (o.stdout().isEmpty()) {
            throw new IllegalStateException("no HTTP answer from " + hostPort + path + ": " + o);
        }
        return parse(o.stdout(), hostPort + path);
    }

    /** The raw response of an HTTP/1.0 GET (status line, headers, body), for header checks. */
    static String httpGetRaw(Netns from, String hostPort, String path) {
        List<String> cmd = new ArrayList<>(from.prefix());
        cmd.addAll(List.of("socat", "-t", "0.2", "-T", "5", "STDIO,ignoreeof", "TCP:" + hostPort + ",connect-timeout=3"));
        String request = "GET " + path + " HTTP/1.0\r\nHost: " + hostPort + "\r\nAccept: */*\r\n\r\n";
        Command.Outcome o = Command.run(cmd, request, Duration.ofSeconds(10));
        if (o.stdout().isEmpty()) {
            throw new IllegalStateException("no HTTP answer from " + hostPort + path + ": " + o);
        }
        return o.stdout();
    }

    static HttpReply parse(String raw, String what) {
        int headerEnd = raw.indexOf("\r\n\r\n");
        if (!raw.startsWith("HTTP/") || headerEnd < 0) {
            throw new IllegalStateException("not an HTTP response from " + what + ": " + abbreviate(raw));
        }
        String[] statusLine = raw.substring(0, raw.indexOf("\r\n")).split(" ", 3);
        int status = Integer.parseInt(statusLine[1]);
        String headers = raw.substring(0, headerEnd).toLowerCase(java.util.Locale.ROOT);
        String body = raw.substring(headerEnd + 4);
        if (headers.contains("\r\ntransfer-encoding: chunked")) {
            body = dechunk(body, what);
        }
        return new HttpReply(status, body);
    }

    private static String dechunk(String body, String what) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < body.length()) {
            int eol = body.indexOf("\r\n", i);
            if (eol < 0) {
                throw new IllegalStateException("truncated chunked body from " + what);
            }
            int size = Integer.parseInt(body.substring(i, eol).split(";")[0].trim(), 16);
            if (size == 0) {
                break;
            }
            // Chunk sizes count bytes; bodies here are ASCII, so characters equal bytes.
            out.append(body, eol + 2, eol + 2 + size);
            i = eol + 2 + size + 2;
        }
        return out.toString();
    }

    private static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }
}
