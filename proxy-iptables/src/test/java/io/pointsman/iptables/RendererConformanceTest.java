package io.pointsman.iptables;

import static io.pointsman.iptables.Fixtures.ep;
import static io.pointsman.iptables.Fixtures.svc;
import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServiceType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The renderer against upstream's expected output (shared/conformance/iptables/cases). */
class RendererConformanceTest {

    @Test
    void overallMatchesUpstream() {
        IptablesRenderer r = new IptablesRenderer(Fixtures.upstreamOptions());
        IptablesRenderer.Rendered out = r.render(Fixtures.overall());
        String payload = r.payload();
        assertThat(Normalizer.normalize(payload)).isEqualTo(Fixtures.conformance("cases/01-overall/expected.txt"));
        // Upstream: kubeproxy_sync_proxy_rules_iptables_total{nat} == nat rules in the output.
        long natRules = payload.substring(payload.indexOf("*nat")).lines().filter(l -> l.startsWith("-A ")).count();
        assertThat(out.natRules()).isEqualTo(natRules);
        assertThat(out.noLocalExternal()).isEqualTo(1);
        assertThat(out.noLocalInternal()).isZero();
    }

    @Test
    void badAndOtherFamilyAddressesAreIgnored() {
        // cases/03-bad-ips after the model canonicalised the leading zeros, plus IPv6 entries an
        // IPv4 renderer must leave out.
        ProxyState state = new Fixtures.State(Fixtures.node("192.168.0.2", "2001:db8::1"))
                .add(svc("ns1", "svc1", "p80", "172.30.0.41", 80).clusterIPs("172.30.0.41", "fd00::41")
                                .type(ServiceType.LOAD_BALANCER).externalIPs("192.168.99.22", "2001:db8::22")
                                .ranges("203.0.113.0/25", "2001:db8:1::/64").nodePort(3001).lb("1.2.3.4", "2001:db8::4"),
                        ep("10.180.0.1", 80), ep("fd00::1", 80))
                .add(svc("ns9", "v6only", "p80", "fd00::99", 80), ep("fd00::9", 80))
                .build();
        IptablesRenderer r = new IptablesRenderer(Fixtures.upstreamOptions());
        r.render(state);
        assertThat(Normalizer.normalize(r.payload())).isEqualTo(Fixtures.conformance("cases/03-bad-ips/expected.txt"));
    }

    @Test
    void javaNormalizerAgreesWithNormalizePy() throws Exception {
        IptablesRenderer r = new IptablesRenderer(Fixtures.upstreamOptions());
        r.render(Fixtures.overall());
        String payload = r.payload();
        Path script = Fixtures.conformanceDir().resolve("normalize.py");
        Process p = new ProcessBuilder("python3", script.toString()).redirectErrorStream(false).start();
        p.getOutputStream().write(payload.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String py = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("normalize.py exit").isZero();
        assertThat(Normalizer.normalize(payload)).isEqualTo(py);
        writeForInspection("01-overall.rendered.txt", payload);
    }

    /** Leaves the raw payload in target/ so it can be fed to normalize.py by hand. */
    private static void writeForInspection(String file, String text) throws IOException {
        Path dir = Path.of("target", "conformance");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(file), text);
    }

    @Test
    void endpointsOfOtherFamiliesDoNotCountAsEndpoints() {
        // A service whose only endpoint is IPv6 has no IPv4 endpoints: REJECT in IPv4.
        ProxyState state = new Fixtures.State(Fixtures.node("192.168.0.2"))
                .add(svc("ns1", "svc1", "p80", "172.30.0.41", 80), Endpoint.ready("fd00::1", 80, ""))
                .build();
        IptablesRenderer r = new IptablesRenderer(Fixtures.upstreamOptions());
        r.render(state);
        assertThat(List.of(r.payload().split("\n"))).contains(
                "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp"
                        + " -d 172.30.0.41 --dport 80 -j REJECT");
    }
}
