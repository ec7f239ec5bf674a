package io.pointsman.it;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.util.List;

/**
 * The API objects of the lab, complete as a real API server would store them: the mock applies
 * no defaults, so every field kube-proxy reads is set explicitly.
 */
final class ClusterObjects {
    static final String NAMESPACE = "default";
    static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

    private ClusterObjects() {
    }

    /** A service port: {@code nodePort} 0 means none. */
    record Port(String name, String protocol, int port, int targetPort, int nodePort) {
    }

    static Node node(String name, String internalIp) {
        return new NodeBuilder()
                .withNewMetadata().withName(name).addToLabels("kubernetes.io/hostname", name).endMetadata()
                .withNewSpec().withPodCIDR("10.244.1.0/24").withPodCIDRs("10.244.1.0/24").endSpec()
                .withNewStatus()
                .addNewAddress().withType("InternalIP").withAddress(internalIp).endAddress()
                .addNewAddress().withType("Hostname").withAddress(name).endAddress()
                .endStatus()
                .build();
    }

    /** A ClusterIP service, or a NodePort service when any port has a node port. */
    static Service service(String name, String clusterIp, Port... ports) {
        boolean nodePort = List.of(ports).stream().anyMatch(p -> p.nodePort() != 0);
        List<ServicePort> specPorts = List.of(ports).stream().map(p -> {
            ServicePortBuilder b = new ServicePortBuilder().withName(p.name()).withProtocol(p.protocol())
                    .withPort(p.port()).withTargetPort(new IntOrString(p.targetPort()));
            if (p.nodePort() != 0) {
                b.withNodePort(p.nodePort());
            }
            return b.build();
        }).toList();
        ServiceBuilder b = new ServiceBuilder()
                .withNewMetadata().withName(name).withNamespace(NAMESPACE).endMetadata()
                .withNewSpec()
                .withType(nodePort ? "NodePort" : "ClusterIP")
                .withClusterIP(clusterIp).withClusterIPs(clusterIp)
                .withIpFamilies("IPv4").withIpFamilyPolicy("SingleStack")
                .withSessionAffinity("None")
                .withInternalTrafficPolicy("Cluster")
                .withPorts(specPorts)
                .endSpec();
        if (nodePort) {
            b.editSpec().withExternalTrafficPolicy("Cluster").endSpec();
        }
        return b.build();
    }

    /** An EndpointSlice of {@code service} whose endpoints are ready pods on {@code nodeName}. */
    static EndpointSlice endpointSlice(String service, String sliceName, String nodeName, List<Lab.Pod> pods,
            Port... ports) {
        List<Endpoint> endpoints = pods.stream().map(p -> endpoint(p, nodeName)).toList();
        List<EndpointPort> endpointPorts = List.of(ports).stream()
                .map(p -> new EndpointPortBuilder().withName(p.name()).withProtocol(p.protocol())
                        .withPort(p.targetPort()).build())
                .toList();
        return new EndpointSliceBuilder()
                .withNewMetadata().withName(sliceName).withNamespace(NAMESPACE)
                .addToLabels(SERVICE_NAME_LABEL, service)
                .addToLabels("endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io")
                .endMetadata()
                .withAddressType("IPv4")
                .withEndpoints(endpoints)
                .withPorts(endpointPorts)
                .build();
    }

    /** An EndpointSlice of any address type ("IPv4", "IPv6") with the given endpoints. */
    static EndpointSlice endpointSliceOf(String service, String sliceName, String addressType, List<Endpoint> endpoints,
            Port... ports) {
        List<EndpointPort> endpointPorts = List.of(ports).stream()
                .map(p -> new EndpointPortBuilder().withName(p.name()).withProtocol(p.protocol())
                        .withPort(p.targetPort()).build())
                .toList();
        return new EndpointSliceBuilder()
                .withNewMetadata().withName(sliceName).withNamespace(NAMESPACE)
                .addToLabels(SERVICE_NAME_LABEL, service)
                .addToLabels("endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io")
                .endMetadata()
                .withAddressType(addressType)
                .withEndpoints(endpoints)
                .withPorts(endpointPorts)
                .build();
    }

    /** A ready endpoint of {@code pod} at {@code ip} (e.g. its IPv6 address) on {@code nodeName}. */
    static Endpoint endpoint(Lab.Pod pod, String ip, String nodeName) {
        return new EndpointBuilder()
                .withAddresses(ip)
                .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
                .withNodeName(nodeName)
                .withNewTargetRef().withKind("Pod").withNamespace(NAMESPACE).withName(pod.name()).endTargetRef()
                .build();
    }

    static Endpoint endpoint(Lab.Pod pod, String nodeName) {
        return new EndpointBuilder()
                .withAddresses(pod.ip())
                .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
                .withNodeName(nodeName)
                .withNewTargetRef().withKind("Pod").withNamespace(NAMESPACE).withName(pod.name()).endTargetRef()
                .build();
    }
}
