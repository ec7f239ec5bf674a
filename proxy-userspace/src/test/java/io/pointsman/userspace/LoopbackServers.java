package io.pointsman.userspace;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/** Small TCP and UDP servers on 127.0.0.1 that stand in for pods. Closing stops them all. */
final class LoopbackServers implements AutoCloseable {
    static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private final List<AutoCloseable> closeables = new CopyOnWriteArrayList<>();

    /** Answers every connection with {@code name} and a newline, then closes. */
    int tcpNamed(String name) {
        return tcp(s -> {
            try (s) {
                s.getOutputStream().write((name + "\n").getBytes(StandardCharsets.US_ASCII));
            }
        });
    }

    /** Sends back everything it reads; closes its side after the client's EOF (a half-close aware echo). */
    int tcpEcho() {
        return tcp(s -> {
            try (s) {
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                in.transferTo(out);
                s.shutdownOutput();
            }
        });
    }

    /** Accepts connections and reads nothing until {@code go} opens; then counts what it reads into {@code read}. */
    int tcpSlowSink(CountDownLatch go, AtomicLong read) {
        return tcp(s -> {
            try (s) {
                go.await();
                byte[] buf = new byte[1 << 16];
                InputStream in = s.getInputStream();
                int n;
                while ((n = in.read(buf)) > 0) {
                    read.addAndGet(n);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    interface Session {
        void serve(Socket s) throws IOException;
    }

    private int tcp(Session session) {
        try {
            ServerSocket server = new ServerSocket(0, 50, LOOPBACK);
            closeables.add(server);
            Thread t = new Thread(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        closeables.add(s);
                        Thread h = new Thread(() -> {
                            try {
                                session.serve(s);
                            } catch (IOException ignored) {
                                // The test closed it, or the relay reset it.
                            }
                        }, "test-server-conn");
                        h.setDaemon(true);
                        h.start();
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "test-server");
            t.setDaemon(true);
            t.start();
            return server.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start a loopback server: " + e.getMessage(), e);
        }
    }

    /** Answers every datagram with {@code name} and a newline, to its sender. */
    int udpNamed(String name) {
        try {
            DatagramSocket socket = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0));
            closeables.add(socket);
            Thread t = new Thread(() -> {
                byte[] buf = new byte[2048];
                byte[] answer = (name + "\n").getBytes(StandardCharsets.US_ASCII);
                while (!socket.isClosed()) {
                    try {
                        DatagramPacket p = new DatagramPacket(buf, buf.length);
                        socket.receive(p);
                        socket.send(new DatagramPacket(answer, answer.length, p.getSocketAddress()));
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "test-udp-server");
            t.setDaemon(true);
            t.start();
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start a loopback UDP server: " + e.getMessage(), e);
        }
    }

    /** A port nothing listens on (bound and closed again). */
    static int closedPort() {
        try (ServerSocket s = new ServerSocket(0, 1, LOOPBACK)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        List<AutoCloseable> all = new ArrayList<>(closeables);
        closeables.clear();
        for (AutoCloseable c : all) {
            try {
                c.close();
            } catch (Exception ignored) {
                // Best effort.
            }
        }
    }
}
