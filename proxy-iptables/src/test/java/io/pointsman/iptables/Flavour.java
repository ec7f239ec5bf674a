package io.pointsman.iptables;

import io.pointsman.core.linux.ExecNetfilter;
import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Netns;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * One of the two iptables implementations a node may use, run inside a test's namespace through
 * its multi-call binary ({@code xtables-nft-multi iptables-restore ...}), whatever the host's
 * alternatives select.
 */
enum Flavour {
    NFT("xtables-nft-multi"),
    LEGACY("xtables-legacy-multi");

    final String multi;

    Flavour(String multi) {
        this.multi = multi;
    }

    /**
     * Requires root, the tools, and for legacy a kernel with x_tables (probed in a namespace of
     * its own): a kernel built without it skips the legacy case even in CI, saying so.
     */
    void require() {
        Kernel.require(multi, saveTool(false), saveTool(true), "ip");
        if (this == LEGACY) {
            try (Netns probe = Netns.create("legacy")) {
                Netns.Result r = probe.execStatus(null, multi, "iptables", "-w", "-t", "nat", "-S");
                Assumptions.assumeTrue(r.exit() == 0,
                        "skipped: this kernel has no legacy iptables (x_tables) nat table: " + r.output().strip());
            }
        }
    }

    /** The door the backend writes through, aimed at {@code ns}. */
    Netfilter netfilter(Netns ns) {
        List<String> prefix = new ArrayList<>(ns.prefix());
        prefix.add(multi);
        return new ExecNetfilter(prefix);
    }

    /** The save tool of this flavour, for {@link IptablesKernelTest#kernelState}: "iptables-nft-save". */
    String saveTool(boolean ipv6) {
        return (ipv6 ? "ip6tables-" : "iptables-") + name().toLowerCase(java.util.Locale.ROOT) + "-save";
    }

    /** Runs {@code iptables ARGS} (or ip6tables) of this flavour inside {@code ns}. */
    String iptables(Netns ns, String tool, String... args) {
        String[] cmd = new String[args.length + 3];
        cmd[0] = multi;
        cmd[1] = tool;
        cmd[2] = "-w";
        System.arraycopy(args, 0, cmd, 3, args.length);
        return ns.exec(cmd);
    }
}
