package io.pointsman.iptables;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * The {@code --probability} values of the random load-balancing rules, spelled as upstream's
 * {@code fmt.Sprintf("%0.10f", 1.0/n)}: the exact value of the double, rounded half-to-even to 10
 * decimals. Precomputed because every endpoint rule needs one.
 */
final class Probabilities {
    private static final int CACHED = 1024;
    private static final String[] TABLE = new String[CACHED + 1];

    static {
        for (int n = 1; n <= CACHED; n++) {
            TABLE[n] = compute(n);
        }
    }

    private Probabilities() {
    }

    /** 1/n with 10 decimals ("0.5000000000" for n = 2). */
    static String of(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("endpoint count: " + n + " (expected: >= 1)");
        }
        return n <= CACHED ? TABLE[n] : compute(n);
    }

    static String compute(int n) {
        return new BigDecimal(1.0 / n).setScale(10, RoundingMode.HALF_EVEN).toPlainString();
    }
}
