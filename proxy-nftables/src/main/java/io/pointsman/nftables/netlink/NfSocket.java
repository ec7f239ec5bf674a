package io.pointsman.nftables.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

/**
 * A {@code NETLINK_NETFILTER} socket through jnr-ffi: sends nf_tables batches (one transaction
 * each) and collects their acknowledgements, and runs dumps. Opened in this process's network
 * namespace or in a named one (/run/netns/NAME), so tests can aim it at a namespace of their own.
 * Not thread-safe: one reconciler thread uses it.
 */
public final class NfSocket implements AutoCloseable {
    public static final int NETLINK_NETFILTER = 12;
    static final int NLMSG_ERROR = 2;
    static final int NLMSG_DONE = 3;
    static final int NLM_F_DUMP_INTR = 0x10;
    /** Large sends (a full sync's elements) need a send buffer at least that large. */
    private static final int MIN_BUFFER = 1 << 20;
    private static final int RECEIVE_TIMEOUT_SECONDS = 60;

    private static volatile LibC libc;

    private final LibC c;
    private final Runtime runtime;
    private final String where;
    /**
     * jnr-ffi copies a whole array across on every call, so it is kept small: the kernel's dump
     * datagrams stay within 32 KiB (it sizes them by the largest read, capped there).
     */
    private final byte[] receive = new byte[64 * 1024];
    private static final int MSG_TRUNC = 0x20;
    private int fd;
    private int sendBuffer;
    private int seq = (int) (System.nanoTime() & 0x3fffffff);
    /** How long the last batch's send took: the kernel runs the whole transaction inside it. */
    private long lastSendNanos;

    public long lastSendNanos() {
        return lastSendNanos;
    }

    private NfSocket(LibC c, int fd, String where) {
        this.c = c;
        this.runtime = Runtime.getRuntime(c);
        this.fd = fd;
        this.where = where;
    }

    /**
     * Opens a socket in the current network namespace ({@code netns} null) or in /run/netns/NETNS.
     * The namespace is entered by a short-lived thread of its own, which creates the socket and
     * ends: no other thread of this process ever changes namespace.
     */
    public static NfSocket open(String netns) throws NetlinkException {
        LibC c = libc();
        Runtime rt = Runtime.getRuntime(c);
        String where = netns == null ? "this network namespace" : "network namespace " + netns;
        int fd;
        if (netns == null) {
            fd = c.socket(LibC.AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, NETLINK_NETFILTER);
            if (fd < 0) {
                throw new NetlinkException("cannot open a netfilter netlink socket in " + where + ": "
                        + errnoText(rt.getLastError()), rt.getLastError());
            }
        } else {
            fd = openInNamespace(c, netns);
        }
        NfSocket s = new NfSocket(c, fd, where);
        try {
            byte[] addr = new byte[12];
            addr[0] = (byte) LibC.AF_NETLINK;
            if (c.bind(fd, addr, addr.length) != 0) {
                throw new NetlinkException("cannot bind the netfilter netlink socket in " + where + ": "
                        + errnoText(rt.getLastError()), rt.getLastError());
            }
            s.setInt(LibC.SOL_SOCKET, LibC.SO_RCVBUFFORCE, 8 << 20);
            s.setBuffer(MIN_BUFFER);
            s.setInt(LibC.SOL_NETLINK, LibC.NETLINK_CAP_ACK, 1);
            s.setInt(LibC.SOL_NETLINK, LibC.NETLINK_EXT_ACK, 1);
            byte[] tv = new byte[16];
            ByteBuffer.wrap(tv).order(ByteOrder.nativeOrder()).putLong(RECEIVE_TIMEOUT_SECONDS).putLong(0);
            c.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVTIMEO, tv, tv.length);
            return s;
        } catch (NetlinkException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private static int openInNamespace(LibC c, String netns) throws NetlinkException {
        if (netns.contains("/") || netns.isEmpty()) {
            throw new NetlinkException("network namespace name: \"" + netns + "\" (expected: a name under /run/netns)", 0);
        }
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = new Thread(() -> {
            Runtime rt = Runtime.getRuntime(c);
            int nsfd = c.open("/run/netns/" + netns, LibC.O_RDONLY | LibC.O_CLOEXEC);
            if (nsfd < 0) {
                result.set(new NetlinkException("cannot open /run/netns/" + netns + ": " + errnoText(rt.getLastError()),
                        rt.getLastError()));
                return;
            }
            try {
                if (c.setns(nsfd, LibC.CLONE_NEWNET) != 0) {
                    result.set(new NetlinkException("cannot enter network namespace " + netns + ": "
                            + errnoText(rt.getLastError()), rt.getLastError()));
                    return;
                }
                int fd = c.socket(LibC.AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, NETLINK_NETFILTER);
                result.set(fd >= 0 ? (Object) fd : new NetlinkException("cannot open a netfilter netlink socket in "
                        + netns + ": " + errnoText(rt.getLastError()), rt.getLastError()));
            } finally {
                c.close(nsfd);
            }
        }, "netns-socket-" + netns);
        t.setDaemon(true);
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NetlinkException("interrupted while opening a socket in network namespace " + netns, 0);
        }
        Object r = result.get();
        if (r instanceof Integer fd) {
            return fd;
        }
        throw r instanceof NetlinkException e ? e
                : new NetlinkException("cannot open a socket in network namespace " + netns, 0);
    }

    private static LibC libc() {
        LibC l = libc;
        if (l == null) {
            synchronized (NfSocket.class) {
                if (libc == null) {
                    libc = LibraryLoader.create(LibC.class).load("c");
                }
                l = libc;
            }
        }
        return l;
    }

    /** A fresh sequence number. */
    public int nextSeq() {
        seq = (seq + 1) & 0x7fffffff;
        return seq;
    }

    /**
     * Sends one batch (one transaction) and waits for the answer to every message of
     * {@code acked}. Throws the first error the kernel reported, described by {@code describe}.
     */
    public void transact(byte[] datagram, int length, Set<Integer> acked, int batchSeq, IntFunction<String> describe)
            throws NetlinkException {
        if (length + 4096 > sendBuffer) {
            setBuffer(length + 4096);
        }
        long t0 = System.nanoTime();
        send(datagram, length);
        lastSendNanos = System.nanoTime() - t0;
        Set<Integer> pending = new HashSet<>(acked);
        NetlinkException first = null;
        while (!pending.isEmpty()) {
            int n = recv();
            ByteBuffer b = ByteBuffer.wrap(receive, 0, n).order(ByteOrder.nativeOrder());
            while (b.remaining() >= 16) {
                int start = b.position();
                int len = b.getInt(start);
                int type = b.getShort(start + 4) & 0xffff;
                int mseq = b.getInt(start + 8);
                if (len < 16 || start + len > n) {
                    throw new NetlinkException("malformed netlink reply of " + len + " bytes in " + where, 0);
                }
                if (type == NLMSG_ERROR) {
                    int err = b.getInt(start + 16);
                    if (err != 0 && first == null) {
                        first = new NetlinkException(describe.apply(mseq) + ": " + errnoText(-err)
                                + extAck(b, start, len), -err);
                    }
                    pending.remove(mseq);
                    if (mseq == batchSeq) {
                        pending.clear(); // the whole batch was refused at its start
                    }
                }
                b.position(start + align(len));
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Runs a dump: every reply message (header included) until DONE. Restarts an interrupted dump a few times. */
    public List<ByteBuffer> dump(byte[] request, int length, int requestSeq, String what) throws NetlinkException {
        for (int attempt = 0; ; attempt++) {
            List<ByteBuffer> out = new ArrayList<>();
            boolean interrupted = false;
            send(request, length);
            boolean done = false;
            while (!done) {
                int n = recv();
                ByteBuffer b = ByteBuffer.wrap(receive, 0, n).order(ByteOrder.nativeOrder());
                while (b.remaining() >= 16) {
                    int start = b.position();
                    int len = b.getInt(start);
                    int type = b.getShort(start + 4) & 0xffff;
                    int flags = b.getShort(start + 6) & 0xffff;
                    int mseq = b.getInt(start + 8);
                    if (len < 16 || start + len > n) {
                        throw new NetlinkException("malformed netlink reply of " + len + " bytes in " + where, 0);
                    }
                    if (mseq == requestSeq) {
                        interrupted |= (flags & NLM_F_DUMP_INTR) != 0;
                        if (type == NLMSG_DONE) {
                            done = true;
                        } else if (type == NLMSG_ERROR) {
                            int err = b.getInt(start + 16);
                            if (err == 0) {
                                done = true;
                            } else {
                                throw new NetlinkException(what + ": " + errnoText(-err) + extAck(b, start, len), -err);
                            }
                        } else {
                            byte[] copy = new byte[len];
                            System.arraycopy(receive, start, copy, 0, len);
                            out.add(ByteBuffer.wrap(copy).order(ByteOrder.nativeOrder()));
                        }
                    }
                    b.position(start + align(len));
                }
            }
            if (!interrupted) {
                return out;
            }
            if (attempt >= 5) {
                throw new NetlinkException(what + ": the table kept changing during the dump", 0);
            }
        }
    }

    private void send(byte[] datagram, int length) throws NetlinkException {
        // Only the bytes used: jnr-ffi would copy the whole (possibly much larger) array.
        byte[] exact = datagram.length == length ? datagram : java.util.Arrays.copyOf(datagram, length);
        long sent = c.send(fd, exact, length, 0);
        if (sent != length) {
            int errno = runtime.getLastError();
            throw new NetlinkException("cannot send " + length + " bytes to netfilter in " + where + ": "
                    + errnoText(errno), errno);
        }
    }

    private int recv() throws NetlinkException {
        while (true) {
            long n = c.recv(fd, receive, receive.length, MSG_TRUNC);
            if (n > receive.length) {
                throw new NetlinkException("a netfilter reply of " + n + " bytes in " + where + " (expected: at most "
                        + receive.length + ")", 0);
            }
            if (n > 0) {
                return (int) n;
            }
            int errno = runtime.getLastError();
            if (n < 0 && errno == LibC.EINTR) {
                continue;
            }
            throw new NetlinkException("no answer from netfilter in " + where + " within " + RECEIVE_TIMEOUT_SECONDS
                    + " s: " + errnoText(errno), errno);
        }
    }

    /** The kernel's error text (NLMSGERR_ATTR_MSG) after the echoed header, when it sent one. */
    private static String extAck(ByteBuffer b, int start, int len) {
        // nlmsgerr: int error + the request's nlmsghdr (16 bytes; payload cut with CAP_ACK), then TLVs.
        int p = start + 16 + 4 + 16;
        int end = start + len;
        while (p + 4 <= end) {
            int alen = b.getShort(p) & 0xffff;
            int atype = b.getShort(p + 2) & 0xffff;
            if (alen < 4 || p + alen > end) {
                break;
            }
            if (atype == 1) {
                int l = alen - 4;
                while (l > 0 && b.get(p + 4 + l - 1) == 0) {
                    l--;
                }
                return " (" + new String(b.array(), b.arrayOffset() + p + 4, l, StandardCharsets.UTF_8) + ")";
            }
            p += align(alen);
        }
        return "";
    }

    static int align(int n) {
        return (n + 3) & ~3;
    }

    private void setBuffer(int bytes) throws NetlinkException {
        setInt(LibC.SOL_SOCKET, LibC.SO_SNDBUFFORCE, bytes);
        sendBuffer = bytes;
    }

    private void setInt(int level, int option, int value) throws NetlinkException {
        byte[] v = new byte[4];
        ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).putInt(value);
        if (c.setsockopt(fd, level, option, v, 4) != 0) {
            int errno = runtime.getLastError();
            throw new NetlinkException("cannot set socket option " + option + " on the netfilter socket in " + where
                    + ": " + errnoText(errno), errno);
        }
    }

    static String errnoText(int errno) {
        return switch (errno) {
            case 1 -> "operation not permitted (EPERM)";
            case 2 -> "no such object (ENOENT)";
            case 11 -> "timed out (EAGAIN)";
            case 12 -> "out of memory (ENOMEM)";
            case 16 -> "object in use (EBUSY)";
            case 17 -> "object exists (EEXIST)";
            case 22 -> "invalid argument (EINVAL)";
            case 23 -> "too many elements (ENFILE)";
            case 90 -> "message too long (EMSGSIZE)";
            case 93 -> "protocol not supported (EPROTONOSUPPORT)";
            case 95 -> "not supported (EOPNOTSUPP)";
            default -> "errno " + errno;
        };
    }

    @Override
    public void close() {
        if (fd >= 0) {
            c.close(fd);
            fd = -1;
        }
    }
}
