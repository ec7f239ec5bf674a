package io.pointsman.ipvs.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

/**
 * An {@code AF_NETLINK} socket (through jnr-ffi) that sends one request at a time and collects its
 * replies with a {@link ReplyAssembler}. Replies wait at most the receive timeout, so a silent
 * kernel cannot hang a sync. Thread-safe: requests are serialised.
 */
public final class NetlinkSocket implements AutoCloseable {
    /** Large enough for any single datagram the kernel sends in a dump (it caps them at 32 KiB). */
    private static final int RECEIVE_BUFFER = 64 * 1024;
    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private static volatile LibC libc;

    private final LibC c;
    private final Runtime runtime;
    private final int protocol;
    private final byte[] receiveBuffer = new byte[RECEIVE_BUFFER];
    private int fd;
    private int nextSeq = 1;
    private int lastDatagrams;

    private NetlinkSocket(LibC c, int fd, int protocol) {
        this.c = c;
        this.runtime = Runtime.getRuntime(c);
        this.fd = fd;
        this.protocol = protocol;
    }

    /** Opens and binds a socket of {@code protocol} ({@link Netlink#NETLINK_GENERIC}, {@link Netlink#NETLINK_ROUTE}). */
    public static NetlinkSocket open(int protocol) throws NetlinkException {
        return open(protocol, DEFAULT_TIMEOUT);
    }

    public static NetlinkSocket open(int protocol, Duration receiveTimeout) throws NetlinkException {
        LibC c = libc();
        Runtime rt = Runtime.getRuntime(c);
        String what = "open netlink socket (protocol " + protocol + ")";
        int fd = c.socket(LibC.AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, protocol);
        if (fd < 0) {
            throw new NetlinkException(what, rt.getLastError(), "");
        }
        NetlinkSocket s = new NetlinkSocket(c, fd, protocol);
        try {
            // Kernel-assigned port id: sockaddr_nl {u16 family, u16 pad, u32 pid = 0, u32 groups = 0}.
            if (c.bind(fd, sockaddrNl(), 12) != 0) {
                throw new NetlinkException("bind " + what, rt.getLastError(), "");
            }
            s.setTimeout(LibC.SO_RCVTIMEO, receiveTimeout);
            s.setTimeout(LibC.SO_SNDTIMEO, receiveTimeout);
            // Best effort: the kernel's error text in error replies, and no echo of the request.
            s.setInt(Netlink.SOL_NETLINK, Netlink.NETLINK_EXT_ACK, 1);
            s.setInt(Netlink.SOL_NETLINK, Netlink.NETLINK_CAP_ACK, 1);
            return s;
        } catch (NetlinkException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private static LibC libc() {
        LibC l = libc;
        if (l == null) {
            synchronized (NetlinkSocket.class) {
                if (libc == null) {
                    libc = LibraryLoader.create(LibC.class).load("c");
                }
                l = libc;
            }
        }
        return l;
    }

    public int protocol() {
        return protocol;
    }

    /**
     * Sends {@code request} with the next sequence number and returns its data replies once the
     * exchange is complete (ack, NLMSG_DONE, or the single reply).
     *
     * @throws NetlinkException naming {@code operation} and the errno when the kernel refused it
     */
    public synchronized List<Message> request(String operation, MessageWriter request) throws NetlinkException {
        if (fd < 0) {
            throw new NetlinkException(operation, "socket is closed");
        }
        int seq = nextSeq++;
        if (nextSeq <= 0) {
            nextSeq = 1;
        }
        byte[] bytes = request.finish(seq, 0);
        send(operation, bytes);
        ReplyAssembler replies = new ReplyAssembler(operation, seq, request.flags());
        lastDatagrams = 0;
        // Bounded: every datagram either completes the exchange or adds replies; the timeout ends silence.
        while (true) {
            int n = receive(operation);
            lastDatagrams++;
            for (Message m : Message.split(receiveBuffer, n)) {
                if (replies.accept(m)) {
                    return replies.replies();
                }
            }
        }
    }

    /** How many datagrams the last request's replies arrived in (a large dump spans several). */
    public synchronized int lastDatagrams() {
        return lastDatagrams;
    }

    private void send(String operation, byte[] bytes) throws NetlinkException {
        byte[] kernel = sockaddrNl();
        for (int attempt = 0; attempt < 3; attempt++) {
            long sent = c.sendto(fd, bytes, bytes.length, 0, kernel, kernel.length);
            if (sent == bytes.length) {
                return;
            }
            int errno = runtime.getLastError();
            if (sent >= 0) {
                throw new NetlinkException(operation, "sent " + sent + " of " + bytes.length + " bytes");
            }
            if (errno != LibC.EINTR) {
                throw new NetlinkException(operation + " (send)", errno, "");
            }
        }
        throw new NetlinkException(operation, "send interrupted 3 times");
    }

    private int receive(String operation) throws NetlinkException {
        for (int attempt = 0; attempt < 3; attempt++) {
            long n = c.recv(fd, receiveBuffer, receiveBuffer.length, LibC.MSG_TRUNC);
            if (n > receiveBuffer.length) {
                throw new NetlinkException(operation, "reply of " + n + " bytes exceeds the "
                        + receiveBuffer.length + "-byte receive buffer");
            }
            if (n >= 0) {
                return (int) n;
            }
            int errno = runtime.getLastError();
            if (errno == LibC.EAGAIN) {
                throw new NetlinkException(operation, "no reply from the kernel within the receive timeout");
            }
            if (errno != LibC.EINTR) {
                throw new NetlinkException(operation + " (receive)", errno, "");
            }
        }
        throw new NetlinkException(operation, "receive interrupted 3 times");
    }

    private void setTimeout(int option, Duration timeout) throws NetlinkException {
        // struct timeval {long tv_sec; long tv_usec;} with the platform's long size.
        int longSize = runtime.longSize();
        ByteBuffer b = ByteBuffer.allocate(2 * longSize).order(ByteOrder.nativeOrder());
        long sec = timeout.getSeconds();
        long usec = timeout.getNano() / 1000L;
        if (longSize == 8) {
            b.putLong(sec).putLong(usec);
        } else {
            b.putInt((int) sec).putInt((int) usec);
        }
        if (c.setsockopt(fd, LibC.SOL_SOCKET, option, b.array(), b.capacity()) != 0) {
            throw new NetlinkException("setsockopt " + option, runtime.getLastError(), "");
        }
    }

    private void setInt(int level, int option, int value) {
        byte[] v = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(value).array();
        c.setsockopt(fd, level, option, v, 4);
    }

    private static byte[] sockaddrNl() {
        return ByteBuffer.allocate(12).order(ByteOrder.nativeOrder()).putShort((short) LibC.AF_NETLINK).array();
    }

    @Override
    public synchronized void close() {
        if (fd >= 0) {
            c.close(fd);
            fd = -1;
        }
    }
}
