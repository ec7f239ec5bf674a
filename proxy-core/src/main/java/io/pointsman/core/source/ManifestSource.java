package io.pointsman.core.source;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds a {@link ChangeTracker} from manifest files ({@code --from PATH}): a file, or a directory of
 * {@code .yaml}, {@code .yml} and {@code .json} files (not recursive; hidden files skipped), each
 * possibly holding several {@code ---}-separated documents or a {@code kind: List}. Services,
 * EndpointSlices (discovery.k8s.io/v1) and Nodes are used; other kinds are ignored.
 *
 * <p>The first read happens in {@link #start} and marks everything synced. Afterwards a daemon
 * thread polls file sizes and modification times and re-reads on a change; objects that vanished
 * from the files are deleted from the tracker. A file that changes while being read is re-read on
 * the next poll. When the path itself disappears the last state is kept (ConfigMap volumes swap
 * their contents through a symlink, and a half-finished deploy must not empty the proxy).
 */
public final class ManifestSource implements Source {
    private static final Logger log = LoggerFactory.getLogger(ManifestSource.class);
    public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(1);
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    /** Identity of an object across reads. */
    public record ObjectKey(String kind, String namespace, String name) {
        @Override
        public String toString() {
            return MalformedObjectException.describe(kind, namespace, name);
        }
    }

    /**
     * What one read found, keyed by identity in reading order.
     *
     * @param skippedDocuments documents that could not be parsed (each was logged)
     */
    public record Manifests(Map<ObjectKey, HasMetadata> objects, int skippedDocuments) {
        public Manifests {
            objects = Collections.unmodifiableMap(new LinkedHashMap<>(objects));
        }

        public List<Service> services() {
            return ofType(Service.class);
        }

        public List<EndpointSlice> endpointSlices() {
            return ofType(EndpointSlice.class);
        }

        public List<Node> nodes() {
            return ofType(Node.class);
        }

        private <T> List<T> ofType(Class<T> type) {
            return objects.values().stream().filter(type::isInstance).map(type::cast).toList();
        }
    }

    private final Path path;
    private final Duration pollInterval;
    private ScheduledExecutorService poller;
    private ChangeTracker tracker;
    /** Guarded by this: what the tracker was last fed, and the file stamps it was read from. */
    private Map<ObjectKey, HasMetadata> fed = Map.of();
    private Map<Path, Stamp> stamps = Map.of();
    private boolean pathMissingLogged;

    public ManifestSource(Path path) {
        this(path, DEFAULT_POLL_INTERVAL);
    }

    public ManifestSource(Path path, Duration pollInterval) {
        this.path = requireNonNull(path, "path");
        this.pollInterval = requireNonNull(pollInterval, "pollInterval");
        if (pollInterval.isNegative() || pollInterval.isZero()) {
            throw new IllegalArgumentException("poll interval: " + pollInterval + " (expected: > 0)");
        }
    }

    /**
     * Reads the manifests once, feeds the tracker, marks it synced, then watches for changes.
     *
     * @throws IllegalArgumentException when the path does not exist or cannot be read
     */
    @Override
    public synchronized void start(ChangeTracker tracker) {
        requireNonNull(tracker, "tracker");
        if (this.tracker != null) {
            throw new IllegalStateException("ManifestSource already started");
        }
        this.tracker = tracker;
        Map<Path, Stamp> before = stampsOrFail(path);
        Manifests m = readOrFail(path);
        apply(m.objects());
        stamps = before;
        tracker.markServicesSynced();
        tracker.markEndpointSlicesSynced();
        tracker.markNodeSynced();
        log.info("Read {}: {} Services, {} EndpointSlices, {} Nodes{}; watching for changes every {} ms", path,
                m.services().size(), m.endpointSlices().size(), m.nodes().size(),
                m.skippedDocuments() == 0 ? "" : " (" + m.skippedDocuments() + " documents skipped)",
                pollInterval.toMillis());
        poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pointsman-manifests");
            t.setDaemon(true);
            return t;
        });
        poller.scheduleWithFixedDelay(this::poll, pollInterval.toMillis(), pollInterval.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    /** Reads {@code path} once into {@code tracker} and marks it synced; no watching (for one-shot rendering). */
    public static Manifests readInto(Path path, ChangeTracker tracker) {
        ManifestSource once = new ManifestSource(path);
        once.tracker = requireNonNull(tracker, "tracker");
        Manifests m = readOrFail(path);
        once.apply(m.objects());
        tracker.markServicesSynced();
        tracker.markEndpointSlicesSynced();
        tracker.markNodeSynced();
        return m;
    }

    @Override
    public synchronized void close() {
        if (poller != null) {
            poller.shutdownNow();
            poller = null;
        }
    }

    // ----------------------------------------------------------------------------- polling

    private void poll() {
        try {
            pollOnce();
        } catch (RuntimeException e) {
            log.error("Re-reading {} failed; keeping the previous state and retrying", path, e);
        }
    }

    private synchronized void pollOnce() {
        if (poller == null) {
            return;
        }
        Map<Path, Stamp> now;
        try {
            now = stamps(path);
        } catch (NoSuchFileException e) {
            if (!pathMissingLogged) {
                log.warn("{} has disappeared; keeping the last state read until it is back", path);
                pathMissingLogged = true;
            }
            return;
        } catch (IOException e) {
            log.warn("Cannot list {}: {}; keeping the last state read", path, e.toString());
            return;
        }
        if (pathMissingLogged) {
            log.info("{} is back", path);
            pathMissingLogged = false;
        }
        if (now.equals(stamps)) {
            return;
        }
        Manifests m;
        try {
            m = read(path);
            if (!now.equals(stamps(path))) {
                log.debug("{} changed while being read; reading again at the next poll", path);
                return;
            }
        } catch (IOException e) {
            log.warn("Cannot read {}: {}; keeping the last state read, retrying", path, e.toString());
            return;
        }
        int changes = apply(m.objects());
        stamps = now;
        log.info("Re-read {}: {} Services, {} EndpointSlices, {} Nodes, {} objects changed", path,
                m.services().size(), m.endpointSlices().size(), m.nodes().size(), changes);
    }

    /** Feeds the difference between what was fed and {@code next}; answers how many objects changed. */
    private synchronized int apply(Map<ObjectKey, HasMetadata> next) {
        int changes = 0;
        for (ObjectKey key : fed.keySet()) {
            if (!next.containsKey(key)) {
                changes++;
                switch (key.kind()) {
                    case "Service" -> tracker.deleteService(key.namespace(), key.name());
                    case "EndpointSlice" -> tracker.deleteEndpointSlice(key.namespace(), key.name());
                    case "Node" -> tracker.deleteNode(key.name());
                    default -> throw new IllegalStateException("unexpected kind " + key.kind());
                }
            }
        }
        // Services before slices, so a new Service and its slices arrive together in one drain anyway.
        for (Map.Entry<ObjectKey, HasMetadata> e : next.entrySet()) {
            if (Objects.equals(fed.get(e.getKey()), e.getValue())) {
                continue;
            }
            changes++;
            HasMetadata o = e.getValue();
            if (o instanceof Service s) {
                tracker.updateService(s);
            } else if (o instanceof EndpointSlice es) {
                tracker.updateEndpointSlice(es);
            } else if (o instanceof Node n) {
                tracker.updateNode(n);
            }
        }
        fed = Map.copyOf(next);
        return changes;
    }

    // ----------------------------------------------------------------------------- reading

    /**
     * Parses every manifest under {@code path}. Unparsable documents are logged (file and
     * 1-based document number) and skipped; other kinds are ignored.
     *
     * @throws IOException when the path or a file cannot be read
     */
    public static Manifests read(Path path) throws IOException {
        Map<ObjectKey, HasMetadata> objects = new LinkedHashMap<>();
        Map<ObjectKey, String> origin = new LinkedHashMap<>();
        int skipped = 0;
        for (Path file : files(path)) {
            String text = Files.readString(file);
            List<String> documents = isJson(file) ? List.of(text) : splitYamlDocuments(text);
            for (int i = 0; i < documents.size(); i++) {
                String doc = documents.get(i);
                if (isBlank(doc)) {
                    continue;
                }
                String where = file + " document " + (i + 1);
                List<HasMetadata> parsed;
                try {
                    parsed = parse(doc);
                } catch (RuntimeException e) {
                    skipped++;
                    log.warn("Skipping {}: cannot parse it ({}) (expected: a Kubernetes object with apiVersion and kind)",
                            where, oneLine(e));
                    continue;
                }
                for (HasMetadata o : parsed) {
                    ObjectKey key = keyOf(o, where);
                    if (key == null) {
                        continue;
                    }
                    String earlier = origin.put(key, where);
                    if (earlier != null) {
                        log.warn("{} appears twice: in {} and in {}; using the later one", key, earlier, where);
                    }
                    objects.remove(key); // keep reading order of the winner
                    objects.put(key, o);
                }
            }
        }
        return new Manifests(objects, skipped);
    }

    private static Manifests readOrFail(Path path) {
        try {
            return read(path);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--from " + path + ": no such file or directory (expected: a manifest "
                    + "file or a directory of .yaml, .yml or .json files)");
        } catch (IOException e) {
            throw new UncheckedIOException("--from " + path + ": cannot read it: " + e.getMessage(), e);
        }
    }

    private static Map<Path, Stamp> stampsOrFail(Path path) {
        try {
            return stamps(path);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--from " + path + ": no such file or directory (expected: a manifest "
                    + "file or a directory of .yaml, .yml or .json files)");
        } catch (IOException e) {
            throw new UncheckedIOException("--from " + path + ": cannot read it: " + e.getMessage(), e);
        }
    }

    /** The parsed objects of one document: one object, or the items of a List. */
    private static List<HasMetadata> parse(String doc) {
        Object o = SERIALIZATION.unmarshal(doc);
        if (o instanceof KubernetesList list) {
            return list.getItems() == null ? List.of() : list.getItems();
        }
        if (o instanceof HasMetadata h) {
            if (h.getKind() == null || h.getApiVersion() == null) {
                throw new IllegalArgumentException("apiVersion or kind missing");
            }
            return List.of(h);
        }
        throw new IllegalArgumentException("not a Kubernetes object: " + (o == null ? "empty" : o.getClass().getSimpleName()));
    }

    /** The identity of a used object (defaulting the namespace), or null for kinds Pointsman ignores. */
    private static ObjectKey keyOf(HasMetadata o, String where) {
        String kind;
        if (o instanceof Service) {
            kind = "Service";
        } else if (o instanceof EndpointSlice) {
            kind = "EndpointSlice";
        } else if (o instanceof Node) {
            kind = "Node";
        } else {
            log.debug("Ignoring {} {} in {}", o.getApiVersion(), o.getKind(), where);
            return null;
        }
        ObjectMeta meta = o.getMetadata();
        if (meta == null || meta.getName() == null || meta.getName().isEmpty()) {
            log.warn("Skipping the {} in {}: metadata.name missing (expected: a name)", kind, where);
            return null;
        }
        if (o instanceof Node) {
            return new ObjectKey(kind, "", meta.getName());
        }
        if (meta.getNamespace() == null || meta.getNamespace().isEmpty()) {
            meta.setNamespace("default"); // as kubectl apply does
        }
        return new ObjectKey(kind, meta.getNamespace(), meta.getName());
    }

    /** Splits YAML text at document separator lines ("---", optionally followed by blanks or a comment). */
    static List<String> splitYamlDocuments(String text) {
        List<String> docs = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : text.split("\r?\n", -1)) {
            if (line.startsWith("---") && (line.length() == 3 || Character.isWhitespace(line.charAt(3)))) {
                docs.add(current.toString());
                current.setLength(0);
                String rest = line.substring(3).trim();
                if (!rest.isEmpty() && !rest.startsWith("#")) {
                    current.append(rest).append('\n');
                }
                continue;
            }
            current.append(line).append('\n');
        }
        docs.add(current.toString());
        // A leading "---" yields an empty first document; keep numbering as a reader counts documents.
        if (!docs.isEmpty() && isBlank(docs.get(0)) && text.stripLeading().startsWith("---")) {
            docs.remove(0);
        }
        return docs;
    }

    private static boolean isBlank(String doc) {
        for (String line : doc.split("\n")) {
            String t = line.trim();
            if (!t.isEmpty() && !t.startsWith("#")) {
                return false;
            }
        }
        return true;
    }

    private static boolean isJson(Path file) {
        return file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json");
    }

    private static boolean isManifest(Path file) {
        String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return !n.startsWith(".") && (n.endsWith(".yaml") || n.endsWith(".yml") || n.endsWith(".json"));
    }

    /** The manifest files of {@code path} in name order: the file itself, or a directory's manifest files. */
    static List<Path> files(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString());
        }
        if (!Files.isDirectory(path)) {
            return List.of(path);
        }
        try (Stream<Path> s = Files.list(path)) {
            return s.filter(ManifestSource::isManifest).filter(Files::isRegularFile).sorted().toList();
        }
    }

    /** Size, modification time and file identity (follows symlinks, as ConfigMap volumes use them). */
    private record Stamp(long size, FileTime modified, Object fileKey) {
    }

    private static Map<Path, Stamp> stamps(Path path) throws IOException {
        Map<Path, Stamp> out = new LinkedHashMap<>();
        for (Path f : files(path)) {
            try {
                BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
                out.put(f, new Stamp(a.size(), a.lastModifiedTime(), a.fileKey()));
            } catch (NoSuchFileException e) {
                // removed between listing and reading: simply not there
            }
        }
        return out;
    }

    /** The root cause's message on one line, shortened: enough to find the problem, never a screenful. */
    private static String oneLine(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String msg = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        msg = msg.replaceAll("\\s+", " ").trim();
        return msg.length() <= 240 ? msg : msg.substring(0, 240) + "...";
    }
}
