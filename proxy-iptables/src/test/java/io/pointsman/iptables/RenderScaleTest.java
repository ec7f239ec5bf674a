package io.pointsman.iptables;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.spi.BackendContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A generated cluster of 10,000 service ports x 10 endpoints: checks the shape of the output and
 * logs how long rendering takes (a measurement, not a timed assertion).
 */
class RenderScaleTest {
    private static final Logger log = LoggerFactory.getLogger(RenderScaleTest.class);
    static final int SERVICES = 10_000;
    static final int ENDPOINTS = 10;

    static ProxyState generated(int services, int endpoints, int generation) {
        Map<ServicePortName, ServicePort> svcs = new HashMap<>();
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>();
        for (int i = 0; i < services; i++) {
            ServicePortName n = Fixtures.name("ns" + (i % 100), "svc" + i, "http");
            String clusterIP = "172.30." + (i / 250) + "." + (i % 250 + 1);
            ServicePort svc = i % 10 == 0
                    ? new Fixtures.Svc(n, clusterIP, 80).type(ServiceType.NODE_PORT).nodePort(30000 + i % 2000).build()
                    : new Fixtures.Svc(n, clusterIP, 80).build();
            svcs.put(n, svc);
            List<Endpoint> list = new ArrayList<>();
            for (int e = 0; e < endpoints; e++) {
                int host = i * endpoints + e + generation;
                list.add(Endpoint.ready("10." + (host >> 16 & 255) + "." + (host >> 8 & 255) + "." + (host & 255),
                        8080, ""));
            }
            list.sort(null);
            eps.put(n, list);
        }
        return new ProxyState(Fixtures.node("192.168.0.2"), svcs, eps);
    }

    @Test
    void tenThousandServicesOfTenEndpoints() {
        ProxyState state = generated(SERVICES, ENDPOINTS, 0);
        IptablesRenderer r = new IptablesRenderer(Fixtures.upstreamOptions());
        StringBuilder out = new StringBuilder();
        IptablesRenderer.Rendered rendered = null;
        long[] nanos = new long[3];
        for (int run = 0; run < nanos.length; run++) {
            long t0 = System.nanoTime();
            rendered = r.render(state);
            out.setLength(0);
            r.writePayload(out, IptablesRenderer.Extra.NONE, IptablesRenderer.Extra.NONE);
            nanos[run] = System.nanoTime() - t0;
        }
        // Per service: 1 KUBE-SERVICES rule, SVC chain with 1 + 10 rules, 10 SEP chains of 2 rules;
        // every tenth one adds a NodePort: 2 KUBE-NODEPORTS rules (nfacct) + EXT chain of 2 rules.
        int nodePorts = SERVICES / 10;
        long expectedNat = 4 + 1 + (long) SERVICES * (1 + 1 + ENDPOINTS + 2 * ENDPOINTS) + nodePorts * 4L;
        assertThat(rendered.natRules()).isEqualTo(expectedNat);
        assertThat(rendered.natChains()).isEqualTo(4 + SERVICES * (1 + ENDPOINTS) + nodePorts);
        assertThat(out.chars().filter(c -> c == '\n').count())
                .isEqualTo(expectedNat + rendered.natChains() + rendered.filterRules() + rendered.filterChains() + 4);
        log.info("render of {} services x {} endpoints: {} nat rules, {} MB; ms per run: first {}, then {} {}",
                SERVICES, ENDPOINTS, rendered.natRules(), out.length() >> 20, nanos[0] / 1_000_000,
                nanos[1] / 1_000_000, nanos[2] / 1_000_000);
    }

    /** A full sync of {@code services} x 10 endpoints, then one endpoint of one service replaced: its payload. */
    private static String oneEndpointChange(int services, Map<String, Long> fullCounts, Map<String, Long> counts)
            throws Exception {
        ProxyState state = generated(services, ENDPOINTS, 0);
        RecordingNetfilter netfilter = new RecordingNetfilter();
        IptablesBackend backend = new IptablesBackend(new BackendContext(Fixtures.config(),
                new ProxyMetrics("iptables"), netfilter, Set.of("nfacct"), false));
        long t0 = System.nanoTime();
        fullCounts.putAll(backend.sync(state, ChangeSet.NONE, true).counts());
        long full = System.nanoTime() - t0;

        ServicePortName changed = Fixtures.name("ns7", "svc7", "http");
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>(state.endpoints());
        List<Endpoint> list = new ArrayList<>(eps.get(changed));
        list.set(3, Endpoint.ready("10.250.0.1", 8080, ""));
        list.sort(null);
        eps.put(changed, list);
        ProxyState next = new ProxyState(state.node(), state.services(), eps);
        t0 = System.nanoTime();
        var result = backend.sync(next, new ChangeSet(Set.of(changed), false), false);
        long partial = System.nanoTime() - t0;
        assertThat(result.servicePortsWritten()).isEqualTo(1);
        counts.putAll(result.counts());
        String payload = netfilter.last();
        log.info("sync of {} services x {} endpoints: full {} ms ({} MB), one endpoint changed {} ms ({} lines)",
                services, ENDPOINTS, full / 1_000_000, netfilter.payloads.get(0).length() >> 20, partial / 1_000_000,
                payload.lines().count());
        return payload;
    }

    @Test
    void oneEndpointChangeWritesTheSamePayloadAtAnyScale() throws Exception {
        Map<String, Long> fullCounts = new HashMap<>();
        Map<String, Long> counts = new HashMap<>();
        String large = oneEndpointChange(SERVICES, fullCounts, counts);
        // The service chain (new probabilities and target), the new endpoint's chain, the old one deleted:
        // no dispatch chain, no filter table.
        assertThat(large.lines().filter(l -> l.startsWith(":")).toList()).hasSize(3);
        assertThat(large).startsWith("*nat\n").doesNotContain("*filter").doesNotContain("KUBE-SERVICES")
                .doesNotContain("KUBE-NODEPORTS");
        assertThat(large.lines().filter(l -> l.startsWith("-X ")).count()).isEqualTo(1);
        assertThat(counts).containsEntry("deletedChains", 1L).containsEntry("natRules", (long) (1 + ENDPOINTS + 2))
                // One endpoint chain of 2 rules replaced by another: the total does not move.
                .containsEntry("natRulesTotal", fullCounts.get("natRulesTotal"));

        String small = oneEndpointChange(SERVICES / 10, new HashMap<>(), new HashMap<>());
        assertThat(small.lines().count()).isEqualTo(large.lines().count());
        assertThat(small.length()).isEqualTo(large.length());
    }
}
