package io.pointsman.core.metrics;

import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A metric family exposed under exactly its given name. The Prometheus Java client strips
 * {@code _total} from gauge names; upstream kube-proxy has gauges whose names end in {@code _total},
 * so such families bypass the client's naming rules.
 */
sealed interface ExactFamily permits GaugeFamily, HistogramFamily {
    Pattern METRIC_NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

    String name();

    List<String> labelNames();

    /** The current values, or null when the family has no series yet (then it is not exposed). */
    MetricSnapshot snapshot();

    static void checkNames(String name, List<String> labelNames) {
        if (!METRIC_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("metric name: \"" + name + "\" (expected: [a-zA-Z_:][a-zA-Z0-9_:]*)");
        }
        for (String label : labelNames) {
            if (!LABEL_NAME.matcher(label).matches() || label.startsWith("__") || label.equals("le")) {
                throw new IllegalArgumentException("label name of " + name + ": \"" + label
                        + "\" (expected: [a-zA-Z_][a-zA-Z0-9_]*, not starting with __, not le)");
            }
        }
        if (labelNames.stream().distinct().count() != labelNames.size()) {
            throw new IllegalArgumentException("label names of " + name + ": " + labelNames + " (expected: distinct)");
        }
    }

    static void checkValues(String name, List<String> labelNames, List<String> labelValues) {
        if (labelValues.size() != labelNames.size()) {
            throw new IllegalArgumentException("label values of " + name + ": " + labelValues
                    + " (expected: one value for each of " + labelNames + ")");
        }
        for (String v : labelValues) {
            if (v == null) {
                throw new IllegalArgumentException("label values of " + name + ": " + labelValues
                        + " (expected: no null value)");
            }
        }
    }

    static Labels labels(List<String> names, List<String> values) {
        return names.isEmpty() ? Labels.EMPTY : Labels.of(names, values);
    }
}
