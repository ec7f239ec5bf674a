package io.pointsman.core.linux;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ExecNetfilterTest {

    @Test
    void theToolsComplaintBecomesOneLineWithoutTheHelpHint() {
        String stderr = "iptables-restore v1.8.9 (nf_tables): Couldn't load match `foo':No such file or directory\n"
                + "\n"
                + "Error occurred at line: 4\n"
                + "Try `iptables-restore -h' or 'iptables-restore --help' for more information.\n";
        assertThat(ExecNetfilter.oneLine(stderr)).isEqualTo("iptables-restore v1.8.9 (nf_tables): Couldn't load match"
                + " `foo':No such file or directory; Error occurred at line: 4");
        assertThat(ExecNetfilter.oneLine("  \n")).isEqualTo("(no message)");
    }

    @Test
    void lineOfAnswersTheOneBasedLineOrNothing() {
        String payload = "*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n";
        assertThat(ExecNetfilter.lineOf(payload, 2)).isEqualTo(":KUBE-SERVICES - [0:0]");
        assertThat(ExecNetfilter.lineOf(payload, 0)).isEmpty();
        assertThat(ExecNetfilter.lineOf(payload, 9)).isEmpty();
    }
}
