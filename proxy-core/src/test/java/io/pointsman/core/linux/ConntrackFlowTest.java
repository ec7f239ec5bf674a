package io.pointsman.core.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import org.junit.jupiter.api.Test;

class ConntrackFlowTest {

    @Test
    void parsesTheOriginalAndTheReplyTuple() {
        ConntrackFlow f = ConntrackFlow.parse(IpFamily.IPv4, "udp      17 29 src=192.168.77.2 dst=10.96.0.10 sport=40001 "
                + "dport=53 [UNREPLIED] src=10.244.1.2 dst=192.168.77.2 sport=5353 dport=40001 mark=0 use=1");
        assertThat(f).isEqualTo(new ConntrackFlow(IpFamily.IPv4, Protocol.UDP, "192.168.77.2", "10.96.0.10", 40001, 53,
                "10.244.1.2", "192.168.77.2", 5353, 40001));
        assertThat(f.natted()).isTrue();
        assertThat(f).hasToString("udp 192.168.77.2:40001 -> 10.96.0.10:53 (reply from 10.244.1.2:5353)");
    }

    @Test
    void parsesExtendedLinesAndCanonicalisesIpv6() {
        ConntrackFlow f = ConntrackFlow.parse(IpFamily.IPv6, "ipv6     10 udp      17 118 src=fd00:77:0:0::2 "
                + "dst=fd00:96::20 sport=5000 dport=53 src=fd00:244:1::2 dst=fd00:77::2 sport=5353 dport=5000 [ASSURED] "
                + "mark=0 use=1 id=1234");
        assertThat(f.origSrc()).isEqualTo("fd00:77::2");
        assertThat(f.replySrc()).isEqualTo("fd00:244:1::2");
        assertThat(f.origDstPort()).isEqualTo(53);
        assertThat(f.replySrcPort()).isEqualTo(5353);
    }

    @Test
    void aFlowThatWasNotRewrittenIsNotNatted() {
        ConntrackFlow f = ConntrackFlow.parse(IpFamily.IPv4, "udp 17 20 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 "
                + "src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 mark=0 use=1");
        assertThat(f.natted()).isFalse();
    }

    @Test
    void otherLinesAreSkipped() {
        assertThat(ConntrackFlow.parse(IpFamily.IPv4, "")).isNull();
        assertThat(ConntrackFlow.parse(IpFamily.IPv4, "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown."))
                .isNull();
        assertThat(ConntrackFlow.parse(IpFamily.IPv4, "icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=7 "
                + "src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=7 mark=0 use=1")).isNull();
        assertThat(ConntrackFlow.parse(IpFamily.IPv4, "udp 17 29 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2")).isNull();
        assertThat(ConntrackFlow.parse(IpFamily.IPv4, "udp 17 29 src=host dst=10.0.0.2 sport=1 dport=2 "
                + "src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1")).isNull();
    }

    @Test
    void filtersRefuseMixedFamiliesAndBadPorts() {
        assertThatThrownBy(() -> new Conntrack.Filter(IpFamily.IPv4, Protocol.UDP, "10.96.0.1", 53, "fd00::1", 53))
                .hasMessageContaining("expected: IPv4 addresses");
        assertThatThrownBy(() -> new Conntrack.Filter(IpFamily.IPv4, Protocol.UDP, "10.96.0.1", 0, "10.0.0.1", 53))
                .hasMessage("origDstPort: 0 (expected: 1-65535)");
        assertThatThrownBy(() -> new Conntrack.Filter(IpFamily.IPv4, Protocol.UDP, "-L", 53, "10.0.0.1", 53))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theDryRunReadsNothingAndDeletesNothing() throws ConntrackException {
        DryRunConntrack dry = new DryRunConntrack();
        assertThat(dry.dryRun()).isTrue();
        assertThat(dry.list(IpFamily.IPv4, Protocol.UDP)).isEmpty();
        assertThat(dry.delete(new Conntrack.Filter(IpFamily.IPv4, Protocol.UDP, "10.96.0.10", 53, "10.244.1.2", 5353)))
                .isZero();
    }
}
