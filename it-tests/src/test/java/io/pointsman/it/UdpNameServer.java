package io.pointsman.it;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * A pod's UDP server: answers every datagram with the pod's name, from one socket. Runs as its
 * own process inside a pod namespace. (socat's forking UDP-RECVFROM server drops a few datagrams
 * when requests come quickly from random source ports, as masquerading with --random-fully makes
 * them; a proxy test must not inherit that.)
 */
public final class UdpNameServer {
    private UdpNameServer() {
    }

    /** Arguments: NAME PORT. */
    public static void main(String[] args) throws IOException {
        if (args.length != 2 || !args[0].matches("[a-z0-9-]{1,63}")) {
            System.err.println("usage: UdpNameServer NAME PORT (NAME: 1-63 of a-z, 0-9, '-')");
            System.exit(2);
        }
        int port = Integer.parseInt(args[1]);
        if (port < 1 || port > 65535) {
            System.err.println("port: " + port + " (expected: 1-65535)");
            System.exit(2);
        }
        byte[] reply = (args[0] + "\n").getBytes(StandardCharsets.US_ASCII);
        byte[] buffer = new byte[2048];
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(port))) {
            System.out.println("udp server " + args[0] + " listening on port " + port);
            while (true) {
                DatagramPacket request = new DatagramPacket(buffer, buffer.length);
                socket.receive(request);
                socket.send(new DatagramPacket(reply, reply.length, request.getSocketAddress()));
            }
        }
    }
}
