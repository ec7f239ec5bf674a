package io.pointsman.userspace;

import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.model.IpFamily;
import java.util.ArrayList;
import java.util.List;

/** A Netfilter that keeps every payload; {@code save} answers what the test set. */
final class RecordingNetfilter implements Netfilter {
    final List<String> payloads = new ArrayList<>();
    String natSave = "";

    @Override
    public synchronized void restore(IpFamily family, String payload) {
        payloads.add(payload);
    }

    @Override
    public synchronized String save(IpFamily family, String table) {
        return "nat".equals(table) ? natSave : "";
    }

    synchronized String last() {
        return payloads.isEmpty() ? "" : payloads.get(payloads.size() - 1);
    }

    synchronized int count() {
        return payloads.size();
    }
}
