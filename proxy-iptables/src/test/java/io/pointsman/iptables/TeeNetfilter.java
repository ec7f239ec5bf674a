package io.pointsman.iptables;

import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.model.IpFamily;
import java.util.ArrayList;
import java.util.List;

/** Passes everything to a real Netfilter and keeps each restore payload, for tests that look at both. */
final class TeeNetfilter implements Netfilter {
    private final Netfilter real;
    final List<String> payloads = new ArrayList<>();

    TeeNetfilter(Netfilter real) {
        this.real = real;
    }

    @Override
    public void restore(IpFamily family, String payload) throws RestoreException {
        payloads.add(payload);
        real.restore(family, payload);
    }

    @Override
    public String save(IpFamily family, String table) throws RestoreException {
        return real.save(family, table);
    }
}
