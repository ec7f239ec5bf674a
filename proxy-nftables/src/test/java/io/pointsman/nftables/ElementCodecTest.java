package io.pointsman.nftables;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Element text to nf_tables bytes and back: the layouts this backend's sets use. */
class ElementCodecTest {
    private static final List<String> ADDR_KEY = List.of("ipv4_addr", "inet_proto", "inet_service");
    private static final List<String> ENDPOINT6 = List.of("ipv6_addr", "inet_service");

    private static String hex(List<String> types, String text) {
        byte[] out = new byte[64];
        int n = ElementCodec.encode(ElementCodec.Layout.of(types), text, out, 0);
        assertThat(n).isEqualTo(ElementCodec.length(types));
        // The slow path (list of types) writes the same bytes.
        byte[] slow = new byte[64];
        assertThat(ElementCodec.encode(types, text, slow, 0)).isEqualTo(n);
        assertThat(HexFormat.of().formatHex(slow, 0, n)).isEqualTo(HexFormat.of().formatHex(out, 0, n));
        assertThat(ElementCodec.decode(types, out, 0, n)).isEqualTo(text);
        return HexFormat.of().formatHex(out, 0, n);
    }

    @Test
    void concatenatedFieldsArePaddedToRegisters() {
        // 10.96.0.1, tcp (6) in 4 bytes, port 80 big endian in 4 bytes: the layout nft's own batch shows.
        assertThat(hex(ADDR_KEY, "10.96.0.1 . tcp . 80")).isEqualTo("0a600001" + "06000000" + "00500000");
        assertThat(hex(List.of("inet_proto", "inet_service"), "udp . 30053")).isEqualTo("11000000" + "75650000");
        assertThat(hex(List.of("ipv4_addr", "ipv4_addr"), "10.1.0.2 . 10.1.0.2")).isEqualTo("0a010002" + "0a010002");
        assertThat(hex(ADDR_KEY, "192.0.2.9 . sctp . 3868")).startsWith("c0000209" + "84000000");
    }

    @Test
    void singleFieldsAreNotPadded() {
        assertThat(hex(List.of("inet_service"), "32000")).isEqualTo("7d00");
        assertThat(hex(List.of("ipv4_addr"), "172.30.0.41")).isEqualTo("ac1e0029");
    }

    @Test
    void ipv6IsCanonicalOnTheWayBack() {
        assertThat(hex(ENDPOINT6, "fd00:10::1 . 8080")).isEqualTo("fd000010000000000000000000000001" + "1f900000");
        byte[] out = new byte[32];
        int n = ElementCodec.encode(ElementCodec.Layout.of(ENDPOINT6), "FD00:10:0::1 . 8080", out, 0);
        assertThat(ElementCodec.decode(ENDPOINT6, out, 0, n)).isEqualTo("fd00:10::1 . 8080");
    }

    @Test
    void badElementsAreRefusedSayingWhatWasExpected() {
        byte[] out = new byte[64];
        ElementCodec.Layout layout = ElementCodec.Layout.of(ADDR_KEY);
        assertThatThrownBy(() -> ElementCodec.encode(layout, "10.96.0.1 . tcp", out, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: 3");
        assertThatThrownBy(() -> ElementCodec.encode(layout, "10.96.0.1 . tcp . 70000", out, 0))
                .hasMessageContaining("port 70000 (expected: 0-65535)");
        assertThatThrownBy(() -> ElementCodec.encode(layout, "fd00::1 . tcp . 80", out, 0))
                .hasMessageContaining("expected: an IPv4 address");
        assertThatThrownBy(() -> ElementCodec.encode(layout, "10.96.0.1 . icmp . 80", out, 0))
                .hasMessageContaining("protocol: icmp (expected: tcp, udp, sctp or 0-255)");
        assertThatThrownBy(() -> ElementCodec.decode(ADDR_KEY, out, 0, 8)).hasMessageContaining("expected: 12");
    }

    @Test
    void intervalAndDynamicSetsStayWithNft() {
        Ruleset r = new Ruleset(NftOptions.from(Fixtures.config(), io.pointsman.core.model.IpFamily.IPv4));
        for (SetDef def : r.staticSets()) {
            boolean expected = !def.flags().contains("interval");
            assertThat(ElementCodec.supported(def)).as(def.name()).isEqualTo(expected);
        }
        assertThat(ElementCodec.supported(r.slotMap(Ruleset.LbFamily.NODEPORT, 3))).isTrue();
        assertThat(NetlinkTables.signature(r.slotMap(Ruleset.LbFamily.ADDRESS, 0)))
                .isEqualTo("nl key=" + ((7 << 12) | (12 << 6) | 13) + "/12 data=" + ((7 << 6) | 13) + "/8 flags=8 timeout=0");
    }
}
