package io.pointsman.core.metrics;

import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.MetricMetadata;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.DoubleSupplier;

/** A gauge family: each series either holds a set value or reads a supplier at scrape time. */
final class GaugeFamily implements ExactFamily {
    private final String name;
    private final String help;
    private final List<String> labelNames;
    private final Map<List<String>, DoubleSupplier> series = new ConcurrentHashMap<>();

    GaugeFamily(String name, String help, List<String> labelNames) {
        this.labelNames = List.copyOf(labelNames);
        ExactFamily.checkNames(name, this.labelNames);
        this.name = name;
        this.help = help;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<String> labelNames() {
        return labelNames;
    }

    void set(List<String> labelValues, double value) {
        bind(labelValues, new Fixed(value));
    }

    /** The series reads {@code value} at every scrape (replacing what it held before). */
    void bind(List<String> labelValues, DoubleSupplier value) {
        ExactFamily.checkValues(name, labelNames, labelValues);
        series.put(List.copyOf(labelValues), value);
    }

    @Override
    public MetricSnapshot snapshot() {
        if (series.isEmpty()) {
            return null;
        }
        List<GaugeDataPointSnapshot> points = new ArrayList<>(series.size());
        series.forEach((values, supplier) -> points.add(
                new GaugeDataPointSnapshot(read(supplier), ExactFamily.labels(labelNames, values), null)));
        return new GaugeSnapshot(new MetricMetadata(name, help), points);
    }

    // A failing supplier must not break the whole scrape; NaN shows the series exists but is unknown.
    private static double read(DoubleSupplier supplier) {
        try {
            return supplier.getAsDouble();
        } catch (RuntimeException e) {
            return Double.NaN;
        }
    }

    private record Fixed(double value) implements DoubleSupplier {
        @Override
        public double getAsDouble() {
            return value;
        }
    }
}
