package io.pointsman.it;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A pod's "who are you talking to" server: answers every TCP connection with one line,
 * "NAME PEER-IP", and closes. Shows which pod a connection reached and the source address the pod
 * saw (the client's own, or an address the proxy masqueraded it to). Listens on the wildcard
 * address, so IPv6 when the pod has it. Runs as its own process inside a pod namespace.
 */
public final class PeerEchoServer {
    private PeerEchoServer() {
    }

    /** Dotted quad, or IPv6 compressed as RFC 5952 writes it (Java would print every group). */
    static String text(InetAddress a) {
        byte[] b = a.getAddress();
        if (b.length == 4) {
            return a.getHostAddress();
        }
        int[] w = new int[8];
        for (int i = 0; i < 8; i++) {
            w[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        }
        int bestStart = -1;
        int bestLen = 1;
        for (int i = 0; i < 8; ) {
            int j = i;
            while (j < 8 && w[j] == 0) {
                j++;
            }
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j == i ? i + 1 : j;
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                out.append("::");
                i += bestLen - 1;
                continue;
            }
            if (out.length() > 0 && out.charAt(out.length() - 1) != ':') {
                out.append(':');
            }
            out.append(Integer.toHexString(w[i]));
        }
        return out.toString();
    }

    /** Arguments: NAME PORT. */
    public static void main(String[] args) throws IOException {
        if (args.length != 2 || !args[0].matches("[a-z0-9-]{1,63}")) {
            System.err.println("usage: PeerEchoServer NAME PORT (NAME: 1-63 of a-z, 0-9, '-')");
            System.exit(2);
        }
        int port = Integer.parseInt(args[1]);
        if (port < 1 || port > 65535) {
            System.err.println("port: " + port + " (expected: 1-65535)");
            System.exit(2);
        }
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(port), 128);
            System.out.println("peer echo server " + args[0] + " listening on port " + port);
            while (true) {
                try (Socket s = server.accept()) {
                    String ip = text(s.getInetAddress());
                    OutputStream out = s.getOutputStream();
                    out.write((args[0] + " " + ip + "\n").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } catch (IOException e) {
                    // One client's trouble (reset, timeout) never stops the server.
                    System.err.println("connection failed: " + e);
                }
            }
        }
    }
}
