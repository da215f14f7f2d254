package dev.backup.manager;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The manager's catalog: name → versions → size, checksum, time and the servers holding a
 * copy, plus how many copies each name should keep. Plain and single-threaded: the
 * manager verticle owns it.
 */
public final class Catalog {
  public record Version(long version, long size, String sha256, long created, List<Integer> servers) {
  }

  public static final class Entry {
    private final String name;
    private int replicas;
    private final TreeMap<Long, Version> versions = new TreeMap<>();

    Entry(String name, int replicas) {
      this.name = name;
      this.replicas = replicas;
    }

    public String name() {
      return name;
    }

    public int replicas() {
      return replicas;
    }

    public List<Version> versions() {
      return List.copyOf(versions.values());
    }

    public Version latest() {
      return versions.isEmpty() ? null : versions.lastEntry().getValue();
    }
  }

  private final TreeMap<String, Entry> entries = new TreeMap<>();
  private final TreeMap<String, Long> lastVersion = new TreeMap<>();
  /**
   * Versions deliberately removed (delete, retention, failed transfers): copies of them
   * found later are garbage. By name, as {@link VersionRanges}: a name's removed versions
   * take a few ranges, not an entry each.
   */
  private final TreeMap<String, long[]> tombstones = new TreeMap<>();
  /** Names changed since the last {@link #drainChanges}, and versions buried since. */
  private final java.util.Set<String> dirty = new java.util.LinkedHashSet<>();
  private final List<JsonObject> buriedSince = new ArrayList<>();
  /**
   * The bytes of every kept version (each counted once, whatever its copies), by the first
   * segment of the name with its slash ("" for names without one): a user's files are all
   * under {@code user/}, so a quota check costs a lookup, not a walk of the user's files.
   */
  private final Map<String, Long> bytesByTop = new HashMap<>();
  /** See {@link #shortened()}. */
  private long shortened;

  /** The version number a new backup of {@code name} gets; never handed out twice. */
  public long reserveVersion(String name) {
    long next = lastVersion.getOrDefault(name, 0L) + 1;
    Entry e = entries.get(name);
    if (e != null && !e.versions.isEmpty()) {
      next = Math.max(next, e.versions.lastKey() + 1);
    }
    lastVersion.put(name, next);
    dirty.add(name);
    return next;
  }

  /** Records a version whose copies are all durable. */
  public void commit(String name, int replicas, Version v) {
    Entry e = entries.computeIfAbsent(name, n -> new Entry(n, replicas));
    if (replicas > e.replicas || v.servers().size() < replicas) {
      shortened++;
    }
    e.replicas = replicas;
    Version old = e.versions.put(v.version(), v);
    count(name, v.size() - (old == null ? 0 : old.size()));
    lastVersion.merge(name, v.version(), Math::max);
    dirty.add(name);
  }

  public Entry get(String name) {
    return entries.get(name);
  }

  public Version version(String name, long version) {
    Entry e = entries.get(name);
    return e == null ? null : e.versions.get(version);
  }

  /** The names a path stands for: the file of that name, or every file below that folder. */
  public List<String> namesUnder(String path) {
    return namesUnder(path, null).toList();
  }

  /**
   * The names of {@link #namesUnder(String)} that sort after {@code after} (null: all), in
   * order, found as they are taken: a page of a big folder costs its own length, not the
   * folder's. Read it before the catalog changes (on the manager's event loop).
   */
  public java.util.stream.Stream<String> namesUnder(String path, String after) {
    String prefix = path.isEmpty() ? "" : path + "/";
    java.util.stream.Stream<String> self = entries.containsKey(path) && (after == null || path.compareTo(after) > 0)
        ? java.util.stream.Stream.of(path) : java.util.stream.Stream.empty();
    var tail = after == null || after.compareTo(prefix) < 0 ? entries.tailMap(prefix, true)
        : entries.tailMap(after, false);
    return java.util.stream.Stream.concat(self, tail.keySet().stream().takeWhile(n -> n.startsWith(prefix)));
  }

  public void setReplicas(String name, int replicas) {
    Entry e = entries.get(name);
    if (e != null) {
      if (replicas > e.replicas) {
        shortened++;
      }
      e.replicas = replicas;
      dirty.add(name);
    }
  }

  /**
   * How many changes so far may have left a version with fewer copies than its file
   * wants (a holder removed, more copies wanted, a version committed short): healing
   * looks through the catalog again only after one.
   */
  public long shortened() {
    return shortened;
  }

  /** Records one more server holding a copy of a version; false if the version is gone. */
  public boolean addHolder(String name, long version, int server) {
    Version v = version(name, version);
    if (v == null) {
      return false;
    }
    if (!v.servers().contains(server)) {
      List<Integer> s = new ArrayList<>(v.servers());
      s.add(server);
      entries.get(name).versions.put(version, new Version(v.version(), v.size(), v.sha256(), v.created(), List.copyOf(s)));
      dirty.add(name);
    }
    return true;
  }

  public void removeHolder(String name, long version, int server) {
    Version v = version(name, version);
    if (v != null && v.servers().contains(server)) {
      shortened++;
      List<Integer> s = new ArrayList<>(v.servers());
      s.remove(Integer.valueOf(server));
      entries.get(name).versions.put(version, new Version(v.version(), v.size(), v.sha256(), v.created(), List.copyOf(s)));
      dirty.add(name);
    }
  }

  /** Marks a version as deliberately gone (its copies may be deleted wherever they turn up). */
  public void bury(String name, long version, long when) {
    buryRange(name, version, version);
    lastVersion.merge(name, version, Math::max);
    dirty.add(name);
    buriedSince.add(new JsonObject().put("bury", name).put("version", version).put("at", when));
  }

  private void buryRange(String name, long from, long to) {
    tombstones.put(name, VersionRanges.add(tombstones.getOrDefault(name, VersionRanges.EMPTY), from, to));
  }

  public boolean buried(String name, long version) {
    long[] r = tombstones.get(name);
    return r != null && VersionRanges.contains(r, version);
  }

  /** Removes one version (and buries it); the file goes when its last version does. Returns it, or null. */
  public Version removeVersion(String name, long version) {
    bury(name, version, System.currentTimeMillis());
    Entry e = entries.get(name);
    if (e == null) {
      return null;
    }
    Version v = e.versions.remove(version);
    if (v != null) {
      count(name, -v.size());
    }
    dirty.add(name);
    if (e.versions.isEmpty()) {
      entries.remove(name);
    }
    return v;
  }

  /** The oldest versions beyond the newest {@code keep}, to be removed. */
  public List<Version> versionsBeyond(String name, int keep) {
    Entry e = entries.get(name);
    if (e == null || e.versions.size() <= keep) {
      return List.of();
    }
    List<Version> all = new ArrayList<>(e.versions.values());
    return List.copyOf(all.subList(0, all.size() - keep));
  }

  /**
   * The bytes of every kept version of the names under {@code prefix}, a first segment
   * with its slash (a user's {@code user/}); each version counted once.
   */
  public long bytesUnder(String prefix) {
    if (prefix.indexOf('/') != prefix.length() - 1) {
      throw new IllegalArgumentException("not a first segment with its slash: " + prefix);
    }
    return bytesByTop.getOrDefault(prefix, 0L);
  }

  private void count(String name, long delta) {
    int slash = name.indexOf('/');
    bytesByTop.merge(slash < 0 ? "" : name.substring(0, slash + 1), delta, Long::sum);
  }

  /**
   * Visits up to {@code budget} files that come after {@code after} (null: from the first),
   * in name order. Returns the last name visited if more files remain, else null. (A walk
   * through a large catalog a step at a time, the catalog changing between steps: a file
   * added behind the walk is not visited, one removed ahead of it is not either.)
   */
  public String walk(String after, int budget, java.util.function.Consumer<Entry> visit) {
    return stepOver(entries, after, budget, (n, e) -> visit.accept(e));
  }

  /**
   * Visits up to {@code budget} entries of {@code map} whose keys come after {@code after}
   * (null: from the first), in order; returns the last key visited if more remain, else
   * null. (A step of a walk through a map that changes between steps.)
   */
  private static <V> String stepOver(java.util.NavigableMap<String, V> map, String after, int budget,
                                     java.util.function.BiConsumer<String, V> visit) {
    String last = null;
    int left = budget;
    for (Map.Entry<String, V> e : (after == null ? map : map.tailMap(after, false)).entrySet()) {
      if (left-- == 0) {
        return last;
      }
      visit.accept(e.getKey(), e.getValue());
      last = e.getKey();
    }
    return null;
  }

  /** How many files it holds. */
  public int size() {
    return entries.size();
  }

  /** The catalog as SPEC's {@code list --json} shows it. */
  public JsonObject toJson() {
    JsonArray files = new JsonArray();
    for (Entry e : entries.values()) {
      files.add(toJson(e));
    }
    return new JsonObject().put("files", files);
  }

  /**
   * One page of the catalog as {@link #toJson()} shows it: the entries whose names start
   * with {@code prefix} and come after {@code after} (null: from the first), until their
   * JSON reaches {@code budgetBytes} (at least one entry). {@code next} is the last name
   * given when more remain, else absent.
   */
  public JsonObject page(String prefix, String after, int budgetBytes) {
    JsonArray files = new JsonArray();
    int used = 0;
    String last = null;
    var tail = after == null ? entries.tailMap(prefix, true) : entries.tailMap(after, false);
    for (Entry e : tail.values()) {
      if (!e.name.startsWith(prefix)) {
        break;
      }
      JsonObject j = toJson(e);
      int size = j.toBuffer().length() + 1; // (its UTF-8 bytes, and its comma)
      if (!files.isEmpty() && used + size > budgetBytes) {
        return new JsonObject().put("files", files).put("next", last);
      }
      files.add(j);
      used += size;
      last = e.name;
    }
    return new JsonObject().put("files", files);
  }

  private static JsonObject toJson(Entry e) {
    JsonArray versions = new JsonArray();
    for (Version v : e.versions.values()) {
      versions.add(new JsonObject().put("version", v.version()).put("size", v.size())
          .put("sha256", v.sha256()).put("created", v.created())
          .put("replicas", new JsonArray(new ArrayList<>(v.servers()))));
    }
    return new JsonObject().put("name", e.name).put("replicas", e.replicas).put("versions", versions);
  }

  /**
   * The changes since the last call, as journal records, and forgets them: for each name
   * changed, its whole entry (or its absence) and its version counter; for each version
   * buried, its tombstone. Applying them in order to the catalog as it was gives the
   * catalog as it is.
   */
  public List<JsonObject> drainChanges() {
    List<JsonObject> out = new ArrayList<>(buriedSince);
    for (String n : dirty) {
      JsonObject r = new JsonObject().put("name", n).put("last", lastVersion.getOrDefault(n, 0L));
      Entry e = entries.get(n);
      if (e != null) {
        r.put("file", toJson(e));
      }
      out.add(r);
    }
    dirty.clear();
    buriedSince.clear();
    return out;
  }

  /** Applies one journal record of {@link #drainChanges}. */
  public void apply(JsonObject r) {
    if (r.containsKey("bury")) {
      buryRange(r.getString("bury"), r.getLong("version"), r.getLong("version"));
      return;
    }
    String name = r.getString("name");
    if (name == null) {
      throw new IllegalArgumentException("a journal record without a name");
    }
    Entry gone = entries.remove(name);
    if (gone != null) {
      gone.versions.values().forEach(v -> count(name, -v.size()));
    }
    JsonObject f = r.getJsonObject("file");
    if (f != null) {
      load(this, f);
    }
    lastVersion.merge(name, r.getLong("last", 0L), Math::max);
  }

  private static void load(Catalog c, JsonObject f) {
    for (Object vo : f.getJsonArray("versions", new JsonArray())) {
      JsonObject v = (JsonObject) vo;
      List<Integer> servers = new ArrayList<>();
      v.getJsonArray("replicas", new JsonArray()).forEach(x -> servers.add(((Number) x).intValue()));
      c.commit(f.getString("name"), f.getInteger("replicas", 2), new Version(v.getLong("version"),
          v.getLong("size"), v.getString("sha256"), v.getLong("created", 0L), List.copyOf(servers)));
    }
  }

  /**
   * The catalog as it is now, for writing a snapshot on another thread while this one goes
   * on changing it: {@link #freezer()} taken in one go (a small catalog, tests).
   */
  public Frozen freeze() {
    Freezer f = freezer();
    while (!f.step(Integer.MAX_VALUE)) {
      // (one step a kind: files, counters, tombstones)
    }
    return f.frozen();
  }

  /** A {@link Freezer} of this catalog. */
  public Freezer freezer() {
    return new Freezer();
  }

  /**
   * Takes a view of the catalog for a snapshot a step at a time, so that the thread that
   * owns it (the manager's event loop) is never held for long: each step takes the next
   * files in name order, then the next version counters, then the next tombstones (all
   * three kept sorted for that), each file's name, copy count and versions (records that
   * never change, shared, not copied). Turning them into JSON (several objects a version)
   * happens on the writer's thread.
   *
   * <p>The catalog may change between steps, so the view is fuzzy: each file as it was
   * when its step took it, some before a change made during the steps, some after. That
   * is enough because every change made after the freezer was created is also in the
   * journal that follows the snapshot ({@link #drainChanges} after it), and a journal
   * record is idempotent: a file's whole entry (or its absence), a counter that only goes
   * up, a tombstone. Replayed over the view, they give the catalog as it is.
   */
  public final class Freezer {
    private final List<FrozenFile> files = new ArrayList<>();
    private final Map<String, Long> counters = new java.util.LinkedHashMap<>();
    private final Map<String, long[]> buried = new java.util.LinkedHashMap<>();
    /** 0: files, 1: counters, 2: tombstones, 3: all taken. */
    private int phase;
    /** The last key taken in this phase, null before the first. */
    private String after;

    private Freezer() {
    }

    /** Takes up to {@code budget} more files, counters or tombstones (of one kind); true once it has all. */
    public boolean step(int budget) {
      after = switch (phase) {
        case 0 -> stepOver(entries, after, budget, (n, e) -> files.add(
            new FrozenFile(e.name, e.replicas, e.versions.values().toArray(new Version[0]))));
        case 1 -> stepOver(lastVersion, after, budget, counters::put);
        case 2 -> stepOver(tombstones, after, budget, buried::put);
        default -> null;
      };
      if (after == null) {
        phase = Math.min(3, phase + 1);
      }
      return phase == 3;
    }

    /** The view, once {@link #step} has said it has all. */
    public Frozen frozen() {
      if (phase < 3) {
        throw new IllegalStateException("not all taken yet");
      }
      return new Frozen(files, counters, buried);
    }
  }

  /** One file of a {@link Frozen} catalog. */
  public record FrozenFile(String name, int replicas, Version[] versions) {
  }

  /** See {@link #freeze()}: read it from any one thread. */
  public record Frozen(List<FrozenFile> files, Map<String, Long> lastVersion, Map<String, long[]> tombstones) {
    /**
     * Writes it as {@link #snapshot()} would encode it (with {@code gen} added), one
     * element at a time: the snapshot is never whole in memory.
     */
    public void write(com.fasterxml.jackson.core.JsonGenerator json, long gen) throws java.io.IOException {
      json.writeStartObject();
      json.writeArrayFieldStart("files");
      for (FrozenFile f : files) {
        json.writeStartObject();
        json.writeStringField("name", f.name());
        json.writeNumberField("replicas", f.replicas());
        json.writeArrayFieldStart("versions");
        for (Version v : f.versions()) {
          json.writeStartObject();
          json.writeNumberField("version", v.version());
          json.writeNumberField("size", v.size());
          json.writeStringField("sha256", v.sha256());
          json.writeNumberField("created", v.created());
          json.writeArrayFieldStart("replicas");
          for (int id : v.servers()) {
            json.writeNumber(id);
          }
          json.writeEndArray();
          json.writeEndObject();
        }
        json.writeEndArray();
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeNumberField("v", 1);
      json.writeObjectFieldStart("lastVersion");
      for (Map.Entry<String, Long> c : lastVersion.entrySet()) {
        json.writeNumberField(c.getKey(), c.getValue());
      }
      json.writeEndObject();
      json.writeArrayFieldStart("tombstones");
      for (Map.Entry<String, long[]> t : tombstones.entrySet()) {
        long[] r = t.getValue();
        for (int i = 0; i < r.length; i += 2) {
          json.writeStartObject();
          json.writeStringField("name", t.getKey());
          json.writeNumberField("from", r[i]);
          json.writeNumberField("to", r[i + 1]);
          json.writeEndObject();
        }
      }
      json.writeEndArray();
      json.writeNumberField("gen", gen);
      json.writeEndObject();
    }
  }

  /** The catalog with what it needs to be loaded again (version counters included). */
  public JsonObject snapshot() {
    JsonObject counters = new JsonObject();
    lastVersion.forEach(counters::put);
    JsonArray buried = new JsonArray();
    tombstones.forEach((name, r) -> {
      for (int i = 0; i < r.length; i += 2) {
        buried.add(new JsonObject().put("name", name).put("from", r[i]).put("to", r[i + 1]));
      }
    });
    return toJson().put("v", 1).put("lastVersion", counters).put("tombstones", buried);
  }

  public static Catalog fromSnapshot(JsonObject j) {
    Catalog c = new Catalog();
    for (Object o : j.getJsonArray("files", new JsonArray())) {
      c.loadFile((JsonObject) o);
    }
    for (Object o : j.getJsonArray("tombstones", new JsonArray())) {
      c.loadTombstone((JsonObject) o);
    }
    JsonObject counters = j.getJsonObject("lastVersion", new JsonObject());
    for (String k : counters.fieldNames()) {
      c.loadCounter(k, counters.getLong(k));
    }
    c.loaded();
    return c;
  }

  // A snapshot's parts, for a reader that streams it (see CatalogStore): the same as
  // fromSnapshot, one element at a time.

  /** One element of a snapshot's {@code files}. */
  void loadFile(JsonObject f) {
    load(this, f);
  }

  /**
   * One element of a snapshot's {@code tombstones}: a range of a name's versions
   * ({@code from}, {@code to}), or one version (snapshots before ranges).
   */
  void loadTombstone(JsonObject t) {
    Long one = t.getLong("version");
    long from = one != null ? one : t.getLong("from");
    long to = one != null ? one : t.getLong("to");
    buryRange(t.getString("name"), from, to);
  }

  /** One field of a snapshot's {@code lastVersion}. */
  void loadCounter(String name, long last) {
    lastVersion.merge(name, last, Math::max);
  }

  /** The snapshot is in: what was loaded is not a change. */
  void loaded() {
    dirty.clear();
  }
}
