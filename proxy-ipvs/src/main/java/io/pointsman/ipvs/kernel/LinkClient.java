package io.pointsman.ipvs.kernel;

import io.pointsman.ipvs.netlink.Errno;
import io.pointsman.ipvs.netlink.Message;
import io.pointsman.ipvs.netlink.Netlink;
import io.pointsman.ipvs.netlink.NetlinkException;
import io.pointsman.ipvs.netlink.NetlinkSocket;
import java.util.ArrayList;
import java.util.List;

/** Links and addresses over rtnetlink: the dummy interface and the service IPs bound to it. */
public final class LinkClient implements AutoCloseable {
    private final NetlinkSocket socket;

    private LinkClient(NetlinkSocket socket) {
        this.socket = socket;
    }

    public static LinkClient open() throws NetlinkException {
        return new LinkClient(NetlinkSocket.open(Netlink.NETLINK_ROUTE));
    }

    /** The interface index of {@code name}, or -1 when there is no such interface. */
    public int linkIndex(String name) throws NetlinkException {
        try {
            List<Message> r = socket.request("RTM_GETLINK " + name, RtnlCodec.getLink(name));
            return r.isEmpty() ? -1 : RtnlCodec.linkIndex(r.get(0));
        } catch (NetlinkException e) {
            if (e.errno() == Errno.ENODEV) {
                return -1;
            }
            throw e;
        }
    }

    /** The index of dummy interface {@code name}, created when missing. */
    public int ensureDummy(String name) throws NetlinkException {
        int index = linkIndex(name);
        if (index > 0) {
            return index;
        }
        try {
            socket.request("RTM_NEWLINK " + name + " type dummy", RtnlCodec.newDummyLink(name));
        } catch (NetlinkException e) {
            if (e.errno() != Errno.EEXIST) {
                throw e;
            }
        }
        index = linkIndex(name);
        if (index <= 0) {
            throw new NetlinkException("RTM_NEWLINK " + name + " type dummy", "interface still missing after creation");
        }
        return index;
    }

    public void deleteLink(String name, int index) throws NetlinkException {
        socket.request("RTM_DELLINK " + name, RtnlCodec.deleteLink(index));
    }

    /** Every address of every interface. */
    public List<InterfaceAddress> addresses() throws NetlinkException {
        List<InterfaceAddress> out = new ArrayList<>();
        for (Message m : socket.request("RTM_GETADDR (dump)", RtnlCodec.dumpAddresses())) {
            if (m.type() == Rtnl.RTM_NEWADDR) {
                out.add(RtnlCodec.decodeAddress(m));
            }
        }
        return out;
    }

    /** The addresses of interface {@code index}. */
    public List<InterfaceAddress> addresses(int index) throws NetlinkException {
        return addresses().stream().filter(a -> a.index() == index).toList();
    }

    public void addAddress(String linkName, int index, String ip) throws NetlinkException {
        socket.request("RTM_NEWADDR " + ip + " dev " + linkName, RtnlCodec.address(true, index, ip));
    }

    public void deleteAddress(String linkName, int index, String ip) throws NetlinkException {
        socket.request("RTM_DELADDR " + ip + " dev " + linkName, RtnlCodec.address(false, index, ip));
    }

    @Override
    public void close() {
        socket.close();
    }
}
