package io.pointsman.core.metrics;

import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricMetadata;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A classic (fixed-bucket) histogram family, cumulative since start, like client_golang's. */
final class HistogramFamily implements ExactFamily {
    private final String name;
    private final String help;
    private final List<String> labelNames;
    private final double[] bounds;
    private final double[] boundsWithInf;
    private final Map<List<String>, Series> series = new ConcurrentHashMap<>();

    /** @param bounds finite, strictly ascending upper bounds; +Inf is implied */
    HistogramFamily(String name, String help, List<String> labelNames, double[] bounds) {
        this.labelNames = List.copyOf(labelNames);
        ExactFamily.checkNames(name, this.labelNames);
        for (int i = 0; i < bounds.length; i++) {
            if (!Double.isFinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
                throw new IllegalArgumentException("buckets of " + name + ": " + Arrays.toString(bounds)
                        + " (expected: finite and strictly ascending)");
            }
        }
        this.name = name;
        this.help = help;
        this.bounds = bounds.clone();
        this.boundsWithInf = Arrays.copyOf(bounds, bounds.length + 1);
        this.boundsWithInf[bounds.length] = Double.POSITIVE_INFINITY;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<String> labelNames() {
        return labelNames;
    }

    double[] bounds() {
        return bounds.clone();
    }

    void observe(List<String> labelValues, double value) {
        if (Double.isNaN(value)) {
            return;
        }
        ExactFamily.checkValues(name, labelNames, labelValues);
        int at = Arrays.binarySearch(bounds, value);
        int bucket = at >= 0 ? at : -at - 1; // first bound >= value; bounds.length is +Inf
        series.computeIfAbsent(List.copyOf(labelValues), k -> new Series(bounds.length + 1)).observe(bucket, value);
    }

    @Override
    public MetricSnapshot snapshot() {
        if (series.isEmpty()) {
            return null;
        }
        List<HistogramDataPointSnapshot> points = new ArrayList<>(series.size());
        series.forEach((values, s) -> points.add(s.snapshot(boundsWithInf, ExactFamily.labels(labelNames, values))));
        return new HistogramSnapshot(new MetricMetadata(name, help), points);
    }

    /** One label set; observations are rare (about one per sync), so a lock keeps count and sum consistent. */
    private static final class Series {
        private final long[] counts;
        private double sum;

        Series(int buckets) {
            counts = new long[buckets];
        }

        synchronized void observe(int bucket, double value) {
            counts[bucket]++;
            sum += value;
        }

        synchronized HistogramDataPointSnapshot snapshot(double[] upperBounds, Labels labels) {
            // ClassicHistogramBuckets takes per-bucket (not cumulative) counts.
            return new HistogramDataPointSnapshot(ClassicHistogramBuckets.of(upperBounds, counts.clone()), sum,
                    labels, null, 0L);
        }
    }
}
