package io.pointsman.core.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Names reach rule comments and chain hashes. The API server would refuse these; manifest files
 * and a misbehaving server do not, so the converter refuses them itself, and its messages stay
 * one printable line whatever the name holds.
 */
class HostileNamesTest {

    private static Service service(String namespace, String name, String portName) {
        return new ServiceBuilder().withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
                .withNewSpec().withType("ClusterIP").withClusterIP("10.96.0.1").addNewPort().withName(portName)
                .withProtocol("TCP").withPort(80).withTargetPort(new IntOrString(8080)).endPort().endSpec().build();
    }

    private static EndpointSlice slice(String namespace, String name, String serviceLabel, String portName) {
        return new EndpointSliceBuilder().withNewMetadata().withNamespace(namespace).withName(name)
                .addToLabels(ModelConverter.SERVICE_NAME_LABEL, serviceLabel).endMetadata()
                .withAddressType("IPv4").addNewPort().withName(portName).withProtocol("TCP").withPort(8080).endPort()
                .addNewEndpoint().withAddresses("10.244.0.5").endEndpoint().build();
    }

    static Stream<Arguments> hostileServices() {
        return Stream.of(
                Arguments.of("ns", "web\"-j ACCEPT", "http", "metadata.name: \"web\"-j ACCEPT\" (expected: a DNS-1035 label)"),
                Arguments.of("ns", "web\n-A KUBE-SERVICES -j ACCEPT", "http",
                        "metadata.name: \"web\\n-A KUBE-SERVICES -j ACCEPT\" (expected: a DNS-1035 label)"),
                Arguments.of("ns", "9web", "http", "metadata.name: \"9web\" (expected: a DNS-1035 label)"),
                Arguments.of("ns", "Web", "http", "metadata.name: \"Web\" (expected: a DNS-1035 label)"),
                Arguments.of("ns", "a".repeat(64), "http", "(expected: a DNS-1035 label)"),
                Arguments.of("n s", "web", "http", "metadata.namespace: \"n s\" (expected: a DNS-1123 label)"),
                Arguments.of("$(reboot)", "web", "http", "metadata.namespace: \"$(reboot)\" (expected: a DNS-1123 label)"),
                Arguments.of("ns", "web", "http `id`", "spec.ports[0].name: \"http `id`\" (expected: a DNS-1123 label)"),
                Arguments.of("ns", "web", "h'; rm -rf /", "spec.ports[0].name: \"h'; rm -rf /\" (expected: a DNS-1123 label)"));
    }

    @ParameterizedTest
    @MethodSource("hostileServices")
    void servicesWithNamesTheApiWouldRefuseAreMalformed(String namespace, String name, String port, String problem) {
        assertThatThrownBy(() -> ModelConverter.servicePorts(service(namespace, name, port)))
                .isInstanceOf(MalformedObjectException.class)
                .hasMessageContaining(problem)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n").doesNotContain("\r"));
    }

    @Test
    void namesTheApiAcceptsStillWork() {
        assertThatCode(() -> ModelConverter.servicePorts(service("kube-system", "kube-dns", "dns-tcp")))
                .doesNotThrowAnyException();
        assertThatCode(() -> ModelConverter.servicePorts(service("a" + "-b".repeat(31), "z9", "")))
                .doesNotThrowAnyException();
        assertThatCode(() -> ModelConverter.endpoints(slice("kube-system", "kube-dns-7x2.v1", "kube-dns", "dns-tcp")))
                .doesNotThrowAnyException();
    }

    static Stream<Arguments> hostileSlices() {
        return Stream.of(
                Arguments.of("ns", "web-1 x", "web", "p", "metadata.name: \"web-1 x\" (expected: a DNS-1123 subdomain)"),
                Arguments.of("ns", "web-1", "web\"x", "p",
                        "metadata.labels[kubernetes.io/service-name]: \"web\"x\" (expected: a label value)"),
                Arguments.of("ns", "web-1", "web", "p\nq", "ports[0].name: \"p\\nq\" (expected: a DNS-1123 label)"),
                Arguments.of("n\u001bs", "web-1", "web", "p", "metadata.namespace: \"n\\u001bs\" (expected: a DNS-1123 label)"));
    }

    @ParameterizedTest
    @MethodSource("hostileSlices")
    void slicesWithNamesTheApiWouldRefuseAreMalformed(String namespace, String name, String label, String port,
                                                     String problem) {
        assertThatThrownBy(() -> ModelConverter.endpoints(slice(namespace, name, label, port)))
                .isInstanceOf(MalformedObjectException.class)
                .hasMessageContaining(problem)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n").doesNotContain("\u001b"));
    }

    @Test
    void hugeValuesAreCutInMessages() {
        String huge = "1".repeat(1_000_000);
        Service s = new ServiceBuilder(service("ns", "web", "http")).editSpec().withClusterIP(huge).endSpec().build();
        assertThatThrownBy(() -> ModelConverter.servicePorts(s))
                .isInstanceOf(MalformedObjectException.class)
                .hasMessageContaining("... (")
                .satisfies(e -> assertThat(e.getMessage().length()).isLessThan(MalformedObjectException.MAX_PRINTED + 100));
        assertThat(MalformedObjectException.printable("a\tb\u0000c\u2028")).isEqualTo("a\\tb\\u0000c\\u2028");
    }
}
