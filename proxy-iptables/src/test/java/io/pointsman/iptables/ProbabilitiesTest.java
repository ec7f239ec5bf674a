package io.pointsman.iptables;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ProbabilitiesTest {

    @Test
    void formatsLikeGoPercentZeroPointTenF() {
        assertThat(Probabilities.of(2)).isEqualTo("0.5000000000");
        assertThat(Probabilities.of(3)).isEqualTo("0.3333333333");
        assertThat(Probabilities.of(6)).isEqualTo("0.1666666667");
        assertThat(Probabilities.of(7)).isEqualTo("0.1428571429");
        assertThat(Probabilities.of(1)).isEqualTo("1.0000000000");
        // 1/2048 = 0.00048828125 exactly: a tie, which Go rounds to even.
        assertThat(Probabilities.of(2048)).isEqualTo("0.0004882812");
        assertThat(Probabilities.of(1001)).isEqualTo("0.0009990010");
        assertThat(Probabilities.of(100000)).isEqualTo("0.0000100000");
    }

    @Test
    void cachedValuesEqualComputedOnes() {
        for (int n = 1; n <= 1024; n++) {
            assertThat(Probabilities.of(n)).isEqualTo(Probabilities.compute(n));
        }
    }

    @Test
    void rejectsZero() {
        assertThatThrownBy(() -> Probabilities.of(0)).hasMessageContaining("expected: >= 1");
    }
}
