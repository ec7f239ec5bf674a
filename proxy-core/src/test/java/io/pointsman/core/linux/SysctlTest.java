package io.pointsman.core.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pointsman.core.config.ProxyConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SysctlTest {

    @Test
    void namesMapToPathsAndNothingLeavesProcSys() {
        assertThat(Sysctl.path("net.ipv4.conf.all.route_localnet")).isEqualTo("net/ipv4/conf/all/route_localnet");
        assertThat(Sysctl.path("net/ipv4/conf/eth0.100/rp_filter")).isEqualTo("net/ipv4/conf/eth0.100/rp_filter");
        for (String bad : new String[] {"", "../../etc/passwd", "/etc/passwd", "net..ipv4", "net/../../x", "a b", "net."}) {
            assertThatThrownBy(() -> Sysctl.path(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("expected: e.g. net.ipv4.conf.all.route_localnet");
        }
    }

    @Test
    void procSysctlReadsAndWritesExistingFilesOnly(@TempDir Path root) throws IOException {
        Path f = root.resolve("net/ipv4/conf/all/route_localnet");
        Files.createDirectories(f.getParent());
        Files.writeString(f, "0\n");
        ProcSysctl sysctl = new ProcSysctl(root);
        assertThat(sysctl.read("net.ipv4.conf.all.route_localnet")).isEqualTo("0");
        sysctl.write("net.ipv4.conf.all.route_localnet", "1");
        assertThat(Files.readString(f)).isEqualTo("1\n");
        assertThatThrownBy(() -> sysctl.write("net.ipv4.conf.all.nonexistent", "1")).isInstanceOf(NoSuchFileException.class);
        assertThat(Files.exists(root.resolve("net/ipv4/conf/all/nonexistent"))).isFalse();
        assertThatThrownBy(() -> sysctl.read("net.netfilter.nf_conntrack_tcp_be_liberal"))
                .isInstanceOf(NoSuchFileException.class).hasMessageContaining("no such sysctl");
        assertThatThrownBy(() -> sysctl.write("net.ipv4.conf.all.route_localnet", "1\n0"))
                .hasMessageContaining("expected: one non-empty line");
    }

    @Test
    void procSysctlReadsTheRealKernel() throws IOException {
        // Read only: tests never change the host's sysctls.
        assertThat(new ProcSysctl().read("net.ipv4.ip_forward")).isIn("0", "1");
    }

    @Test
    void localhostNodePortsTurnRouteLocalnetOnAndBeLiberalIsRead() {
        MapSysctl sysctl = new MapSysctl(Map.of(StartupSysctls.ROUTE_LOCALNET, "0", StartupSysctls.TCP_BE_LIBERAL, "1"));
        StartupSysctls.Outcome o = StartupSysctls.apply(ProxyConfig.defaults(), sysctl);
        assertThat(o.routeLocalnet()).isTrue();
        assertThat(o.tcpBeLiberal()).isTrue();
        assertThat(o.features()).containsExactly(StartupSysctls.FEATURE_TCP_BE_LIBERAL);
        assertThat(sysctl.values()).containsEntry("net/ipv4/conf/all/route_localnet", "1");
    }

    @Test
    void routeLocalnetIsLeftAloneWhenLocalhostNodePortsAreOff() {
        for (ProxyConfig config : List.of(config(b -> b.localhostNodePorts = false),
                config(b -> b.nodePortAddresses = List.of("192.168.0.0/16")),
                config(b -> b.nodePortAddresses = List.of("primary")),
                config(b -> b.mode = "nftables"))) {
            MapSysctl sysctl = new MapSysctl(Map.of(StartupSysctls.ROUTE_LOCALNET, "0",
                    StartupSysctls.TCP_BE_LIBERAL, "0"));
            StartupSysctls.Outcome o = StartupSysctls.apply(config, sysctl);
            assertThat(o.routeLocalnet()).isFalse();
            assertThat(o.tcpBeLiberal()).isFalse();
            assertThat(o.features()).isEmpty();
            assertThat(sysctl.values()).containsEntry("net/ipv4/conf/all/route_localnet", "0");
        }
        assertThat(StartupSysctls.localhostNodePorts(config(b -> b.nodePortAddresses = List.of("127.0.0.0/8"))))
                .isTrue();
        assertThat(StartupSysctls.localhostNodePorts(config(b -> b.nodePortAddresses = List.of("fd00::/64"))))
                .as("no IPv4 CIDR: every IPv4 address, loopback included").isTrue();
    }

    @Test
    void aMissingParameterIsNotFatal() {
        MapSysctl empty = new MapSysctl();
        StartupSysctls.Outcome o = StartupSysctls.apply(ProxyConfig.defaults(), empty);
        assertThat(o.routeLocalnet()).isFalse();
        assertThat(o.tcpBeLiberal()).as("unreadable reads as 0, as upstream").isFalse();
    }

    private static ProxyConfig config(java.util.function.Consumer<ProxyConfig.Builder> edit) {
        ProxyConfig.Builder b = new ProxyConfig.Builder();
        edit.accept(b);
        return b.build();
    }
}
