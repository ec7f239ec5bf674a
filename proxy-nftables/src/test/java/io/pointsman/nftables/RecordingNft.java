package io.pointsman.nftables;

import io.pointsman.core.linux.Nft;
import io.pointsman.core.linux.NftException;
import java.util.ArrayList;
import java.util.List;

/** Records every script; listings answer "no table" unless set; can be told to refuse the next script. */
final class RecordingNft implements Nft {
    final List<String> scripts = new ArrayList<>();
    String listing;
    String refuseWith;

    @Override
    public void apply(String script) throws NftException {
        if (refuseWith != null) {
            String msg = refuseWith;
            refuseWith = null;
            throw new NftException(msg);
        }
        scripts.add(script);
    }

    @Override
    public String listJson(List<String> what) {
        return listing;
    }

    String last() {
        return scripts.isEmpty() ? "" : scripts.get(scripts.size() - 1);
    }
}
