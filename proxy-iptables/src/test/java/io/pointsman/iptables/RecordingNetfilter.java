package io.pointsman.iptables;

import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.model.IpFamily;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Netfilter for kernel-free tests: keeps every restore payload, answers save() with text the
 * test sets, and refuses the next restore when told to (with the line, as iptables-restore does).
 * The real tools are exercised by {@link IptablesKernelTest}.
 */
final class RecordingNetfilter implements Netfilter {
    final List<String> payloads = new ArrayList<>();
    final List<IpFamily> families = new ArrayList<>();
    final Map<String, String> saves = new HashMap<>();
    final List<String> saveCalls = new ArrayList<>();
    int failNextAtLine;

    @Override
    public void restore(IpFamily family, String payload) throws RestoreException {
        if (failNextAtLine > 0) {
            int line = failNextAtLine;
            failNextAtLine = 0;
            String text = payload.split("\n")[line - 1];
            throw new RestoreException("iptables-restore exited 2: Error occurred at line: " + line, line, text);
        }
        families.add(family);
        payloads.add(payload);
    }

    @Override
    public String save(IpFamily family, String table) {
        saveCalls.add(family + "/" + table);
        return saves.getOrDefault(family + "/" + table, "");
    }

    String last() {
        return payloads.get(payloads.size() - 1);
    }
}
