package io.pointsman.nftables;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pointsman.core.linux.Nft;
import io.pointsman.core.linux.NftException;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.IpFamily;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --cleanup} for the nftables mode: deletes Pointsman's tables and upstream kube-proxy's
 * ({@code ip}/{@code ip6} {@code pointsman} and {@code kube-proxy}) in one transaction.
 */
final class NftablesCleanup {
    private static final Logger log = LoggerFactory.getLogger(NftablesCleanup.class);
    static final List<String> TABLES = List.of("ip pointsman", "ip6 pointsman", "ip kube-proxy", "ip6 kube-proxy");

    private NftablesCleanup() {
    }

    /** @return whether anything failed to be removed */
    static boolean run(Nft nft, ProxyMetrics metrics) {
        List<String> present;
        try {
            present = present(nft.listJson(List.of("tables")));
        } catch (NftException | IOException e) {
            if (e.getCause() instanceof IOException) {
                log.info("cleanup: nft cannot be run, so nothing of the nftables mode can be present: {}", e.getMessage());
                return false;
            }
            log.warn("cleanup: cannot list nftables tables: {}", e.getMessage());
            return true;
        }
        if (present.isEmpty()) {
            return false;
        }
        StringBuilder script = new StringBuilder();
        for (String t : present) {
            script.append("delete table ").append(t).append('\n');
        }
        try {
            nft.apply(script.toString());
            log.info("cleanup: deleted nftables tables {}", present);
            return false;
        } catch (NftException e) {
            for (String t : present) {
                metrics.nftablesCleanupFailure(t.startsWith("ip6 ") ? IpFamily.IPv6 : IpFamily.IPv4);
            }
            log.warn("cleanup: nftables tables {} kept: {}", present, e.getMessage());
            return true;
        }
    }

    /** Which of {@link #TABLES} the {@code nft -j list tables} output names. */
    static List<String> present(String json) throws IOException {
        List<String> out = new ArrayList<>();
        if (json == null) {
            return out;
        }
        JsonNode root = new ObjectMapper().readTree(json);
        for (JsonNode item : root.path("nftables")) {
            JsonNode t = item.get("table");
            if (t != null) {
                String ref = t.path("family").asText() + " " + t.path("name").asText();
                if (TABLES.contains(ref) && !out.contains(ref)) {
                    out.add(ref);
                }
            }
        }
        return out;
    }
}
