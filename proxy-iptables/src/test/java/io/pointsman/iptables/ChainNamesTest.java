package io.pointsman.iptables;

import static io.pointsman.iptables.Fixtures.name;
import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ServicePortName;
import org.junit.jupiter.api.Test;

class ChainNamesTest {

    @Test
    void serviceChainsHashNameAndProtocolAsUpstream() {
        ServicePortName svc1 = name("ns1", "svc1", "p80");
        assertThat(ChainNames.serviceChain(svc1)).isEqualTo("KUBE-SVC-XPGD46QRK7WJZT7O");
        assertThat(ChainNames.localChain(svc1)).isEqualTo("KUBE-SVL-XPGD46QRK7WJZT7O");
        assertThat(ChainNames.externalChain(svc1)).isEqualTo("KUBE-EXT-XPGD46QRK7WJZT7O");
        assertThat(ChainNames.firewallChain(svc1)).isEqualTo("KUBE-FW-XPGD46QRK7WJZT7O");
        // More hashes visible in the goldens (01, 02).
        assertThat(ChainNames.serviceChain(name("ns2", "svc2", "p80"))).isEqualTo("KUBE-SVC-GNZBNJ2PO5MGZ6GT");
        assertThat(ChainNames.serviceChain(name("ns5", "svc5", "p80"))).isEqualTo("KUBE-SVC-NUKIZ6OKUXPJNT4C");
        assertThat(ChainNames.serviceChain(name("ns2", "svc2", "p8080"))).isEqualTo("KUBE-SVC-2VJB64SDSIJUP5T6");
    }

    @Test
    void endpointChainsAddTheEndpointToTheHash() {
        assertThat(ChainNames.endpointChain(name("ns1", "svc1", "p80"), "10.180.0.1:80"))
                .isEqualTo("KUBE-SEP-SXIVWICOYRO3J4NJ");
        assertThat(ChainNames.endpointChain(name("ns4", "svc4", "p80"), "10.180.0.5:80"))
                .isEqualTo("KUBE-SEP-C6EBXVWJJZMIWKLZ");
        assertThat(ChainNames.endpointChain(name("ns5", "svc5", "p80"), "10.180.0.3:80"))
                .isEqualTo("KUBE-SEP-I77PXRDZVX7PMWMN");
        assertThat(ChainNames.endpointChain(name("ns3", "svc3", "p80"), "10.0.3.2:80"))
                .isEqualTo("KUBE-SEP-DKCFIS26GWF2WLWC");
    }

    @Test
    void protocolChangesTheHash() {
        ServicePortName tcp = new ServicePortName("ns1", "svc1", "p80", Protocol.TCP);
        ServicePortName udp = new ServicePortName("ns1", "svc1", "p80", Protocol.UDP);
        assertThat(ChainNames.serviceHash(tcp)).isNotEqualTo(ChainNames.serviceHash(udp));
        assertThat(ChainNames.serviceHash(udp)).hasSize(16).matches("[A-Z2-7]{16}");
    }

    @Test
    void recognisesPerServiceChainsOnly() {
        assertThat(ChainNames.isServiceChain("KUBE-SEP-SXIVWICOYRO3J4NJ")).isTrue();
        assertThat(ChainNames.isServiceChain("KUBE-FW-XPGD46QRK7WJZT7O")).isTrue();
        assertThat(ChainNames.isServiceChain("KUBE-SVL-XPGD46QRK7WJZT7O")).isTrue();
        assertThat(ChainNames.isServiceChain("KUBE-SERVICES")).isFalse();
        assertThat(ChainNames.isServiceChain("KUBE-MARK-MASQ")).isFalse();
        assertThat(ChainNames.isServiceChain("KUBE-EXTERNAL-SERVICES")).isFalse();
    }
}
