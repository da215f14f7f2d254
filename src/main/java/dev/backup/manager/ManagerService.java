package dev.backup.manager;

import dev.backup.cluster.Addresses;
import dev.backup.cluster.Backoff;
import dev.backup.cluster.Ticket;
import dev.backup.config.Config;
import dev.backup.placement.LoadAwarePlacement;
import dev.backup.placement.PlacementPolicy;
import dev.backup.placement.ServerLoad;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Names;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the manager does for clients: placement, restore plans, replication changes,
 * delete, verify, and reconciling a server that comes back. Runs on the manager
 * verticle's event loop; talks to servers over the event bus only.
 */
final class ManagerService {
  private static final Logger log = LoggerFactory.getLogger(ManagerService.class);
  /** A page of a list or a restore plan stays under this (a frame's body is at most 1 MiB). */
  static final int PAGE_BYTES = 512 * 1024;
  /**
   * A verify, delete or replicas answer names at most this many problems, versions or
   * changes and counts the rest (one with a name of 1024 characters of 3 UTF-8 bytes each is about 3.2 KB).
   */
  static final int ANSWER_NAMED = 200;

  /** The first {@link #ANSWER_NAMED} items: an answer must fit a frame, so it counts the rest. */
  private static JsonArray firstNamed(JsonArray items) {
    return items.size() <= ANSWER_NAMED ? items : new JsonArray(new ArrayList<>(items.getList().subList(0, ANSWER_NAMED)));
  }
  private static final DeliveryOptions SHORT = new DeliveryOptions().setSendTimeout(5_000);
  private static final DeliveryOptions LONG = new DeliveryOptions().setSendTimeout(600_000);

  private final Vertx vertx;
  private final Config config;
  private final ServerTable servers;
  private final PlacementPolicy placement = new LoadAwarePlacement();
  private final Supplier<Future<Void>> save;
  private final Map<String, Long> pending = new HashMap<>();
  /** Sizes of the versions being written, by key: they count against their user's quota. */
  private final Map<String, Long> pendingBytes = new HashMap<>();
  Catalog catalog = new Catalog();

  ManagerService(Vertx vertx, Config config, ServerTable servers, Supplier<Future<Void>> save) {
    this.vertx = vertx;
    this.config = config;
    this.servers = servers;
    this.save = save;
  }

  void serversChanged() {
    placement.onClusterChanged(servers.loads());
  }

  /**
   * A user's view of the catalog: the user's files are kept under {@code user/}, and the
   * user names them without it. The unnamed namespace ({@code user} null: a manager
   * without users) sees every name as it is.
   */
  record Namespace(String user, long quota) {
    static final Namespace OPEN = new Namespace(null, 0);

    String prefix() {
      return user == null ? "" : user + "/";
    }

    String ticketUser() {
      return user == null ? "" : user;
    }

    /** The catalog's name for a valid name of this namespace. */
    String in(String name) {
      return user == null ? name : Names.validate(prefix() + Names.validate(name));
    }

    /** The namespace's name for a catalog name. */
    String out(String name) {
      return name.substring(prefix().length());
    }

    /** The catalog names at or under {@code path} ("" for all) of this namespace. */
    List<String> under(Catalog catalog, String path) {
      return under(catalog, path, null).toList();
    }

    /**
     * The catalog names at or under {@code path} that come after the namespace's name
     * {@code after} (null: all), in order, found as they are taken.
     */
    java.util.stream.Stream<String> under(Catalog catalog, String path, String after) {
      String from = after == null ? null : prefix() + after;
      if (user == null) {
        return catalog.namesUnder(path, from);
      }
      return (path.isEmpty() ? catalog.namesUnder(user, from) : catalog.namesUnder(in(path), from))
          .filter(n -> n.startsWith(prefix()));
    }
  }

  Future<JsonObject> handle(JsonObject req) {
    return handle(req, Namespace.OPEN);
  }

  Future<JsonObject> handle(JsonObject req, Namespace ns) {
    String op = req.getString("op", "");
    return switch (op) {
      case "ping" -> Future.succeededFuture(new JsonObject().put("role", "manager").put("ready", true));
      case "place" -> req.containsKey("batch") ? placeBatch(req, ns) : place(req, ns);
      case "stat" -> Future.succeededFuture(stat(req, ns));
      case "list" -> Future.succeededFuture(list(req, ns));
      case "status" -> health().map(h -> servers.toJson().put("health", h));
      case "restore" -> Future.succeededFuture(restorePlan(req, ns));
      case "replicas" -> replicas(req, ns);
      case "delete" -> delete(req, ns);
      case "verify" -> verify(req, ns);
      default -> Future.failedFuture(new BackupException(ErrorCode.PROTOCOL, "unknown request '" + op + "'"));
    };
  }

  private static String key(String name, long version) {
    return name + "\u0000" + version;
  }

  // ---- backup ----

  /** Latest version (size, checksum) of each asked name, so the client can skip unchanged files. */
  private JsonObject stat(JsonObject req, Namespace ns) {
    JsonObject files = new JsonObject();
    for (Object o : req.getJsonArray("names", new JsonArray())) {
      String name;
      try {
        name = ns.in(String.valueOf(o));
      } catch (BackupException invalid) {
        continue; // a name that cannot be backed up has no latest version
      }
      Catalog.Entry e = catalog.get(name);
      if (e != null && e.latest() != null) {
        Catalog.Version v = e.latest();
        files.put(ns.out(e.name()), new JsonObject().put("version", v.version()).put("size", v.size()).put("sha256", v.sha256())
            .put("replicas", e.replicas()));
      }
    }
    return new JsonObject().put("files", files);
  }

  /**
   * The catalog as one namespace sees it; {@code paged}, one page of it: the files
   * after {@code after}, as many as fit in {@link #PAGE_BYTES}, and the name to ask
   * after next ({@code next}) while more remain.
   */
  private JsonObject list(JsonObject req, Namespace ns) {
    if (req.getBoolean("paged", false)) {
      String after = req.getString("after");
      JsonObject page = catalog.page(ns.prefix(), after == null ? null : ns.prefix() + after, PAGE_BYTES);
      if (ns.user() != null) {
        for (Object o : page.getJsonArray("files")) {
          JsonObject f = (JsonObject) o;
          f.put("name", ns.out(f.getString("name")));
        }
        if (page.getString("next") != null) {
          page.put("next", ns.out(page.getString("next")));
        }
      }
      return page;
    }
    JsonObject all = catalog.toJson();
    if (ns.user() == null) {
      return all;
    }
    JsonArray mine = new JsonArray();
    for (Object o : all.getJsonArray("files")) {
      JsonObject f = (JsonObject) o;
      if (f.getString("name").startsWith(ns.prefix())) {
        mine.add(f.put("name", ns.out(f.getString("name"))));
      }
    }
    return new JsonObject().put("files", mine);
  }

  private Future<JsonObject> place(JsonObject req, Namespace ns) {
    String name = ns.in(Names.validate(req.getString("name")));
    int replicas = req.getInteger("replicas", config.defaultReplicas());
    long size = req.getLong("size", -1L);
    if (size < 0) {
      throw new BackupException(ErrorCode.USAGE, "size missing or negative");
    }
    checkReplicas(replicas);
    String sha = req.getString("sha256");
    Catalog.Entry e = catalog.get(name);
    if (sha != null && e != null && e.latest() != null && e.latest().sha256().equals(sha) && e.latest().size() == size) {
      return Future.succeededFuture(new JsonObject().put("unchanged", true).put("version", e.latest().version()));
    }
    checkQuota(ns, size);
    long version = catalog.reserveVersion(name);
    pendingBytes.put(key(name, version), size);
    Future<JsonObject> placed;
    try {
      placed = placeChain(ns, name, version, replicas, size, new HashSet<>(), 3);
    } catch (RuntimeException noChain) {
      // (No chain at all, e.g. no live server has room: the bytes are not pending.)
      placed = Future.failedFuture(noChain);
    }
    return placed.onFailure(x -> pendingBytes.remove(key(name, version)));
  }

  /** The most files one {@code place} request may carry. */
  static final int PLACE_BATCH_MAX = 64;

  /**
   * Several files placed with one request ({@code batch}: each a body of a single
   * {@code place}), answered in order with what each would have been answered alone, or
   * its failure ({@code error}: {@code code} and {@code message}): one file refused (its
   * quota, a bad name) does not fail the others. The announcements to the primaries go
   * together too, one message per primary. A client with many small files in flight so
   * makes a round trip to the manager per batch, not per file.
   */
  private Future<JsonObject> placeBatch(JsonObject req, Namespace ns) {
    JsonArray items = req.getJsonArray("batch");
    if (items.isEmpty() || items.size() > PLACE_BATCH_MAX) {
      throw new BackupException(ErrorCode.PROTOCOL, "a place batch holds 1 to " + PLACE_BATCH_MAX + " files, not "
          + items.size());
    }
    List<Future<JsonObject>> answers = new ArrayList<>();
    gathering = new LinkedHashMap<>();
    try {
      for (Object o : items) {
        Future<JsonObject> one;
        try {
          one = place((JsonObject) o, ns);
        } catch (RuntimeException e) {
          one = Future.failedFuture(e);
        }
        answers.add(one.recover(t -> {
          return Future.succeededFuture(new JsonObject().put("error", BackupException.fromRequest(t).toJson()));
        }));
      }
    } finally {
      Map<Integer, List<Announcement>> gathered = gathering;
      gathering = null;
      gathered.forEach(this::announceTogether);
    }
    return Future.all(answers).map(x -> {
      JsonArray out = new JsonArray();
      answers.forEach(a -> out.add(a.result()));
      return new JsonObject().put("answers", out);
    });
  }

  private record Announcement(JsonObject body, io.vertx.core.Promise<Void> done) {
  }

  /** While a batch is being placed: its announcements, by primary, to be sent together. */
  private Map<Integer, List<Announcement>> gathering;

  /** Tells {@code primary} to expect a transfer (with a batch being placed: with the batch's others). */
  private Future<Void> announce(int primary, JsonObject body) {
    if (gathering == null) {
      return vertx.eventBus().request(Addresses.prepare(primary), body, SHORT).mapEmpty();
    }
    io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
    gathering.computeIfAbsent(primary, k -> new ArrayList<>()).add(new Announcement(body, done));
    return done.future();
  }

  private void announceTogether(int primary, List<Announcement> list) {
    if (list.size() == 1) {
      vertx.eventBus().request(Addresses.prepare(primary), list.get(0).body(), SHORT)
          .onComplete(ar -> list.get(0).done().handle(ar.mapEmpty()));
      return;
    }
    JsonArray batch = new JsonArray();
    list.forEach(a -> batch.add(a.body()));
    vertx.eventBus().<JsonObject>request(Addresses.prepare(primary), new JsonObject().put("batch", batch), SHORT)
        .onComplete(ar -> {
          JsonArray results = ar.succeeded() ? ar.result().body().getJsonArray("results") : null;
          for (int i = 0; i < list.size(); i++) {
            io.vertx.core.Promise<Void> done = list.get(i).done();
            if (ar.failed()) {
              done.fail(ar.cause());
            } else if (results == null || i >= results.size()) {
              done.fail(new BackupException(ErrorCode.PROTOCOL, "server " + primary + " answered the batch short"));
            } else if (results.getJsonObject(i).getBoolean("ok", false)) {
              done.complete();
            } else {
              done.fail(BackupException.fromJson(results.getJsonObject(i)));
            }
          }
        });
  }

  /**
   * Refuses a new version of {@code size} bytes that would take a user past their quota:
   * the sizes of every kept version of their files (each counted once, whatever its
   * copies) and of those being written.
   */
  private void checkQuota(Namespace ns, long size) {
    if (ns.user() == null || ns.quota() <= 0) {
      return;
    }
    long used = catalog.bytesUnder(ns.prefix());
    for (Map.Entry<String, Long> p : pendingBytes.entrySet()) {
      if (p.getKey().startsWith(ns.prefix())) {
        used += p.getValue();
      }
    }
    if (used + size > ns.quota()) {
      throw new BackupException(ErrorCode.QUOTA, "quota exceeded: " + ns.user() + "'s files take " + used + " of "
          + ns.quota() + " bytes, and this one needs " + size + " more; delete files or versions to make room");
    }
  }

  private void checkReplicas(int replicas) {
    if (replicas < 1) {
      throw new BackupException(ErrorCode.USAGE, "replicas must be at least 1, not " + replicas);
    }
    int live = placement.liveCount();
    if (replicas > live) {
      throw new BackupException(ErrorCode.NOT_ENOUGH_SERVERS, replicas + " copies asked but only " + live
          + " server" + (live == 1 ? " is" : "s are") + " alive; start more servers or ask for fewer copies");
    }
  }

  /** Chooses a chain and announces it to its primary; a primary that fails is excluded and another chain tried. */
  private Future<JsonObject> placeChain(Namespace ns, String name, long version, int replicas, long size, Set<Integer> exclude,
                                        int attempts) {
    List<ServerLoad> chain = placement.choose(replicas, size, exclude);
    String transferId = UUID.randomUUID().toString();
    List<Ticket.Hop> hops = new ArrayList<>();
    for (ServerLoad s : chain) {
      hops.add(new Ticket.Hop(s.id(), s.host(), s.port()));
      servers.addTransfer(s.id());
    }
    serversChanged();
    Ticket ticket = Ticket.sign(config.secret(), transferId, Ticket.PUT, ns.ticketUser(), name, version, size, hops,
        expiry());
    ServerLoad primary = chain.get(0);
    markPending(name, version);
    return announce(primary.id(), new JsonObject().put("ticket", ticket.toJson()).put("replicas", replicas))
        .map(reply -> {
          log.info("manager: placed {} v{} ({} bytes) on {} (transfer {})", name, version, size,
              hops.stream().map(Ticket.Hop::id).toList(), transferId);
          return new JsonObject().put("transferId", transferId).put("version", version)
              .put("replicas", replicas).put("ticket", ticket.toJson())
              .put("primary", new JsonObject().put("host", primary.host()).put("port", primary.port()));
        })
        .recover(t -> {
          BackupException e = BackupException.wrap(t);
          log.warn("manager: server {} refused transfer {}: {}", primary.id(), transferId, e.getMessage());
          if (attempts <= 1) {
            return Future.failedFuture(e);
          }
          exclude.add(primary.id());
          return placeChain(ns, name, version, replicas, size, exclude, attempts - 1);
        });
  }

  private long expiry() {
    return System.currentTimeMillis() + config.ticketTtlSeconds() * 1000L;
  }

  /** A version being written: reconciliation must not remove its copies before it is committed. */
  private void markPending(String name, long version) {
    long until = expiry();
    pending.put(key(name, version), until);
    vertx.setTimer(config.ticketTtlSeconds() * 1000L + 1000, t -> {
      if (pending.remove(key(name, version), until)) {
        pendingBytes.remove(key(name, version));
      }
    });
  }

  /** A primary (or the target of a copy) reports durable copies. */
  Future<Void> committed(JsonObject b) {
    List<Integer> ids = new ArrayList<>();
    b.getJsonArray("servers", new JsonArray()).forEach(x -> ids.add(((Number) x).intValue()));
    String name = b.getString("name");
    long version = b.getLong("version");
    if (b.getBoolean("copy", false)) {
      Catalog.Version v = catalog.version(name, version);
      Catalog.Entry e = catalog.get(name);
      if (v != null && e != null && ids.stream().noneMatch(v.servers()::contains) && present(v) >= e.replicas()) {
        // A copy reported late (its heal had moved on and the file has its copies): not wanted.
        return Future.failedFuture(new BackupException(ErrorCode.EXISTS, name + " v" + version
            + " already has its " + e.replicas() + " copies"));
      }
      for (int id : ids) {
        if (!catalog.addHolder(name, version, id)) {
          return Future.failedFuture(new BackupException(ErrorCode.NOT_FOUND, name + " v" + version + " was deleted"));
        }
      }
      return save.get();
    }
    pending.remove(key(name, version));
    pendingBytes.remove(key(name, version));
    if (catalog.buried(name, version)) {
      // Its transfer was reported aborted first (a report tried again after its session
      // failed meanwhile), or it was deleted: its copies are being removed, it must not
      // come back as a version without them.
      return Future.failedFuture(new BackupException(ErrorCode.NOT_FOUND, name + " v" + version
          + " was aborted or deleted before its copies were reported; not recorded"));
    }
    Catalog.Version committed = new Catalog.Version(version, b.getLong("size"), b.getString("sha256"),
        b.getLong("created", System.currentTimeMillis()), List.copyOf(ids));
    catalog.commit(name, b.getInteger("replicas", ids.size()), committed);
    if (present(committed) < catalog.get(name).replicas()) {
      // A server of the chain died after storing its copy, before this report: its death
      // was looked at before the version existed. Look again now, not at the next rescan.
      healPending = true;
    }
    List<Catalog.Version> old = catalog.versionsBeyond(name, config.versionsKept());
    for (Catalog.Version v : old) {
      catalog.removeVersion(name, v.version());
      log.info("manager: {} v{} is beyond the {} versions kept; removing it", name, v.version(), config.versionsKept());
    }
    return save.get().onSuccess(x -> old.forEach(v -> deleteCopies(name, v.version(), v.servers())));
  }

  // ---- restore ----

  /** The files a restore gets, each with its live sources (least loaded first) and a read ticket for each. */
  private JsonObject restorePlan(JsonObject req, Namespace ns) {
    String path = req.getString("path", "");
    if (!path.isEmpty()) {
      Names.validate(path);
    }
    Long version = req.getLong("version");
    // Paged: one page: the files after "after", as many as fit in PAGE_BYTES (their
    // read tickets made now, so that a long restore's later pages get fresh ones). The
    // names are walked from "after" on, so a page costs its own length.
    boolean paged = req.getBoolean("paged", false);
    String after = paged ? req.getString("after") : null;
    List<String> first = ns.under(catalog, path, null).limit(2).toList();
    if (first.isEmpty() && after != null) {
      // Deleted since the restore's first page: nothing more to restore.
      return new JsonObject().put("path", path).put("single", false).put("files", new JsonArray());
    }
    if (first.isEmpty()) {
      throw new BackupException(ErrorCode.NOT_FOUND, "nothing backed up under the name '" + Names.printable(path) + "'");
    }
    boolean single = first.size() == 1 && ns.out(first.get(0)).equals(path);
    if (version != null && !single) {
      throw new BackupException(ErrorCode.USAGE, "--version needs a single file, and '" + path + "' is a folder");
    }
    JsonArray files = new JsonArray();
    int used = 0;
    String next = null;
    for (String n : (Iterable<String>) ns.under(catalog, path, after)::iterator) {
      String shown = ns.out(n);
      Catalog.Entry e = catalog.get(n);
      Catalog.Version v = version == null ? e.latest() : catalog.version(n, version);
      if (v == null) {
        throw new BackupException(ErrorCode.NOT_FOUND, shown + " has no version " + version + " (versions: "
            + e.versions().stream().map(x -> String.valueOf(x.version())).toList() + ")");
      }
      JsonObject f = new JsonObject().put("name", shown).put("version", v.version()).put("size", v.size())
          .put("sha256", v.sha256()).put("sources", sources(ns, n, v));
      if (paged) {
        int size = f.toBuffer().length() + 1; // (its UTF-8 bytes, and its comma)
        if (!files.isEmpty() && used + size > PAGE_BYTES) {
          next = files.getJsonObject(files.size() - 1).getString("name");
          break;
        }
        used += size;
      }
      files.add(f);
    }
    JsonObject plan = new JsonObject().put("path", path).put("single", single).put("files", files);
    return next == null ? plan : plan.put("next", next);
  }

  private JsonArray sources(Namespace ns, String name, Catalog.Version v) {
    Map<Integer, ServerLoad> loads = new HashMap<>();
    servers.loads().forEach(l -> loads.put(l.id(), l));
    List<ServerLoad> live = v.servers().stream().map(loads::get)
        .filter(l -> l != null && l.alive())
        .sorted(Comparator.comparingInt(ServerLoad::transfers).thenComparingLong(ServerLoad::latencyMicros))
        .toList();
    JsonArray out = new JsonArray();
    for (ServerLoad s : live) {
      Ticket t = Ticket.sign(config.secret(), UUID.randomUUID().toString(), Ticket.GET, ns.ticketUser(), name,
          v.version(), v.size(),
          List.of(new Ticket.Hop(s.id(), s.host(), s.port())), expiry());
      out.add(new JsonObject().put("id", s.id()).put("host", s.host()).put("port", s.port()).put("ticket", t.toJson()));
    }
    return out;
  }

  // ---- replication ----

  private Future<JsonObject> replicas(JsonObject req, Namespace ns) {
    String path = Names.validate(req.getString("path"));
    int r = req.getInteger("replicas", 0);
    checkReplicas(r);
    // ("exact": the file of that name only, not the files under a folder of the same name.)
    List<String> names = req.getBoolean("exact", false) && catalog.get(ns.in(path)) != null
        ? List.of(ns.in(path)) : ns.under(catalog, path);
    if (names.isEmpty()) {
      throw new BackupException(ErrorCode.NOT_FOUND, "nothing backed up under the name '" + Names.printable(path) + "'");
    }
    JsonArray changes = new JsonArray();
    List<java.util.function.Consumer<Boolean>> removals = new ArrayList<>();
    List<Future<?>> removed = new ArrayList<>();
    List<Map.Entry<String, Long>> versions = new ArrayList<>();
    for (String n : names) {
      catalog.setReplicas(n, r);
      for (Catalog.Version v : catalog.get(n).versions()) {
        versions.add(Map.entry(n, v.version()));
      }
    }
    // One version after the other, each next one in a turn of its own: chained futures, a
    // version that takes a while (a copy) followed by thousands done at once would complete
    // them all inside one another, deeper than a thread's stack.
    io.vertx.core.Promise<Void> all = io.vertx.core.Promise.promise();
    java.util.Iterator<Map.Entry<String, Long>> next = versions.iterator();
    Runnable[] step = new Runnable[1];
    step[0] = () -> {
      if (!next.hasNext()) {
        all.complete();
        return;
      }
      Map.Entry<String, Long> nv = next.next();
      String n = nv.getKey();
      long version = nv.getValue();
      Future.<Void>succeededFuture().compose(x -> adjust(n, version, r)).onComplete(ar -> {
        if (ar.failed()) {
          all.fail(ar.cause());
          return;
        }
        JsonObject c = ar.result();
        List<Integer> extra = c.getJsonArray("removed").stream().map(o -> ((Number) o).intValue()).toList();
        if (!extra.isEmpty()) {
          removals.add(ok -> {
            if (ok) {
              removed.add(deleteCopies(n, version, extra));
            } else {
              extra.forEach(id -> removed(n, version, id)); // (left to reconciliation)
            }
          });
        }
        changes.add(c.put("name", ns.out(n)));
        vertx.runOnContext(x -> step[0].run());
      });
    };
    step[0].run();
    Future<Void> chain = all.future();
    // Extra copies are removed once the catalog that no longer lists them is durable, all
    // at once, and the answer comes when they are gone (a server that does not answer is
    // asked for its inventory again, and reconciliation removes them). So are those of
    // the versions done before one that failed (a copy with no live holder to copy from).
    return chain.transform(done -> save.get()
            .onFailure(e -> removals.forEach(rm -> rm.accept(false)))
            .compose(x -> {
              removals.forEach(rm -> rm.accept(true));
              return Future.join(removed).transform(y -> Future.<Void>succeededFuture());
            })
            .compose(x -> done.succeeded() ? Future.<Void>succeededFuture() : Future.<Void>failedFuture(done.cause())))
        .map(x -> new JsonObject().put("replicas", r)
            .put("changes", firstNamed(changes)).put("changeCount", changes.size()));
  }

  /** Brings one version to {@code r} copies, once no heal of it is running. */
  private Future<JsonObject> adjust(String name, long version, int r) {
    if (healing.containsKey(key(name, version))) {
      return vertx.timer(100).compose(x -> adjust(name, version, r));
    }
    return adjustNow(name, version, r);
  }

  /** Brings one version to {@code r} copies: copies server to server, or removes the extra ones. */
  private Future<JsonObject> adjustNow(String name, long version, int r) {
    Catalog.Version v = catalog.version(name, version);
    JsonObject change = new JsonObject().put("name", name).put("version", version)
        .put("added", new JsonArray()).put("removed", new JsonArray());
    if (v == null) {
      return Future.succeededFuture(change);
    }
    List<Integer> holders = new ArrayList<>(v.servers());
    if (holders.size() > r) {
      Map<Integer, ServerLoad> loads = new HashMap<>();
      servers.loads().forEach(l -> loads.put(l.id(), l));
      // Dead holders first, then the most loaded.
      holders.sort(Comparator.comparing((Integer id) -> loads.containsKey(id) && loads.get(id).alive())
          .thenComparing(id -> loads.containsKey(id) ? -loads.get(id).bytes() : 0L));
      List<Integer> remove = holders.subList(0, holders.size() - r);
      for (int id : remove) {
        catalog.removeHolder(name, version, id);
        removing(name, version).add(id);
        change.getJsonArray("removed").add(id);
      }
      // (The copies themselves go once the catalog is saved: see replicas.)
      return Future.succeededFuture(change);
    }
    int missing = r - holders.size();
    if (missing == 0) {
      return Future.succeededFuture(change);
    }
    List<ServerLoad> liveHolders = servers.loads().stream().filter(l -> l.alive() && holders.contains(l.id())).toList();
    if (liveHolders.isEmpty()) {
      return Future.failedFuture(new BackupException(ErrorCode.NOT_ENOUGH_SERVERS,
          "no live server holds " + name + " v" + version + " to copy it from"));
    }
    List<ServerLoad> targets = placement.choose(missing, v.size(), notTargets(name, v));
    List<Future<Integer>> copies = new ArrayList<>();
    String k = key(name, version);
    Heal mine = new Heal(-1, -1);
    healing.put(k, mine);
    for (int i = 0; i < targets.size(); i++) {
      copies.add(copy(name, v, liveHolders.get(i % liveHolders.size()), targets.get(i), r, false));
    }
    return Future.all(copies).onComplete(x -> {
      healing.remove(k, mine);
      // The version was skipped by any look made meanwhile: the next one sees it again.
      healPending = true;
    }).map(x -> {
      copies.forEach(f -> change.getJsonArray("added").add(f.result()));
      return change;
    });
  }

  /**
   * Has {@code source} send its copy to {@code target}; completes when the target holds it
   * durably. A {@code heal} copy made while clients are being served is told to make way
   * for them (it takes at most heal-percent of the time).
   */
  Future<Integer> copy(String name, Catalog.Version v, ServerLoad source, ServerLoad target, int replicas,
      boolean heal) {
    String transferId = UUID.randomUUID().toString();
    Ticket t = Ticket.sign(config.secret(), transferId, name, v.version(), v.size(),
        List.of(new Ticket.Hop(target.id(), target.host(), target.port())), expiry());
    servers.addTransfer(source.id());
    servers.addTransfer(target.id());
    JsonObject body = new JsonObject().put("ticket", t.toJson()).put("replicas", replicas)
        .put("busy", heal && servers.clientsBeingServed());
    return vertx.eventBus().request(Addresses.prepare(target.id()), body, SHORT)
        .compose(x -> vertx.eventBus().request(Addresses.copy(source.id()), body, LONG))
        .map(x -> {
          log.info("manager: copied {} v{} from server {} to server {}", name, v.version(), source.id(), target.id());
          return target.id();
        })
        .recover(e -> Future.failedFuture(BackupException.wrap(e)));
  }

  // ---- delete ----

  private Future<JsonObject> delete(JsonObject req, Namespace ns) {
    Long version = req.getLong("version");
    Map<String, List<Catalog.Version>> doomed = new LinkedHashMap<>();
    for (Object o : req.getJsonArray("paths", new JsonArray())) {
      String path = Names.validate(String.valueOf(o));
      List<String> names = ns.under(catalog, path);
      if (names.isEmpty()) {
        throw new BackupException(ErrorCode.NOT_FOUND, "nothing backed up under the name '" + Names.printable(path) + "'");
      }
      if (version != null && !(names.size() == 1 && ns.out(names.get(0)).equals(path))) {
        throw new BackupException(ErrorCode.USAGE, "--version needs a single file, and '" + path + "' is a folder");
      }
      for (String n : names) {
        Catalog.Entry e = catalog.get(n);
        if (version != null) {
          Catalog.Version v = catalog.version(n, version);
          if (v == null) {
            throw new BackupException(ErrorCode.NOT_FOUND, ns.out(n) + " has no version " + version);
          }
          doomed.put(n, List.of(v));
        } else {
          doomed.put(n, e.versions());
        }
      }
    }
    JsonArray deleted = new JsonArray();
    List<Future<Set<Integer>>> sent = new ArrayList<>();
    doomed.forEach((n, versions) -> {
      for (Catalog.Version v : versions) {
        catalog.removeVersion(n, v.version());
        deleted.add(new JsonObject().put("name", ns.out(n)).put("version", v.version()).put("replicas", new JsonArray(
            new ArrayList<>(v.servers()))));
      }
    });
    return save.get().compose(x -> {
      doomed.forEach((n, versions) -> versions.forEach(v -> sent.add(deleteCopies(n, v.version(), v.servers()))));
      return Future.join(sent);
    }).map(x -> {
      Set<Integer> later = new HashSet<>();
      for (Future<Set<Integer>> f : sent) {
        if (f.succeeded()) {
          later.addAll(f.result());
        }
      }
      return new JsonObject().put("deleted", firstNamed(deleted)).put("deletedCount", deleted.size()).put("deferred", later.size())
          .put("deferredServers", new JsonArray(new ArrayList<>(later)));
    });
  }

  /**
   * Tells each live holder to remove its copy; a holder that is down removes it when it
   * comes back (reconciliation). Completes with the holders left for later.
   */
  private Future<Set<Integer>> deleteCopies(String name, long version, List<Integer> holders) {
    return deleteCopies(name, version, holders, false);
  }

  /** As above; {@code aside}: each holder moves its copy aside for salvage instead of deleting it. */
  private Future<Set<Integer>> deleteCopies(String name, long version, List<Integer> holders, boolean aside) {
    List<Future<Object>> all = new ArrayList<>();
    Set<Integer> deferred = new HashSet<>();
    for (int id : holders) {
      if (servers.health(id) != ServerTable.Health.alive) {
        // (Reconciliation removes it when the server is back: only the copy it lists then.)
        removed(name, version, id);
        deferred.add(id);
        continue;
      }
      JsonObject item = new JsonObject().put("name", name).put("version", version);
      JsonObject items = new JsonObject().put("items", new JsonArray().add(aside ? item.put("aside", true) : item));
      all.add(vertx.eventBus().request(Addresses.delete(id), items, SHORT).map(m -> (Object) m.body())
          .onComplete(x -> {
            removed(name, version, id);
            if (x.succeeded()) {
              damagedGone(id, name, version);
              if (servers.inventoryWanted(id) != null || inventories.containsKey(id)) {
                // An inventory of that server asked for before now may have been listed before
                // the removal: the copy it lists is gone, not to be counted again (until an
                // inventory asked for from now on is in).
                unconfirmed.computeIfAbsent(id, i -> new HashMap<>()).put(key(name, version), servers.lastOrder() + 1);
              }
            }
            if (x.failed()) {
              // Reconciliation removes it: the server is asked for its inventory again. The
              // removal may still come, late: no new copy of this version goes there before
              // an inventory asked for from now on is in.
              long asked = servers.wantInventory(id);
              unconfirmed.computeIfAbsent(id, i -> new HashMap<>()).put(key(name, version), asked);
            }
          })
          .onFailure(e -> {
            deferred.add(id);
            log.warn("manager: server {} did not delete {} v{}: {}; it will when it reports again", id, name, version,
                e.getMessage());
          }));
    }
    return Future.join(all).transform(x -> Future.succeededFuture(deferred));
  }

  /**
   * Copies taken off the catalog whose removal from their server is not done yet, by
   * version: such a server is no target for a new copy of that version meanwhile, as the
   * removal (which names only the version) would take the new copy with the old.
   */
  private final Map<String, Set<Integer>> removing = new HashMap<>();

  private Set<Integer> removing(String name, long version) {
    return removing.computeIfAbsent(key(name, version), k -> new HashSet<>());
  }

  private void removed(String name, long version, int id) {
    Set<Integer> ids = removing.get(key(name, version));
    if (ids != null && ids.remove(id) && ids.isEmpty()) {
      removing.remove(key(name, version));
    }
  }

  /**
   * Removals a server did not confirm, by server: the version, and the order of the
   * inventory request made then (an inventory asked for before may be listed before the
   * removal comes).
   */
  private final Map<Integer, Map<String, Long>> unconfirmed = new HashMap<>();

  /** The servers a new copy of {@code v} must not go to: its holders, and those its removal has not left yet. */
  private Set<Integer> notTargets(String name, Catalog.Version v) {
    Set<Integer> out = new HashSet<>(v.servers());
    String k = key(name, v.version());
    Set<Integer> leaving = removing.get(k);
    if (leaving != null) {
      out.addAll(leaving);
    }
    out.addAll(damaged.getOrDefault(k, Map.of()).keySet());
    unconfirmed.forEach((id, keys) -> {
      if (keys.containsKey(k)) {
        out.add(id);
      }
    });
    return out;
  }

  // ---- verify ----

  private Future<JsonObject> verify(JsonObject req, Namespace ns) {
    JsonArray paths = req.getJsonArray("paths", new JsonArray());
    List<String> names = new ArrayList<>();
    if (paths.isEmpty()) {
      names.addAll(ns.under(catalog, ""));
    }
    for (Object o : paths) {
      String path = Names.validate(String.valueOf(o));
      List<String> n = ns.under(catalog, path);
      if (n.isEmpty()) {
        throw new BackupException(ErrorCode.NOT_FOUND, "nothing backed up under the name '" + Names.printable(path) + "'");
      }
      names.addAll(n);
    }
    Map<Integer, JsonArray> perServer = new HashMap<>();
    JsonArray problems = new JsonArray();
    int copies = 0;
    for (String n : names) {
      for (Catalog.Version v : catalog.get(n).versions()) {
        for (int id : v.servers()) {
          copies++;
          JsonObject item = new JsonObject().put("name", n).put("version", v.version()).put("sha256", v.sha256());
          if (servers.health(id) != ServerTable.Health.alive) {
            problems.add(item.copy().put("server", id).put("status", "unreachable").put("name", ns.out(n)));
          } else {
            perServer.computeIfAbsent(id, k -> new JsonArray()).add(item);
          }
        }
        if (v.servers().size() < catalog.get(n).replicas()) {
          problems.add(new JsonObject().put("name", ns.out(n)).put("version", v.version()).put("status", "under-replicated")
              .put("copies", v.servers().size()).put("wanted", catalog.get(n).replicas()));
        }
      }
    }
    List<Future<Void>> asks = new ArrayList<>();
    perServer.forEach((id, items) -> asks.add(vertx.eventBus().<JsonObject>request(Addresses.verify(id),
            new JsonObject().put("items", items), LONG)
        .map(m -> {
          for (Object o : m.body().getJsonArray("results")) {
            JsonObject r = (JsonObject) o;
            if (!"ok".equals(r.getString("status"))) {
              badCopy(id, r.getString("name"), r.getLong("version"), null);
              problems.add(r.copy().put("server", id).put("name", ns.out(r.getString("name"))));
            }
          }
          return (Void) null;
        })
        .recover(e -> {
          for (Object o : items) {
            JsonObject item = (JsonObject) o;
            problems.add(item.copy().put("server", id).put("status", "unreachable")
                .put("name", ns.out(item.getString("name"))));
          }
          return Future.succeededFuture();
        })));
    int checked = copies;
    return Future.join(asks).transform(x -> {
      return Future.succeededFuture(new JsonObject().put("files", names.size()).put("copies", checked)
          .put("problems", firstNamed(problems)).put("problemCount", problems.size()));
    });
  }

  // ---- reconciliation ----

  /**
   * A server came (back) to life and sent what it holds, as the reply to its load report
   * asked: compare it with the catalog. Copies of deleted versions, copies beyond what a
   * version wants and copies whose checksum does not match are named in the reply, for the
   * server to remove once the catalog no longer lists them; copies of versions the catalog
   * does not know (a manager that lost its catalog, a transfer whose end it never heard of)
   * are adopted, so the catalog can be rebuilt from the servers.
   *
   * <p>The server sends its inventory and the manager answers: no message goes to the
   * server's address, which may still lead to its previous, dead, process just after it
   * restarted. Until the server reports that it applied the answer, every reply to its
   * load reports asks again, so a lost message only delays this.
   */
  void reconcile(Message<JsonObject> msg) {
    int id = msg.body().getInteger("id", 0);
    if (servers.health(id) != ServerTable.Health.alive) {
      msg.fail(ErrorCode.NOT_ENOUGH_SERVERS.code(), "server " + id + " is not alive for this manager yet");
      return;
    }
    // An inventory comes in pages (a message from a server before pages is one, the last):
    // each page's copies are judged as it comes, the copies lacking only after the last.
    String token = msg.body().getString("token");
    int page = msg.body().getInteger("page", 0);
    boolean lastPage = msg.body().getBoolean("last", true);
    Inventory inv = page == 0 ? new Inventory(token) : inventories.get(id);
    if (inv == null || inv.nextPage != page || !java.util.Objects.equals(inv.token, token)) {
      inventories.remove(id);
      msg.fail(ErrorCode.PROTOCOL.code(), "page " + page + " of server " + id + "'s inventory comes out of turn");
      return;
    }
    inventories.remove(id);
    JsonArray remove = new JsonArray();
    JsonArray check = new JsonArray();
    int adopted = 0;
    boolean changed = false;
    Set<String> held = inv.held;
    long listedAt = servers.order(token);
    for (Object o : msg.body().getJsonArray("items", new JsonArray())) {
      JsonObject it = (JsonObject) o;
      String name = it.getString("name");
      long version = it.getLong("version");
      String sha = it.getString("sha256");
      held.add(key(name, version));
      Catalog.Version v = catalog.version(name, version);
      // A removal is the item as listed: with its checksum and time, the server removes the
      // copy only if it is still that one (a heal may put a new copy there meanwhile).
      if (v == null) {
        if (catalog.buried(name, version)) {
          remove.add(it);
        } else if (!pending.containsKey(key(name, version))) {
          int wanted = it.getInteger("replicas", 0) > 0 ? it.getInteger("replicas") : config.defaultReplicas();
          catalog.commit(name, catalog.get(name) == null ? wanted : catalog.get(name).replicas(),
              new Catalog.Version(version, it.getLong("size"), sha, it.getLong("created", 0L), List.of(id)));
          adopted++;
          changed = true;
        }
      } else if (!v.sha256().equals(sha)) {
        // The checksum in the copy's metadata is not the catalog's: its bytes decide, not
        // the metadata, which may be what rotted (removing the copy on its word could take
        // the last good one). The server hashes them and reports (see badCopy).
        log.warn("manager: the metadata of server {}'s copy of {} v{} disagrees with the catalog; checking its bytes",
            id, name, version);
        check.add(it);
      } else if (!v.servers().contains(id) && damaged.getOrDefault(key(name, version), Map.of()).containsKey(id)) {
        // Found damaged (its removal not done: its server was away, say): its metadata may
        // be right, its bytes are not. Checked again, and removed by the check's report.
        check.add(it);
      } else if (!v.servers().contains(id) && (removing.getOrDefault(key(name, version), Set.of()).contains(id)
          || unconfirmed.getOrDefault(id, Map.of()).getOrDefault(key(name, version), Long.MIN_VALUE) > listedAt)) {
        // Its removal is under way, or may still come (this inventory was asked for before it
        // failed): not counted again, as it may be gone already. Should it stay, an inventory
        // asked for later lists it again, and it is judged then.
        continue;
      } else if (!v.servers().contains(id)) {
        // A copy the catalog does not list (its report was lost, or a heal's): surplus only
        // if enough holders are alive now. Holders merely suspected, or not heard of yet
        // after this manager started, may never come back, and this copy may then be the
        // only one: it is listed instead (a surplus is trimmed once they are back).
        if (aliveOthers(v, id) < catalog.get(name).replicas()) {
          catalog.addHolder(name, version, id);
          changed = true;
        } else {
          remove.add(it);
        }
      } else if (aliveOthers(v, id) >= catalog.get(name).replicas() && !healing.containsKey(key(name, version))) {
        // Healed elsewhere while this server was away (or a copy whose report was lost was
        // recorded after its heal had moved on): enough live copies without this one.
        catalog.removeHolder(name, version, id);
        remove.add(it);
        changed = true;
      }
    }
    // Copies whose metadata is missing or unreadable there (named by their path): still
    // held, whatever their bytes are, until these are checked (see badCopy). Taken for lost,
    // the only copy of a file would drop out of the catalog while its bytes are right.
    // One still without metadata at the next inventory (its bytes could not be read, say)
    // is no longer counted, and healing makes another from a live copy.
    // (They come with the last page.)
    Set<String> unreadableBefore = lastPage ? unreadableOnce.remove(id) : null;
    Set<String> unreadableNow = new HashSet<>();
    for (Object o : lastPage ? msg.body().getJsonArray("unreadable", new JsonArray()) : new JsonArray()) {
      JsonObject it = (JsonObject) o;
      String name = it.getString("name");
      long version = it.getLong("version");
      String k = key(name, version);
      if (held.contains(k)) {
        continue; // listed with its metadata too: made again meanwhile (placed while listed)
      }
      held.add(k);
      Catalog.Version v = catalog.version(name, version);
      if (v == null) {
        log.warn("manager: server {} holds a copy of {} v{} with no readable metadata, of a version the catalog "
            + "does not know; left as it is", id, name, version);
        continue;
      }
      log.warn("manager: server {}'s copy of {} v{} has no readable metadata; checking its bytes", id, name, version);
      check.add(new JsonObject().put("name", name).put("version", version));
      unreadableNow.add(k);
      // (Never the last live holder: no other copy to heal from, nothing gained.)
      if (unreadableBefore != null && unreadableBefore.contains(k) && v.servers().contains(id)
          && aliveOthers(v, id) > 0) {
        log.warn("manager: server {}'s copy of {} v{} is still without readable metadata; no longer counted", id,
            name, version);
        catalog.removeHolder(name, version, id);
        healPending = true;
        changed = true;
      }
    }
    if (!unreadableNow.isEmpty()) {
      unreadableOnce.put(id, unreadableNow);
    }
    if (adopted > 0) {
      log.info("manager: adopted {} cop{} from server {} into the catalog", adopted, adopted == 1 ? "y" : "ies", id);
    }
    if (!lastPage) {
      inv.nextPage = page + 1;
      inventories.put(id, inv);
    } else {
      // (What it lists, if asked for after they were sent, is what its unconfirmed removals
      // left: named again above if unwanted.)
      long order = servers.order(token);
      Map<String, Long> pendingRemovals = unconfirmed.get(id);
      if (pendingRemovals != null) {
        pendingRemovals.values().removeIf(asked -> asked <= order);
        if (pendingRemovals.isEmpty()) {
          unconfirmed.remove(id);
        }
      }
      Missing last = missingOnce.get(id);
      if (lostCopiesWalking.contains(id)) {
        // (The last inventory's comparison is still going through a large catalog: another
        // is asked for once it ends.)
        comparisonSkipped.add(id);
      } else if (last != null && order < last.askedAt()) {
        // Asked for before the last comparison ended: it may have been listed before a copy
        // that comparison met went in. Not compared; the one asked for then is still wanted
        // (until the server says it applied it), and comes.
        log.debug("manager: server {}'s inventory was asked for before its last comparison ended; not compared", id);
      } else {
        lostCopies(id, held, last == null ? null : last.keys());
      }
      // A damaged copy an inventory asked for after it was found damaged no longer lists is
      // gone (no new copy of that version went there meanwhile): its server is a target
      // again. So are those of versions gone.
      damaged.entrySet().removeIf(e -> {
        Long marked = e.getValue().get(id);
        if (marked != null && (catalogVersion(e.getKey()) == null || !held.contains(e.getKey()) && order > marked)) {
          e.getValue().remove(id);
        }
        return e.getValue().isEmpty();
      });
    }
    if (!remove.isEmpty()) {
      log.info("manager: server {} holds {} cop{} the catalog does not want; removing", id, remove.size(),
          remove.size() == 1 ? "y" : "ies");
    }
    // A copy is removed only after the catalog that no longer lists it is durable: this
    // inventory's changes, and those made before it (a deletion whose save failed is in
    // memory only, and a restart would bring its version back without its copies).
    (changed || !remove.isEmpty() ? save.get() : Future.<Void>succeededFuture()).onComplete(ar -> {
      if (ar.failed()) {
        msg.fail(ErrorCode.IO.code(), "the manager cannot write its catalog: " + ar.cause().getMessage());
      } else {
        msg.reply(new JsonObject().put("remove", remove).put("check", check));
      }
    });
    heal();
  }

  /** An inventory whose pages are coming in: its token, the page expected next, the copies listed so far. */
  private static final class Inventory {
    final String token;
    final Set<String> held = new HashSet<>();
    int nextPage;

    Inventory(String token) {
      this.token = token;
    }
  }

  /** Inventories under way, by server. */
  private final Map<Integer, Inventory> inventories = new HashMap<>();

  /** Copies a server's last inventory named without readable metadata, by server (see reconcile). */
  private final Map<Integer, Set<String>> unreadableOnce = new HashMap<>();

  /**
   * Copies a server's last inventory lacked, by server, with the order of the inventory
   * asked for once they were known: lost if that one (or a later one) lacks them too.
   */
  private final Map<Integer, Missing> missingOnce = new HashMap<>();

  private record Missing(Set<String> keys, long askedAt) {
  }

  /**
   * Copies the catalog lists on server {@code id} that its inventory ({@code held}) lacks:
   * removed behind the system's back, lost with a disk, or by a fault. Lacking from two
   * inventories in a row (the second asked for at once), they are no longer counted, and
   * healing makes new ones (before, such a copy stayed listed, and its file kept one copy
   * fewer than it showed, until a {@code verify}). Two, because a copy put in place after
   * the listing passed its folder may be reported by another server before the inventory
   * comes; the next listing, asked for once this comparison is done, finds it. It goes
   * through the catalog a step at a time ({@link #walkCatalog}), so only an inventory
   * asked for once the last comparison ended is compared (see reconcile), against what
   * the last one lacked ({@code before}, null: none); the holders it
   * drops are saved on their own (the inventory's answer does not wait for them).
   */
  private void lostCopies(int id, Set<String> held, Set<String> before) {
    Set<String> missing = new HashSet<>();
    int[] lost = {0};
    String[] first = {null};
    lostCopiesWalking.add(id);
    walkCatalog(e -> {
      for (Catalog.Version v : e.versions()) {
        String k = key(e.name(), v.version());
        if (!v.servers().contains(id) || held.contains(k) || healing.containsKey(k)) {
          continue;
        }
        if (before == null || !before.contains(k)) {
          missing.add(k);
          continue;
        }
        catalog.removeHolder(e.name(), v.version(), id);
        if (first[0] == null) {
          first[0] = e.name() + " v" + v.version();
        }
        lost[0]++;
      }
    }, failure -> {
      lostCopiesWalking.remove(id);
      boolean skipped = comparisonSkipped.remove(id);
      if (failure != null) {
        log.error("manager: comparing server {}'s inventory with the catalog failed (asking it again)", id, failure);
        servers.wantInventory(id);
      } else if (missing.isEmpty()) {
        missingOnce.remove(id);
        if (skipped) {
          servers.wantInventory(id); // (one came meanwhile, not compared)
        }
      } else {
        missingOnce.put(id, new Missing(missing, servers.wantInventory(id)));
        log.info("manager: server {} did not list {} cop{} the catalog lists there; asking it again", id,
            missing.size(), missing.size() == 1 ? "y" : "ies");
      }
      if (lost[0] > 0) {
        log.warn("manager: server {} no longer holds {} cop{} the catalog listed there ({}{}); making new ones", id,
            lost[0], lost[0] == 1 ? "y" : "ies", first[0], lost[0] > 1 ? ", ..." : "");
        healPending = true;
        save.get();
      }
    });
  }

  /** Servers an inventory of which came while the last was still being compared. */
  private final Set<Integer> comparisonSkipped = new HashSet<>();

  /** Servers whose last inventory is being compared with the catalog (a large one, a step at a time). */
  private final Set<Integer> lostCopiesWalking = new HashSet<>();

  /** Whether server {@code id}'s last inventory is still being compared with the catalog (for tests). */
  boolean comparingInventory(int id) {
    return lostCopiesWalking.contains(id);
  }

  /**
   * Copies of a version on servers that are not dead: alive, only suspected, or (just
   * after this manager started) not heard of yet.
   */
  private int present(Catalog.Version v) {
    int n = 0;
    for (int id : v.servers()) {
      if (!gone(id)) {
        n++;
      }
    }
    return n;
  }

  /** Holders of a version other than {@code id} that are alive now (not merely suspected). */
  private int aliveOthers(Catalog.Version v, int id) {
    int n = 0;
    for (int s : v.servers()) {
      if (s != id && servers.health(s) == ServerTable.Health.alive) {
        n++;
      }
    }
    return n;
  }

  private boolean gone(int id) {
    ServerTable.Health h = servers.health(id);
    return h == ServerTable.Health.dead || (h == ServerTable.Health.unknown && !inGrace());
  }

  /** A transfer failed after some server may have stored its copy: that version must not surface later. */
  void aborted(JsonObject b) {
    String name = b.getString("name");
    long version = b.getLong("version");
    pending.remove(key(name, version));
    pendingBytes.remove(key(name, version));
    if (catalog.version(name, version) != null) {
      return;
    }
    catalog.bury(name, version, System.currentTimeMillis());
    save.get();
    List<Integer> chain = new ArrayList<>();
    b.getJsonArray("chain", new JsonArray()).forEach(x -> chain.add(((Number) x).intValue()));
    deleteCopies(name, version, chain);
  }

  /**
   * A server's scrub (or a reconciliation's check) found a copy whose bytes do not match
   * the checksum in its metadata (or has no readable metadata), and read them as
   * {@code sha256} (null from a server that does not say, and from {@code verify}, which
   * checks against the catalog). If that is the catalog's checksum, the bytes are right and
   * the metadata damaged: the answer tells the server to rewrite it, with the version's
   * size, time and copies wanted. Else the copy is dropped, and healing makes a new one.
   */
  JsonObject badCopy(int id, String name, long version, String sha256) {
    Catalog.Version v = catalog.version(name, version);
    if (v != null && v.sha256().equals(sha256)) {
      log.warn("manager: the metadata of the copy of {} v{} on server {} is damaged, its bytes are right; "
          + "it is rewritten", name, version, id);
      // (Not while a removal of it may still come: it would take the copy counted again.)
      boolean removalPending = removing.getOrDefault(key(name, version), Set.of()).contains(id)
          || unconfirmed.getOrDefault(id, Map.of()).containsKey(key(name, version));
      if (removalPending) {
        servers.wantInventory(id); // (to look again once that removal is settled)
      } else if (damagedGone(id, name, version) && !v.servers().contains(id)) {
        servers.wantInventory(id); // (a good copy there now: listed again at its next inventory, asked for now)
      }
      return new JsonObject().put("repair", sha256).put("size", v.size()).put("created", v.created())
          .put("replicas", catalog.get(name).replicas());
    }
    if (v == null) {
      damaged.remove(key(name, version)); // (deleted: nothing left to guard)
      return new JsonObject();
    }
    if (sha256 == null && !v.servers().contains(id)) {
      return new JsonObject();
    }
    // (Marked once: a later report of the same copy does not move its mark.)
    damaged.computeIfAbsent(key(name, version), k -> new HashMap<>()).putIfAbsent(id, servers.lastOrder());
    if (!v.servers().contains(id)) {
      // A damaged copy nobody counts (found so again after its removal did not happen): removed.
      // Unless a heal is putting a new copy there: the report may be older than that copy.
      Heal h = healing.get(key(name, version));
      if (h != null && (h.target() == id || h.target() == -1)) {
        servers.wantInventory(id); // (to see what is left there once the heal is over)
        return new JsonObject();
      }
      removing(name, version).add(id);
      setAsideOrDelete(name, version, id);
      return new JsonObject();
    }
    log.warn("manager: the copy of {} v{} on server {} is damaged; replacing it", name, version, id);
    catalog.removeHolder(name, version, id);
    removing(name, version).add(id);
    // Removed once the catalog that no longer lists it is durable (else a restart could
    // bring back a holder whose copy is gone); if the save fails, reconciliation removes it.
    save.get().onComplete(x -> {
      if (x.succeeded()) {
        setAsideOrDelete(name, version, id);
      } else {
        removed(name, version, id);
      }
      heal();
    });
    return new JsonObject();
  }

  /**
   * Removes server {@code id}'s damaged copy of {@code name} v{@code version}; but with no
   * other live holder of that version (looked at now), it is set aside on its server for a
   * user to salvage what is left (as HDFS keeps a block's corrupt replicas while no good
   * one is left): it may be all there is of the file.
   */
  private void setAsideOrDelete(String name, long version, int id) {
    Catalog.Version v = catalog.version(name, version);
    boolean aside = v != null && aliveOthers(v, id) == 0; // (a version deleted meanwhile: nobody needs it)
    if (aside) {
      log.error("manager: the copy of {} v{} on server {} is damaged and no other is alive; it is set aside there, "
          + "under damaged/", name, version, id);
    }
    deleteCopies(name, version, List.of(id), aside);
  }

  /**
   * Copies found damaged and not yet removed, by version: never listed again on their
   * server's word, and their server is no target for a new copy of that version meanwhile
   * (the removal names only the version); with the order of the last inventory request
   * then (see ServerTable#order): an inventory asked for after it that lacks the copy shows
   * it gone. Kept in memory only: after a restart, scrub finds such a copy again.
   */
  private final Map<String, Map<Integer, Long>> damaged = new HashMap<>();

  /** The catalog's version a {@link #key} names, null if there is none. */
  private Catalog.Version catalogVersion(String key) {
    int cut = key.lastIndexOf('\u0000');
    try {
      return catalog.version(key.substring(0, cut), Long.parseLong(key.substring(cut + 1)));
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** Server {@code id}'s damaged copy of {@code name} v{@code version} is gone (or found right); whether it was known. */
  private boolean damagedGone(int id, String name, long version) {
    Map<Integer, Long> ids = damaged.get(key(name, version));
    boolean was = ids != null && ids.remove(id) != null;
    if (ids != null && ids.isEmpty()) {
      damaged.remove(key(name, version));
    }
    return was;
  }

  // ---- healing ----

  /** A copy being made: from which server to which (-1: several, for a change of replicas). */
  private record Heal(int source, int target) {
  }

  /** Versions being copied, by key; an entry is dropped when its copy ends or one of its servers is lost. */
  private final Map<String, Heal> healing = new HashMap<>();

  /**
   * Gives up on heal copies from or to a server that is no longer alive (a hung target
   * would hold its slot until a timeout), so that the next look sends them elsewhere.
   * A copy that finishes after all is still recorded by its target's report.
   */
  void abandonHealsOnLostServers() {
    boolean dropped = healing.entrySet().removeIf(e -> {
      Heal h = e.getValue();
      for (int id : new int[] {h.source(), h.target()}) {
        if (id > 0 && servers.health(id) != ServerTable.Health.alive) {
          log.warn("manager: healing {} v{}: server {} is {}; trying elsewhere",
              e.getKey().substring(0, e.getKey().indexOf('\u0000')),
              e.getKey().substring(e.getKey().indexOf('\u0000') + 1), id, servers.health(id));
          return true;
        }
      }
      return false;
    });
    if (dropped) {
      healPending = true;
      heal();
    }
  }

  /**
   * Whether servers holding copies may still be about to report for the first time: until
   * heal-grace-seconds (default 10) after the first server's report reached this manager,
   * it waits for the others before healing. Counted from that report, not from the
   * manager's start: a manager (re)started on a busy machine was seen to hear its first
   * report 13 s after it listened, and took the servers not heard of yet for dead.
   */
  private boolean inGrace() {
    long first = servers.firstReportAt();
    return first == 0 || ServerTable.now() - first < config.healGraceSeconds() * 1000L;
  }

  /**
   * How many heal copies may run now: heal-concurrency, or while clients are being served
   * that share of it (heal-percent), at least one.
   */
  int healSlots() {
    if (!servers.clientsBeingServed()) {
      return config.healConcurrency();
    }
    return Math.max(1, config.healConcurrency() * config.healPercent() / 100);
  }

  /**
   * How often healing looks through the whole catalog even when nothing that could leave
   * a version short of copies has happened (a server with room again, a lost look).
   */
  static final long HEAL_RESCAN_MS = 10_000;
  private long healLookedAt;
  private long healSeenHealth = -1;
  private long healSeenShortened = -1;
  private Catalog healSeenCatalog;
  /** Something asked for a look through the catalog (a version may be short that no look found). */
  private boolean healPending;
  /** Looks through the catalog so far, and heal copies started (for tests). */
  long healLooks;
  long healCopies;
  /**
   * Versions whose last heal copy failed, by key, and when they may be tried again: a
   * copy that fails at once (a source that refuses) would otherwise be tried again and again.
   */
  private final Map<String, Backoff> healBackoff = new HashMap<>();
  /**
   * Versions whose heal copies failed, by key: how many failed from each source. The next
   * try takes the source that failed least (a copy that rotted on its source, not yet
   * found by scrub, fails every copy made from it, while another holder's is good).
   * Forgotten once a copy of the version is made, or the version is gone.
   */
  private final Map<String, Map<Integer, Integer>> healSourceFailures = new HashMap<>();
  /**
   * Versions whose heal failed, soonest first, each with when it may be tried again: it
   * goes back to the queue then (a look at that moment, as before, cost a look per
   * failure when many failed, a target refusing them all, say).
   */
  private final java.util.PriorityQueue<Retry> healRetries =
      new java.util.PriorityQueue<>(Comparator.comparingLong(Retry::notBefore));

  private record Retry(long notBefore, Need need) {
  }

  /**
   * The smallest version found with no server with room for it since the last look
   * (Long.MAX_VALUE: none), and the servers that had room for it then: one more server
   * with room is a reason to look again (disk space freed, a server emptied), not only
   * the rescan.
   */
  private long healStarvedSize = Long.MAX_VALUE;
  private Set<Integer> healRoomyAtLook = Set.of();

  void heal() {
    heal(ServerTable.now());
  }

  /**
   * Makes new copies of every version with fewer copies on servers that are not dead than
   * it wants, those with the fewest first, a few at a time, each server to server from a
   * live holder onto a server chosen by placement. A copy that replaces one on a dead
   * server takes its place in the catalog; the dead server drops its copy if it returns.
   *
   * <p>It looks for versions short of copies through the whole catalog only when a server's
   * health changed, the catalog changed in a way that can leave a version short (not by a
   * heal's own ending), or something asked for a look; else every {@link #HEAL_RESCAN_MS}.
   * A look queues what it found, and each heal slot that frees takes the next version
   * from that queue (still short, not being healed), not from a new look: healing the
   * copies of a server that held half a million was one look per copy before, O(catalog)
   * on the event loop each time. (Before that, it looked every half second whatever happened.)
   */
  void heal(long now) {
    if (healing.size() >= healSlots()) {
      return;
    }
    if (inGrace()) {
      // Just started: servers that hold copies may not have reported yet. Do not take
      // "not heard of yet" for "dead".
      return;
    }
    boolean look = healPending || servers.healthChanges() != healSeenHealth || healSeenCatalog != catalog
        || catalog.shortened() != healSeenShortened || now - healLookedAt >= HEAL_RESCAN_MS
        || !healRoomyAtLook.containsAll(roomFor(healStarvedSize));
    if (look && lookFound == null) {
      lookForHeals(now);
    }
    while (!healRetries.isEmpty() && healRetries.peek().notBefore() <= now) {
      enqueue(healRetries.poll().need());
    }
    while (!healQueue.isEmpty() && healing.size() < healSlots()) {
      var fewest = healQueue.firstEntry();
      Need n = fewest.getValue().poll();
      if (fewest.getValue().isEmpty()) {
        healQueue.remove(fewest.getKey());
      }
      startHeal(n, now);
    }
  }

  /** A version a look found short of copies, and how many it had then (fewest first). */
  private record Need(String name, long version, int present) {
  }

  /**
   * What the last look found and no heal slot has taken yet, by the copies each had then:
   * fewest first (in buckets, not sorted: a look that finds half a million costs no sort).
   */
  private java.util.TreeMap<Integer, java.util.ArrayDeque<Need>> healQueue = new java.util.TreeMap<>();
  /**
   * What the look under way (a large catalog, a step at a time) has found so far, null when
   * none is: the queue once it ends. What is queued meanwhile (a heal still short after
   * its copy, a retry come due) goes into both.
   */
  private java.util.TreeMap<Integer, java.util.ArrayDeque<Need>> lookFound;

  private void enqueue(Need n) {
    enqueue(healQueue, n);
    if (lookFound != null) {
      enqueue(lookFound, n);
    }
  }

  private static void enqueue(java.util.TreeMap<Integer, java.util.ArrayDeque<Need>> queue, Need n) {
    queue.computeIfAbsent(n.present(), p -> new java.util.ArrayDeque<>()).add(n);
  }

  private void lookForHeals(long now) {
    healStarvedSize = Long.MAX_VALUE;
    healPending = false;
    if (servers.healthChanges() != healSeenHealth) {
      // Other servers now: versions whose copies failed are worth a try at once.
      healBackoff.clear();
      healRetries.clear();
    }
    healSeenHealth = servers.healthChanges();
    healSeenCatalog = catalog;
    healSeenShortened = catalog.shortened();
    healLookedAt = now;
    healLooks++;
    // Failures long past are forgotten (their versions may be gone, or healed since).
    healBackoff.values().removeIf(b -> b.notBefore() < now - 10 * Backoff.MAX_MS);
    healSourceFailures.keySet().removeIf(k -> catalogVersion(k) == null);
    java.util.TreeMap<Integer, java.util.ArrayDeque<Need>> found = new java.util.TreeMap<>();
    boolean[] atOnce = {true};
    lookFound = found;
    walkCatalog(e -> {
      for (Catalog.Version v : e.versions()) {
        int present = present(v);
        // (None left on a server that is not dead: nothing to copy from until one comes back.)
        if (present > 0 && present < e.replicas() && ready(key(e.name(), v.version()), now)) {
          enqueue(found, new Need(e.name(), v.version(), present));
        }
      }
    }, failure -> {
      lookFound = null;
      if (failure != null) {
        // (The queue stays as it was.)
        log.error("manager: looking for versions short of copies failed (looking again within {} s)",
            HEAL_RESCAN_MS / 1000, failure);
        return;
      }
      healQueue = found;
      if (!atOnce[0]) {
        heal(); // (a look a step at a time: its queue is ready only now)
      }
    });
    atOnce[0] = false;
  }

  /**
   * Whether the version of key {@code k} may be healed now: not being healed, and not
   * waiting after a failed heal (it is in {@link #healRetries} then).
   */
  private boolean ready(String k, long now) {
    Backoff backoff = healBackoff.get(k);
    return (backoff == null || backoff.ready(now)) && !healing.containsKey(k);
  }

  /** Starts a heal copy of what {@code n} names, if it is still short of copies as the catalog is now. */
  private void startHeal(Need n, long now) {
    Catalog.Entry e = catalog.get(n.name());
    Catalog.Version v = catalog.version(n.name(), n.version());
    String k = key(n.name(), n.version());
    if (v == null || present(v) >= e.replicas() || !ready(k, now)) {
      return;
    }
    Map<Integer, Integer> failedFrom = healSourceFailures.getOrDefault(k, Map.of());
    List<ServerLoad> sources = servers.loads().stream()
        .filter(l -> l.alive() && v.servers().contains(l.id()))
        .sorted(Comparator.comparingInt((ServerLoad l) -> failedFrom.getOrDefault(l.id(), 0))
            .thenComparingInt(ServerLoad::transfers)).toList();
    if (sources.isEmpty()) {
      return;
    }
    List<ServerLoad> target;
    try {
      target = placement.choose(1, v.size(), notTargets(n.name(), v));
    } catch (BackupException noRoom) {
      healStarvedSize = Math.min(healStarvedSize, v.size());
      healRoomyAtLook = roomFor(healStarvedSize);
      return;
    }
    Heal mine = new Heal(sources.get(0).id(), target.get(0).id());
    healing.put(k, mine);
    healCopies++;
    log.info("manager: healing {} v{} ({} of {} copies): server {} -> server {}{}", n.name(), n.version(),
        present(v), e.replicas(), sources.get(0).id(), target.get(0).id(),
        servers.clientsBeingServed() ? " (making way for clients)" : "");
    copy(n.name(), v, sources.get(0), target.get(0), e.replicas(), true).onComplete(ar -> {
      healing.remove(k, mine);
      if (ar.succeeded()) {
        Catalog.Version healed = catalog.version(n.name(), n.version());
        if (healed != null) {
          // (Dropping a dead holder leaves nothing short that was not: not a reason to look.)
          boolean seen = catalog.shortened() == healSeenShortened;
          healed.servers().stream().filter(this::gone).findFirst()
              .ifPresent(dead -> catalog.removeHolder(n.name(), n.version(), dead));
          if (seen) {
            healSeenShortened = catalog.shortened();
          }
          save.get();
          int present = present(healed);
          if (present < catalog.get(n.name()).replicas()) {
            // Still short (it wanted more than one new copy): its next copy after the others.
            enqueue(new Need(n.name(), n.version(), present));
          }
        }
        healBackoff.remove(k);
        healSourceFailures.remove(k);
      } else {
        healSourceFailures.computeIfAbsent(k, x -> new HashMap<>()).merge(mine.source(), 1, Integer::sum);
        if (BackupException.wrap(ar.cause()).code() == ErrorCode.INTEGRITY) {
          checkSource(mine.source(), n.name(), n.version());
        }
        long wait = healBackoff.computeIfAbsent(k, x -> new Backoff()).failed(ServerTable.now());
        healRetries.add(new Retry(healBackoff.get(k).notBefore(), n));
        log.warn("manager: healing {} v{} failed: {}; trying again in {} s or later", n.name(), n.version(),
            ar.cause().getMessage(), wait / 1000);
      }
      heal();
    });
  }

  /**
   * A heal copy from server {@code id} arrived with bytes that do not match the checksum:
   * its copy may have rotted (or the bytes were damaged on the way). Its server hashes it
   * now rather than at its next scrub pass, and a damaged copy is dropped and replaced
   * (see badCopy).
   */
  private void checkSource(int id, String name, long version) {
    Catalog.Version v = catalog.version(name, version);
    if (v == null) {
      return;
    }
    JsonObject item = new JsonObject().put("name", name).put("version", version).put("sha256", v.sha256());
    vertx.eventBus().<JsonObject>request(Addresses.verify(id), new JsonObject().put("items", new JsonArray().add(item)),
            LONG)
        .onSuccess(m -> {
          for (Object o : m.body().getJsonArray("results", new JsonArray())) {
            JsonObject r = (JsonObject) o;
            if (!"ok".equals(r.getString("status"))) {
              log.warn("manager: server {}'s copy of {} v{} fails its check ({}) after a heal copy from it failed",
                  id, name, version, r.getString("status"));
              badCopy(id, name, version, null);
            }
          }
        })
        .onFailure(e -> log.warn("manager: cannot have server {} check its copy of {} v{}: {}", id, name, version,
            e.getMessage()));
  }

  /** The live servers with room for {@code size} bytes as placement counts it (none for Long.MAX_VALUE). */
  private Set<Integer> roomFor(long size) {
    if (size == Long.MAX_VALUE) {
      return Set.of();
    }
    Set<Integer> out = new HashSet<>();
    for (ServerLoad l : servers.loads()) {
      if (l.alive() && size <= l.freeBytes() - LoadAwarePlacement.HEADROOM) {
        out.add(l.id());
      }
    }
    return out;
  }

  /**
   * Counts for status: files whose every version has its copies, those short of copies,
   * those being healed. Counted a step at a time through a large catalog ({@link
   * #walkCatalog}); at once through one that fits in a step.
   */
  Future<JsonObject> health() {
    int[] counts = new int[2]; // healthy, short
    io.vertx.core.Promise<JsonObject> out = io.vertx.core.Promise.promise();
    walkCatalog(e -> {
      boolean ok = true;
      for (Catalog.Version v : e.versions()) {
        if (present(v) < e.replicas()) {
          ok = false;
          break;
        }
      }
      counts[ok ? 0 : 1]++;
    }, failure -> {
      if (failure != null) {
        out.fail(failure);
        return;
      }
      Set<String> healingNames = new HashSet<>();
      healing.keySet().forEach(k -> healingNames.add(k.substring(0, k.indexOf('\u0000'))));
      out.complete(new JsonObject().put("files", counts[0] + counts[1]).put("healthy", counts[0])
          .put("underReplicated", counts[1]).put("healing", healingNames.size()));
    });
    return out.future();
  }

  /**
   * Visits every file of the catalog in name order, a step at a time ({@link Steps}), then
   * gives {@code then} null (or what a visit threw, ending the walk). A catalog that fits in
   * one step is walked at once, {@code then} included. (In one go, a million files held the
   * event loop about a quarter of a second: Benchmarks in README.)
   */
  void walkCatalog(java.util.function.Consumer<Catalog.Entry> visit, java.util.function.Consumer<Throwable> then) {
    Catalog c = catalog;
    String[] after = {null};
    Steps.run(vertx, () -> (after[0] = c.walk(after[0], Steps.SIZE, visit)) == null)
        .onComplete(ar -> then.accept(ar.cause()));
  }
}
