package io.pointsman.ipvs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pointsman.core.config.IpvsOptions;
import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.linux.DryRunNetfilter;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.ProxyBackendProvider;
import java.time.Duration;
import java.util.List;
import java.util.ServiceLoader;
import java.util.Set;
import org.junit.jupiter.api.Test;

class IpvsBackendProviderTest {

    static ProxyConfig config(String scheduler) {
        ProxyConfig.Builder b = ProxyConfig.defaults().toBuilder();
        b.mode = "ipvs";
        b.clusterCIDRs = List.of("10.244.0.0/16");
        b.ipvs = new IpvsOptions(Duration.ofSeconds(30), Duration.ZERO, scheduler, List.of(), false, Duration.ZERO,
                Duration.ZERO, Duration.ZERO);
        return b.build();
    }

    @Test
    void serviceLoaderFindsTheIpvsMode() {
        ProxyBackendProvider p = ServiceLoader.load(ProxyBackendProvider.class).stream()
                .map(ServiceLoader.Provider::get).filter(x -> x.mode().equals("ipvs")).findFirst().orElseThrow();
        BackendContext ctx = new BackendContext(config(""), new ProxyMetrics("ipvs"), new DryRunNetfilter(), Set.of(),
                true);
        try (ProxyBackend b = p.create(ctx)) {
            assertThat(b.mode()).isEqualTo("ipvs");
        }
    }

    @Test
    void renderShowsServicesAddressesSetsAndRulesWithoutTouchingTheKernel() throws Exception {
        BackendContext ctx = new BackendContext(config(""), new ProxyMetrics("ipvs"), new DryRunNetfilter(), Set.of(),
                true);
        try (IpvsBackend b = new IpvsBackend(ctx)) {
            String text = b.renderFullSync(PlannerTest.state("10.244.1.5"));
            assertThat(text).contains("-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.5:8080 -m -w 1\n",
                    "# addresses on kube-ipvs0\n10.96.0.10/32\n",
                    "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\n",
                    "add KUBE-CLUSTER-IP 10.96.0.10,tcp:80\n",
                    "-I PREROUTING 1 -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
            // A dry run computes and reports, and changes nothing.
            assertThat(b.sync(PlannerTest.state("10.244.1.5"), ChangeSet.NONE, true).counts())
                    .containsEntry("virtualServers", 1L);
        }
    }

    @Test
    void aBadSchedulerNameIsRefusedUpFront() {
        assertThatThrownBy(() -> config("Round-Robin")).hasMessageContaining("\"Round-Robin\" (expected:");
        assertThatThrownBy(() -> new IpvsSettings("Round-Robin", List.of(), false,
                new io.pointsman.ipvs.kernel.IpvsTimeouts(0, 0, 0), false, 0x4000, List.of(), "ClusterCIDR", "", "",
                List.of(), false, Duration.ZERO, Duration.ZERO))
                .hasMessageStartingWith("--ipvs-scheduler: \"Round-Robin\" (expected: a scheduler name");
    }
}
