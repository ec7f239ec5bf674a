package io.pointsman.core.source;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ServicePortName;

/** Small builders for the API objects the tests feed; they set what the API server would default. */
final class Fixtures {
    static final String NODE = "node-a";

    private Fixtures() {
    }

    static ServicePortName spn(String ns, String name, String port) {
        return new ServicePortName(ns, name, port, Protocol.TCP);
    }

    /** A ClusterIP Service with one TCP port named "p". */
    static Service service(String ns, String name, String clusterIP, int port) {
        return new ServiceBuilder()
                .withNewMetadata().withNamespace(ns).withName(name).endMetadata()
                .withNewSpec().withType("ClusterIP").withClusterIP(clusterIP).withClusterIPs(clusterIP)
                .addNewPort().withName("p").withPort(port).withProtocol("TCP").endPort()
                .endSpec().build();
    }

    static ServiceBuilder serviceBuilder(String ns, String name, String clusterIP, int port) {
        return new ServiceBuilder(service(ns, name, clusterIP, port));
    }

    /** An IPv4 slice of Service {@code service} with one TCP port "p" and ready endpoints at {@code ips}. */
    static EndpointSlice slice(String ns, String name, String service, int port, String... ips) {
        EndpointSliceBuilder b = sliceBuilder(ns, name, service, port);
        for (String ip : ips) {
            b.addToEndpoints(new EndpointBuilder().withAddresses(ip).withNodeName(NODE)
                    .withNewConditions().withReady(true).endConditions().build());
        }
        return b.build();
    }

    static EndpointSliceBuilder sliceBuilder(String ns, String name, String service, int port) {
        return new EndpointSliceBuilder()
                .withNewMetadata().withNamespace(ns).withName(name)
                .addToLabels(ModelConverter.SERVICE_NAME_LABEL, service).endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("p").withPort(port).withProtocol("TCP").endPort();
    }

    static Node node(String name, String zone, String ip) {
        return new NodeBuilder()
                .withNewMetadata().withName(name).addToLabels("topology.kubernetes.io/zone", zone).endMetadata()
                .withNewStatus().addNewAddress().withType("InternalIP").withAddress(ip).endAddress().endStatus()
                .build();
    }
}
