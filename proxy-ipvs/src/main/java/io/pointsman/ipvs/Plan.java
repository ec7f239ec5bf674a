package io.pointsman.ipvs;

import io.pointsman.ipvs.kernel.RealServer;
import io.pointsman.ipvs.kernel.ServiceKey;
import io.pointsman.ipvs.kernel.VirtualServer;
import java.util.List;

/**
 * The kernel operations that turn a {@link KernelSnapshot} into a {@link DesiredState}, in the
 * order they must run: unbind addresses, remove destinations, delete services, create/update
 * services, create/update destinations, bind addresses.
 */
public record Plan(List<Op> ops) {
    public Plan {
        ops = List.copyOf(ops);
    }

    public boolean isEmpty() {
        return ops.isEmpty();
    }

    /** One kernel operation. {@link #toString()} is a short human-readable form, as logs and tests use it. */
    public sealed interface Op {
    }

    public record Unbind(String address) implements Op {
        @Override
        public String toString() {
            return "unbind " + address;
        }
    }

    /** A destination is no longer wanted; graceful termination decides between delete and weight 0. */
    public record RemoveDestination(ServiceKey service, RealServer current) implements Op {
        @Override
        public String toString() {
            return "remove " + service + " -> " + current.hostPort();
        }
    }

    public record DeleteService(ServiceKey service) implements Op {
        @Override
        public String toString() {
            return "delete " + service;
        }
    }

    public record CreateService(VirtualServer service) implements Op {
        @Override
        public String toString() {
            return "create " + service;
        }
    }

    public record UpdateService(VirtualServer service) implements Op {
        @Override
        public String toString() {
            return "update " + service;
        }
    }

    public record CreateDestination(ServiceKey service, RealServer destination) implements Op {
        @Override
        public String toString() {
            return "create " + service + " -> " + destination.hostPort() + " w" + destination.weight();
        }
    }

    public record UpdateDestination(ServiceKey service, RealServer destination) implements Op {
        @Override
        public String toString() {
            return "update " + service + " -> " + destination.hostPort() + " w" + destination.weight();
        }
    }

    public record Bind(String address) implements Op {
        @Override
        public String toString() {
            return "bind " + address;
        }
    }
}
