package io.pointsman.ipvs.kernel;

import io.pointsman.ipvs.netlink.GenericNetlink;
import io.pointsman.ipvs.netlink.Message;
import io.pointsman.ipvs.netlink.Netlink;
import io.pointsman.ipvs.netlink.NetlinkException;
import io.pointsman.ipvs.netlink.NetlinkSocket;
import java.util.ArrayList;
import java.util.List;

/**
 * The kernel's IP Virtual Server over generic netlink: one socket, the "IPVS" family resolved
 * once. Every failure names the command and the object, e.g.
 * {@code IPVS_CMD_NEW_SERVICE 10.96.0.1:80/TCP: EEXIST (17)}.
 */
public final class IpvsClient implements AutoCloseable {
    private final NetlinkSocket socket;
    private final IpvsCodec codec;

    private IpvsClient(NetlinkSocket socket, IpvsCodec codec) {
        this.socket = socket;
        this.codec = codec;
    }

    /**
     * Opens a generic netlink socket and resolves the IPVS family (which loads the ip_vs module
     * where modules autoload).
     *
     * @throws NetlinkException ENOENT when the kernel has no IPVS
     */
    public static IpvsClient open() throws NetlinkException {
        NetlinkSocket s = NetlinkSocket.open(Netlink.NETLINK_GENERIC);
        try {
            GenericNetlink.Family f = GenericNetlink.resolve(s, Ipvs.GENL_NAME);
            return new IpvsClient(s, new IpvsCodec(f.id()));
        } catch (NetlinkException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    public List<VirtualServer> services() throws NetlinkException {
        List<VirtualServer> out = new ArrayList<>();
        for (Message m : socket.request("IPVS_CMD_GET_SERVICE (dump)", codec.dumpServices())) {
            VirtualServer vs = IpvsCodec.decodeService(m);
            if (vs != null) {
                out.add(vs);
            }
        }
        return out;
    }

    public List<RealServer> destinations(ServiceKey key) throws NetlinkException {
        List<RealServer> out = new ArrayList<>();
        for (Message m : socket.request("IPVS_CMD_GET_DEST " + key, codec.dumpDestinations(key))) {
            out.add(IpvsCodec.decodeDestination(m, key.family()));
        }
        return out;
    }

    public void newService(VirtualServer vs) throws NetlinkException {
        socket.request("IPVS_CMD_NEW_SERVICE " + vs.key(), codec.service(Ipvs.CMD_NEW_SERVICE, vs));
    }

    public void updateService(VirtualServer vs) throws NetlinkException {
        socket.request("IPVS_CMD_SET_SERVICE " + vs.key(), codec.service(Ipvs.CMD_SET_SERVICE, vs));
    }

    public void deleteService(ServiceKey key) throws NetlinkException {
        socket.request("IPVS_CMD_DEL_SERVICE " + key, codec.deleteService(key));
    }

    public void newDestination(ServiceKey key, RealServer rs) throws NetlinkException {
        socket.request("IPVS_CMD_NEW_DEST " + key + " -> " + rs.hostPort(),
                codec.destination(Ipvs.CMD_NEW_DEST, key, rs));
    }

    public void updateDestination(ServiceKey key, RealServer rs) throws NetlinkException {
        socket.request("IPVS_CMD_SET_DEST " + key + " -> " + rs.hostPort(),
                codec.destination(Ipvs.CMD_SET_DEST, key, rs));
    }

    public void deleteDestination(ServiceKey key, RealServer rs) throws NetlinkException {
        socket.request("IPVS_CMD_DEL_DEST " + key + " -> " + rs.hostPort(), codec.deleteDestination(key, rs));
    }

    public void setTimeouts(IpvsTimeouts timeouts) throws NetlinkException {
        if (!timeouts.isEmpty()) {
            socket.request("IPVS_CMD_SET_CONFIG " + timeouts, codec.setTimeouts(timeouts));
        }
    }

    public IpvsTimeouts timeouts() throws NetlinkException {
        List<Message> r = socket.request("IPVS_CMD_GET_CONFIG", codec.getTimeouts());
        if (r.isEmpty()) {
            throw new NetlinkException("IPVS_CMD_GET_CONFIG", "no reply with the timeouts");
        }
        return IpvsCodec.decodeTimeouts(r.get(0));
    }

    /** How many datagrams the last request's replies took (for checks and diagnostics). */
    public int lastDatagrams() {
        return socket.lastDatagrams();
    }

    @Override
    public void close() {
        socket.close();
    }
}
