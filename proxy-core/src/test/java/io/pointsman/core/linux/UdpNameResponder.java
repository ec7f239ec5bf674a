package io.pointsman.core.linux;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * A test "pod": answers every UDP datagram with a fixed word, from one socket bound to one
 * address. Runs as its own process inside a test namespace (socat's forking UDP server loses
 * datagrams when two of them share a port number).
 */
public final class UdpNameResponder {
    private UdpNameResponder() {
    }

    /** Arguments: IP PORT WORD. */
    public static void main(String[] args) throws IOException {
        if (args.length != 3 || !args[2].matches("[a-z0-9-]{1,63}") || !args[0].matches("[0-9a-f.:]+")) {
            System.err.println("usage: UdpNameResponder IP PORT WORD");
            System.exit(2);
        }
        byte[] reply = (args[2] + "\n").getBytes(StandardCharsets.US_ASCII);
        byte[] buffer = new byte[2048];
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(InetAddress.getByName(args[0]),
                Integer.parseInt(args[1])))) {
            while (true) {
                DatagramPacket request = new DatagramPacket(buffer, buffer.length);
                socket.receive(request);
                socket.send(new DatagramPacket(reply, reply.length, request.getSocketAddress()));
            }
        }
    }
}
