package io.pointsman.nftables;

import io.pointsman.core.linux.ExecNft;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.nftables.bench.NftablesBench;
import java.util.*;

final class ProfileScratch {
    public static void main(String[] a) throws Exception {
        String ns = a[0];
        int n = Integer.parseInt(a[1]);
        var bench = Class.forName("io.pointsman.nftables.bench.NftablesBench");
        var m = bench.getDeclaredMethod("state", int.class, int.class); m.setAccessible(true);
        ProxyState state = (ProxyState) m.invoke(null, n, 10);
        var cm = bench.getDeclaredMethod("config"); cm.setAccessible(true);
        var config = (io.pointsman.core.config.ProxyConfig) cm.invoke(null);
        for (int round = 0; round < Integer.parseInt(a[2]); round++) {
            long t = System.nanoTime();
            DesiredTable d = FamilySync.build(new Ruleset(NftOptions.from(config, IpFamily.IPv4)), state);
            long t1 = System.nanoTime();
            Delta delta = Delta.between(new Table(), false, d.table(), null, false);
            long t2 = System.nanoTime();
            System.out.printf("build %d ms, delta %d ms%n", (t1 - t) / 1000000, (t2 - t1) / 1000000);
        }
        Runtime.getRuntime().exec(new String[]{"ip","netns","exec",ns,"nft","flush","ruleset"}).waitFor();
        NftablesBackend b = NftablesBackend.create(config, new ProxyMetrics("nftables"), new ExecNft(List.of("ip","netns","exec",ns)), ns, () -> {});
        long t = System.nanoTime();
        var r = b.sync(state, ChangeSet.NONE, true);
        System.out.printf("full sync %d ms %s%n", (System.nanoTime() - t) / 1000000, r.counts());
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>(state.endpoints());
        List<ServicePortName> names = new ArrayList<>(state.sortedServices().keySet());
        double[] tot = new double[200]; long[] prep = new long[200]; long[] nl = new long[200];
        for (int c = 0; c < 200; c++) {
            ServicePortName name = names.get(c * 31 % names.size());
            List<Endpoint> l = new ArrayList<>(eps.get(name));
            l.set(0, Endpoint.ready("10.250.0." + (c + 1), 8080, "x"));
            l.sort(null);
            eps.put(name, l);
            state = new ProxyState(state.node(), state.services(), eps);
            if (c == 100) { System.gc(); }
            long t3 = System.nanoTime();
            var rc = b.sync(state, new ChangeSet(Set.of(name), false), false);
            tot[c] = (System.nanoTime() - t3) / 1e6; prep[c] = rc.counts().get("prepareMs"); nl[c] = rc.counts().get("netlinkMs");
        }
            Arrays.sort(tot); Arrays.sort(prep); Arrays.sort(nl);
        System.out.printf("changes: median %.2f ms p90 %.2f ms; prepare median %d ms; netlink median %d ms p90 %d%n", tot[100], tot[180], prep[100], nl[100], nl[180]);
    }
}
