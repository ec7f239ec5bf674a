package io.pointsman.nftables;

import io.pointsman.core.model.IpFamily;
import io.pointsman.nftables.netlink.MessageWriter;
import io.pointsman.nftables.netlink.NetlinkException;
import io.pointsman.nftables.netlink.NfSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * nf_tables straight through netlink, for what the {@code nft} command does slowly at scale:
 * writing element changes (one batch, one transaction, no process to start and no cache to load)
 * and reading a table back (set declarations, chains, rule counts and elements). Structure (sets,
 * chains, rules) is still written with {@code nft}.
 */
final class NetlinkTables implements AutoCloseable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(NetlinkTables.class);
    private static final int SUBSYS = 10; // NFNL_SUBSYS_NFTABLES
    private static final int BATCH_BEGIN = 16;
    private static final int BATCH_END = 17;
    private static final int GETTABLE = 1;
    private static final int GETCHAIN = 4;
    private static final int GETRULE = 7;
    private static final int GETSET = 10;
    private static final int NEWSETELEM = 12;
    private static final int GETSETELEM = 13;
    private static final int DELSETELEM = 14;
    private static final int SET_ANONYMOUS = 0x1;
    private static final int SET_MAP = 0x8;
    private static final int SET_INTERVAL = 0x4;
    private static final int SET_TIMEOUT = 0x10;
    private static final int SET_EVAL = 0x20;
    private static final int DATA_VERDICT = 0xffffff00;
    private static final int NFT_JUMP = -3;
    private static final int NFT_GOTO = -4;
    /** Keep each message's element list well inside the 16-bit attribute length. */
    private static final int MAX_NEST = 60_000;

    private final NfSocket socket;
    private final MessageWriter w = new MessageWriter(1 << 16);
    private final byte[] scratch = new byte[64];

    NetlinkTables(NfSocket socket) {
        this.socket = socket;
    }

    /** Opens a socket in this process's network namespace ({@code netns} null) or in /run/netns/NETNS. */
    static NetlinkTables open(String netns) throws NetlinkException {
        return new NetlinkTables(NfSocket.open(netns));
    }

    static int nfproto(IpFamily family) {
        return family == IpFamily.IPv4 ? 2 : 10;
    }

    /** Element deletions and additions of one family's table. */
    record ElementChanges(IpFamily family, String table, Map<String, SetDef> sets, Map<String, List<String>> deletes,
                          Map<String, Map<String, String>> adds) {
    }

    /** Applies every change in one batch: one transaction, all or nothing. Deletions first. */
    void apply(List<ElementChanges> changes) throws NetlinkException {
        long started = System.nanoTime();
        w.reset();
        int batchSeq = socket.nextSeq();
        w.end(w.begin(BATCH_BEGIN, MessageWriter.NLM_F_REQUEST, batchSeq, 0, SUBSYS));
        Set<Integer> acked = new HashSet<>();
        Map<Integer, String> what = new HashMap<>();
        for (ElementChanges c : changes) {
            for (Map.Entry<String, List<String>> e : c.deletes().entrySet()) {
                SetDef def = c.sets().get(e.getKey());
                ElementCodec.Layout keyTypes = ElementCodec.Layout.of(ElementCodec.keyTypes(def));
                int msg = -1;
                int list = -1;
                for (String key : e.getValue()) {
                    if (msg < 0) {
                        int seq = socket.nextSeq();
                        acked.add(seq);
                        what.put(seq, "delete elements of " + c.family() + " set " + def.name());
                        msg = w.begin((SUBSYS << 8) | DELSETELEM, MessageWriter.NLM_F_REQUEST | MessageWriter.NLM_F_ACK,
                                seq, nfproto(c.family()), 0);
                        w.attrString(1, c.table());
                        w.attrString(2, def.name());
                        list = w.nest(3);
                    }
                    int el = w.nest(1);
                    value(1, keyTypes, key);
                    w.endNest(el);
                    if (w.since(list) > MAX_NEST) {
                        w.endNest(list);
                        w.end(msg);
                        msg = -1;
                    }
                }
                if (msg >= 0) {
                    w.endNest(list);
                    w.end(msg);
                }
            }
        }
        for (ElementChanges c : changes) {
            for (Map.Entry<String, Map<String, String>> e : c.adds().entrySet()) {
                SetDef def = c.sets().get(e.getKey());
                ElementCodec.Layout keyTypes = ElementCodec.Layout.of(ElementCodec.keyTypes(def));
                List<String> dataList = ElementCodec.dataTypes(def);
                boolean verdict = dataList != null && dataList.get(0).equals("verdict");
                ElementCodec.Layout dataTypes = dataList == null || verdict ? null : ElementCodec.Layout.of(dataList);
                int msg = -1;
                int list = -1;
                for (Map.Entry<String, String> el : e.getValue().entrySet()) {
                    if (msg < 0) {
                        int seq = socket.nextSeq();
                        acked.add(seq);
                        what.put(seq, "add elements to " + c.family() + " set " + def.name());
                        msg = w.begin((SUBSYS << 8) | NEWSETELEM,
                                MessageWriter.NLM_F_REQUEST | MessageWriter.NLM_F_ACK | MessageWriter.NLM_F_CREATE,
                                seq, nfproto(c.family()), 0);
                        w.attrString(1, c.table());
                        w.attrString(2, def.name());
                        list = w.nest(3);
                    }
                    int n = w.nest(1);
                    value(1, keyTypes, el.getKey());
                    if (verdict) {
                        verdict(el.getValue());
                    } else if (dataTypes != null) {
                        value(2, dataTypes, el.getValue());
                    }
                    w.endNest(n);
                    if (w.since(list) > MAX_NEST) {
                        w.endNest(list);
                        w.end(msg);
                        msg = -1;
                    }
                }
                if (msg >= 0) {
                    w.endNest(list);
                    w.end(msg);
                }
            }
        }
        w.end(w.begin(BATCH_END, MessageWriter.NLM_F_REQUEST, socket.nextSeq(), 0, SUBSYS));
        if (acked.isEmpty()) {
            return;
        }
        long encoded = System.nanoTime();
        socket.transact(w.buffer(), w.length(), acked, batchSeq, seq -> what.getOrDefault(seq, "netfilter batch"));
        if (log.isDebugEnabled()) {
            log.debug("netlink transaction: {} messages, {} bytes, encoded in {} ms, sent (the kernel's commit) in {} us,"
                    + " acknowledged after {} us", acked.size(), w.length(), (encoded - started) / 1_000_000,
                    socket.lastSendNanos() / 1000, (System.nanoTime() - encoded) / 1000);
        }
    }

    /** NFTA_SET_ELEM_KEY or _DATA holding NFTA_DATA_VALUE. */
    private void value(int attr, ElementCodec.Layout types, String text) {
        int len = ElementCodec.encode(types, text, scratch, 0);
        int nest = w.nest(attr);
        w.attrBytes(1, scratch, 0, len);
        w.endNest(nest);
    }

    private void verdict(String text) {
        int data = w.nest(2);
        int v = w.nest(2);
        if (text.startsWith("goto ") || text.startsWith("jump ")) {
            w.attrBe32(1, text.startsWith("goto ") ? NFT_GOTO : NFT_JUMP);
            w.attrString(2, text.substring(5));
        } else {
            w.attrBe32(1, switch (text) {
                case "drop" -> 0;
                case "accept" -> 1;
                default -> throw new IllegalArgumentException("verdict: " + text + " (expected: goto/jump CHAIN, drop, accept)");
            });
        }
        w.endNest(v);
        w.endNest(data);
    }

    /** The signature of a set as netlink reports it; see {@link #signature(SetDef)} for the wanted one. */
    static String signature(int keyType, int keyLen, Integer dataType, int dataLen, int flags, long timeoutMs) {
        String data = dataType == null ? "-" : dataType == DATA_VERDICT ? "verdict" : dataType + "/" + dataLen;
        return "nl key=" + keyType + "/" + keyLen + " data=" + data + " flags="
                + (flags & (SET_MAP | SET_INTERVAL | SET_TIMEOUT | SET_EVAL)) + " timeout=" + timeoutMs;
    }

    /** What netlink reports for a set declared as {@code def}. */
    static String signature(SetDef def) {
        List<String> key = ElementCodec.keyTypes(def);
        List<String> data = ElementCodec.dataTypes(def);
        Integer dataType = data == null ? null : data.get(0).equals("verdict") ? DATA_VERDICT : ElementCodec.concatTypeId(data);
        int flags = (data != null ? SET_MAP : 0) | (def.flags().contains("interval") ? SET_INTERVAL : 0)
                | (def.flags().contains("timeout") ? SET_TIMEOUT : 0) | (def.dynamic() ? SET_EVAL : 0);
        return signature(ElementCodec.concatTypeId(key), ElementCodec.length(key), dataType,
                data == null || dataType == DATA_VERDICT ? 0 : ElementCodec.length(data), flags,
                def.timeoutSeconds() * 1000L);
    }

    /**
     * The table as the kernel holds it, or null when there is none: set signatures, chains with
     * their rule counts (texts unknown), and the elements of every set {@code wanted} declares the
     * same way and whose values are plain; the others are listed in {@link Table#unknown}.
     */
    Table read(IpFamily family, String table, Map<String, SetDef> wanted) throws NetlinkException {
        int proto = nfproto(family);
        boolean exists = false;
        for (ByteBuffer m : dump(GETTABLE, proto, null, null, "list " + family + " tables")) {
            if (table.equals(str(attrs(m).get(1)))) {
                exists = true;
            }
        }
        if (!exists) {
            return null;
        }
        Table t = new Table();
        for (ByteBuffer m : dump(GETSET, proto, table, null, "list sets of " + family + " table " + table)) {
            Map<Integer, int[]> a = attrs(m);
            if (!table.equals(str(a.get(1)))) {
                continue;
            }
            String name = str(a.get(2));
            int flags = a.containsKey(3) ? be32(a.get(3)) : 0;
            if ((flags & SET_ANONYMOUS) != 0) {
                continue; // belongs to a rule ("{ tcp, udp, sctp }"), goes with it
            }
            Integer dataType = a.containsKey(6) ? be32(a.get(6)) : null;
            long timeout = a.containsKey(11) ? be64(a.get(11)) : 0;
            String sig = signature(be32(a.get(4)), be32(a.get(5)), dataType, a.containsKey(7) ? be32(a.get(7)) : 0,
                    flags, timeout);
            t.signatures.put(name, sig);
            List<String> f = new ArrayList<>();
            if ((flags & SET_INTERVAL) != 0) {
                f.add("interval");
            }
            if ((flags & SET_TIMEOUT) != 0) {
                f.add("timeout");
            }
            t.sets.put(name, new SetDef(name, "?", (flags & SET_MAP) != 0 ? "?" : null, false, f, (int) (timeout / 1000), ""));
        }
        Map<String, Integer> rules = new HashMap<>();
        List<String> chains = new ArrayList<>();
        for (ByteBuffer m : dump(GETCHAIN, proto, table, null, "list chains of " + family + " table " + table)) {
            Map<Integer, int[]> a = attrs(m);
            if (table.equals(str(a.get(1)))) {
                chains.add(str(a.get(3)));
            }
        }
        for (ByteBuffer m : dump(GETRULE, proto, table, null, "list rules of " + family + " table " + table)) {
            Map<Integer, int[]> a = attrs(m);
            if (table.equals(str(a.get(1)))) {
                rules.merge(str(a.get(2)), 1, Integer::sum);
            }
        }
        for (String c : chains) {
            t.chains.put(c, new ChainDef(c, null, java.util.Collections.nCopies(rules.getOrDefault(c, 0), "?")));
        }
        for (Map.Entry<String, String> e : t.signatures.entrySet()) {
            String name = e.getKey();
            SetDef want = wanted.get(name);
            if (want == null || !e.getValue().equals(signature(want))) {
                continue; // deleted or re-created anyway
            }
            if (want.dynamic()) {
                continue;
            }
            if (!ElementCodec.supported(want)) {
                t.unknown.add(name);
                continue;
            }
            Map<String, String> elements = readElements(proto, table, want);
            if (!elements.isEmpty()) {
                t.elements.put(name, elements);
            }
        }
        return t;
    }

    private Map<String, String> readElements(int proto, String table, SetDef def) throws NetlinkException {
        List<String> keyTypes = ElementCodec.keyTypes(def);
        List<String> dataTypes = ElementCodec.dataTypes(def);
        Map<String, String> out = new HashMap<>();
        for (ByteBuffer m : dump(GETSETELEM, proto, table, def.name(), "list elements of set " + def.name())) {
            int[] list = attrs(m).get(3);
            if (list == null) {
                continue;
            }
            for (int[] el : children(m, list)) {
                Map<Integer, int[]> ea = attrs(m, el[0], el[1]);
                int[] key = attrs(m, ea.get(1)).get(1);
                String k = ElementCodec.decode(keyTypes, m.array(), key[0], key[1]);
                String v = "";
                int[] data = ea.get(2);
                if (dataTypes != null && data != null) {
                    Map<Integer, int[]> da = attrs(m, data);
                    if (da.containsKey(2)) {
                        Map<Integer, int[]> va = attrs(m, da.get(2));
                        int code = be32(m, va.get(1));
                        v = switch (code) {
                            case NFT_GOTO -> "goto " + str(m, va.get(2));
                            case NFT_JUMP -> "jump " + str(m, va.get(2));
                            case 0 -> "drop";
                            case 1 -> "accept";
                            default -> "verdict " + code;
                        };
                    } else {
                        int[] value = da.get(1);
                        v = ElementCodec.decode(dataTypes, m.array(), value[0], value[1]);
                    }
                }
                out.put(k, v);
            }
        }
        return out;
    }

    private List<ByteBuffer> dump(int msgType, int proto, String table, String set, String what) throws NetlinkException {
        w.reset();
        int seq = socket.nextSeq();
        int msg = w.begin((SUBSYS << 8) | msgType, MessageWriter.NLM_F_REQUEST | MessageWriter.NLM_F_DUMP, seq, proto, 0);
        if (table != null) {
            w.attrString(1, table); // NFTA_*_TABLE is attribute 1 for sets, chains, rules and element lists
        }
        if (set != null) {
            w.attrString(2, set);
        }
        w.end(msg);
        current = null;
        List<ByteBuffer> replies = socket.dump(w.buffer(), w.length(), seq, what);
        return replies;
    }

    // ---- attribute parsing over one reply message (header 16 bytes + nfgenmsg 4) ----

    private ByteBuffer current;

    /** Top-level attributes of a reply: type → {offset of value, length of value}. */
    private Map<Integer, int[]> attrs(ByteBuffer m) {
        current = m;
        return attrs(m, 20, m.getInt(0) - 20);
    }

    private Map<Integer, int[]> attrs(ByteBuffer m, int[] span) {
        return attrs(m, span[0], span[1]);
    }

    private static Map<Integer, int[]> attrs(ByteBuffer m, int off, int len) {
        Map<Integer, int[]> out = new HashMap<>();
        int p = off;
        int end = off + len;
        while (p + 4 <= end) {
            int alen = m.getShort(p) & 0xffff;
            int type = m.getShort(p + 2) & 0x3fff;
            if (alen < 4 || p + alen > end) {
                break;
            }
            out.put(type, new int[] {p + 4, alen - 4});
            p += (alen + 3) & ~3;
        }
        return out;
    }

    /** The nested attributes inside {@code span}, in order (the list of elements). */
    private static List<int[]> children(ByteBuffer m, int[] span) {
        List<int[]> out = new ArrayList<>();
        int p = span[0];
        int end = span[0] + span[1];
        while (p + 4 <= end) {
            int alen = m.getShort(p) & 0xffff;
            if (alen < 4 || p + alen > end) {
                break;
            }
            out.add(new int[] {p + 4, alen - 4});
            p += (alen + 3) & ~3;
        }
        return out;
    }

    private String str(int[] span) {
        return span == null ? null : str(current, span);
    }

    private static String str(ByteBuffer m, int[] span) {
        int len = span[1];
        while (len > 0 && m.get(span[0] + len - 1) == 0) {
            len--;
        }
        return new String(m.array(), span[0], len, StandardCharsets.UTF_8);
    }

    private int be32(int[] span) {
        return be32(current, span);
    }

    private static int be32(ByteBuffer m, int[] span) {
        byte[] a = m.array();
        int p = span[0];
        return ((a[p] & 0xff) << 24) | ((a[p + 1] & 0xff) << 16) | ((a[p + 2] & 0xff) << 8) | (a[p + 3] & 0xff);
    }

    private long be64(int[] span) {
        byte[] a = current.array();
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (a[span[0] + i] & 0xff);
        }
        return v;
    }

    @Override
    public void close() {
        socket.close();
    }
}
