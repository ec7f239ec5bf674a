package io.pointsman.nftables;

import io.pointsman.core.linux.ExecNft;
import io.pointsman.core.linux.Nft;
import io.pointsman.core.linux.ProcSysctl;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Localhost NodePorts need {@code net.ipv4.conf.all.route_localnet=1}, or the kernel drops
 * packets to 127.0.0.0/8 that were DNATed elsewhere. Set in the network namespace the nft door
 * writes to: this process's own, or the one behind the door's command prefix.
 */
final class RouteLocalnet {
    private static final Logger log = LoggerFactory.getLogger(RouteLocalnet.class);
    static final String SYSCTL = "net.ipv4.conf.all.route_localnet";

    private RouteLocalnet() {
    }

    static void enable(Nft nft) {
        if (!(nft instanceof ExecNft exec)) {
            return; // dry run or a test double: no kernel
        }
        try {
            if (exec.commandPrefix().isEmpty()) {
                new ProcSysctl().write(SYSCTL, "1");
            } else {
                List<String> cmd = new ArrayList<>(exec.commandPrefix());
                cmd.addAll(List.of("sysctl", "-q", "-w", SYSCTL + "=1"));
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    p.destroyForcibly();
                    throw new IOException("sysctl failed: " + out.strip());
                }
            }
            log.info("set {}=1 for localhost NodePorts", SYSCTL);
        } catch (IOException e) {
            log.warn("cannot set {}=1, NodePorts on 127.0.0.1 will not answer: {}", SYSCTL, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
