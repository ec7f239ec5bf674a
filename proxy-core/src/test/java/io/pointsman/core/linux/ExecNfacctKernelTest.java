package io.pointsman.core.linux;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Netns;
import org.junit.jupiter.api.Test;

/** nfacct counters in a namespace of the test's own: created once, matched by a rule, read back. */
class ExecNfacctKernelTest {

    @Test
    void createsACounterThatARuleCountsInto() {
        Kernel.require("ip", "nfacct", "iptables-restore", "socat");
        try (Netns ns = Netns.create("nfacct")) {
            ExecNfacct nfacct = new ExecNfacct(ns.prefix());
            assertThat(nfacct.packets(Nfacct.INVALID_DROPPED)).as("absent before").isEqualTo(-1);
            assertThat(nfacct.ensure(Nfacct.INVALID_DROPPED)).isTrue();
            assertThat(nfacct.ensure(Nfacct.INVALID_DROPPED)).as("idempotent").isTrue();
            assertThat(nfacct.packets(Nfacct.INVALID_DROPPED)).isZero();
            Netns.Result restored = ns.execStatus("*filter\n-A OUTPUT -o lo -p udp --dport 9 -m nfacct --nfacct-name "
                    + Nfacct.INVALID_DROPPED + "\nCOMMIT\n", "iptables-restore", "--noflush");
            assertThat(restored.exit()).as(restored.output()).isZero();
            for (int i = 0; i < 2; i++) {
                ns.execStatus("x\n", "socat", "-u", "-", "UDP:127.0.0.1:9");
            }
            assertThat(nfacct.packets(Nfacct.INVALID_DROPPED)).as("datagrams counted").isEqualTo(2);
        }
    }
}
