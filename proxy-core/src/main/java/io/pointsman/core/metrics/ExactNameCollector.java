package io.pointsman.core.metrics;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListMap;

/** Exposes {@link ExactFamily} families on a Prometheus registry, names untouched. */
final class ExactNameCollector implements MultiCollector {
    private final ConcurrentSkipListMap<String, ExactFamily> families = new ConcurrentSkipListMap<>();

    GaugeFamily gauge(String name, String help, List<String> labelNames) {
        ExactFamily f = families.computeIfAbsent(name, n -> new GaugeFamily(n, help, labelNames));
        if (!(f instanceof GaugeFamily g) || !g.labelNames().equals(labelNames)) {
            throw conflict(f, "gauge", labelNames);
        }
        return g;
    }

    HistogramFamily histogram(String name, String help, List<String> labelNames, double[] bounds) {
        ExactFamily f = families.computeIfAbsent(name, n -> new HistogramFamily(n, help, labelNames, bounds));
        if (!(f instanceof HistogramFamily h) || !h.labelNames().equals(labelNames)
                || !Arrays.equals(h.bounds(), bounds)) {
            throw conflict(f, "histogram", labelNames);
        }
        return h;
    }

    boolean contains(String name) {
        return families.containsKey(name);
    }

    private static IllegalArgumentException conflict(ExactFamily existing, String type, List<String> labelNames) {
        String was = existing instanceof GaugeFamily ? "gauge" : "histogram";
        return new IllegalArgumentException("metric " + existing.name() + " is already registered as a " + was
                + " with labels " + existing.labelNames() + " (asked for: a " + type + " with labels " + labelNames
                + (type.equals(was) ? " and the same buckets" : "") + ")");
    }

    @Override
    public MetricSnapshots collect() {
        List<MetricSnapshot> out = new ArrayList<>(families.size());
        for (ExactFamily f : families.values()) {
            MetricSnapshot s = f.snapshot();
            if (s != null) {
                out.add(s);
            }
        }
        return new MetricSnapshots(out);
    }
}
