package dev.backup.server;

import dev.backup.cluster.Addresses;
import dev.backup.cluster.Backoff;
import dev.backup.cluster.Ticket;
import dev.backup.config.Config;
import dev.backup.config.Tls;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.storage.BlobStore;
import dev.backup.storage.ReplicaMeta;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A storage server: a TCP server receiving replicas (and passing them down their chain),
 * event-bus consumers for the manager's placement messages, and periodic load reports.
 */
public final class ServerVerticle extends VerticleBase {
  private static final Logger log = LoggerFactory.getLogger(ServerVerticle.class);
  static final int WRITE_QUEUE = 1024 * 1024;
  static final int READ_BUFFER = 256 * 1024;

  private final Config config;
  private final java.util.function.Supplier<String> nodeId;
  private final BlobStore store;
  private final Map<String, Long> prepared = new HashMap<>();
  private final Set<ServerConnection> sessions = ConcurrentHashMap.newKeySet();
  private ExecutorService hashExecutor;
  private NetServer netServer;
  private NetClient netClient;
  private long reportTimer = -1;
  private long scrubTimer = -1;
  private dev.backup.protocol.ConnectionPool peers;
  private long firstScrubDelay = 60_000L;
  private long lastLatencyMicros;
  private long storedBytes;
  private long storedFiles;
  /**
   * Copies set aside under damaged/ (damaged last copies, kept for salvage), as last counted;
   * -1 until counted (the reports carry none until then).
   */
  private int asideCopies = -1;
  /** Counts of them started so far: only the latest one's result is taken. */
  private long asideCounts;
  private int transfers;
  private int foregroundTransfers;
  private boolean reportsFailing;
  private volatile long freeBytes;
  /** The address others reach this server at: --host, resolved once (no name lookups on the data path) unless TLS is on. */
  private String advertised;
  private boolean reporting;
  /** A reconciliation is under way; the token of the last one applied. */
  private boolean reconciling;
  private String reconciled;
  private final Backoff reconcileBackoff = new Backoff();
  /** An inventory is a listing of this server's metadata: half a minute is plenty, and the manager asks again. */
  static final long INVENTORY_TIMEOUT_MS = 30_000;

  public ServerVerticle(Config config, java.util.function.Supplier<String> nodeId) {
    this.config = config;
    this.nodeId = nodeId;
    this.store = new BlobStore(config.root());
  }

  @Override
  public Future<?> start() {
    hashExecutor = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "backup-hash-" + config.id());
      t.setDaemon(true);
      return t;
    });
    netClient = vertx.createNetClient(Tls.client(config, new NetClientOptions()
        .setConnectTimeout(config.connectTimeoutMs())
        .setIdleTimeout(config.idleTimeoutSeconds()).setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setTcpNoDelay(true).setSendBufferSize(READ_BUFFER).setReceiveBufferSize(READ_BUFFER)));
    peers = new dev.backup.protocol.ConnectionPool(vertx, netClient,
        Math.min(10_000L, config.idleTimeoutSeconds() * 500L), 64);
    Future<Void> opened = vertx.executeBlocking(() -> {
      store.open();
      boolean empty;
      try (BlobStore.Cursor c = store.cursor()) {
        empty = c.next(1).size() == 0;
      }
      freeBytes = store.freeBytes();
      firstScrubDelay = firstScrubDelay(empty);
      // With TLS, peers check that this server's certificate names the host they reached
      // it at: that is --host as given (a name stays a name).
      try {
        advertised = config.tls() ? config.host() : java.net.InetAddress.getByName(config.host()).getHostAddress();
      } catch (java.net.UnknownHostException e) {
        advertised = config.host();
      }
      return null;
    });
    vertx.eventBus().<JsonObject>consumer(Addresses.prepare(config.id()), this::onPrepare);
    vertx.eventBus().<JsonObject>consumer(Addresses.delete(config.id()), this::onDelete);
    vertx.eventBus().<JsonObject>consumer(Addresses.verify(config.id()), this::onVerify);
    vertx.eventBus().<JsonObject>consumer(Addresses.copy(config.id()), this::onCopy);
    return opened
        .compose(v -> vertx.createNetServer(Tls.server(config, new NetServerOptions()
                .setHost(config.host()).setPort(config.port())
                .setIdleTimeout(config.idleTimeoutSeconds()).setIdleTimeoutUnit(TimeUnit.SECONDS)
                .setTcpNoDelay(true).setReceiveBufferSize(READ_BUFFER).setSendBufferSize(READ_BUFFER)))
            .connectHandler(this::onConnect)
            .listen())
        .onSuccess(s -> {
          netServer = s;
          reportTimer = vertx.setPeriodic(0, config.reportIntervalMs(), t -> report());
          scrubTimer = vertx.setTimer(firstScrubDelay, t -> scrubPass());
          log.info("server {}: listening on {}:{}, root {}", config.id(), config.host(), s.actualPort(), store.root());
          countCopies();
          countAside();
        });
  }

  /** Set when the server stops: no scrub pass, inventory or count goes on, and no walk is begun. */
  private volatile boolean stopped;

  @Override
  public Future<?> stop() {
    stopped = true;
    vertx.cancelTimer(reportTimer);
    vertx.cancelTimer(scrubTimer);
    // (A walk under way ends: its next page fails.)
    List<BlobStore.Cursor> walks = new ArrayList<>();
    for (BlobStore.Cursor c : java.util.Arrays.asList(scrubCursor, inventoryCursor)) {
      if (c != null) {
        walks.add(c);
      }
    }
    scrubCursor = null;
    inventoryCursor = null;
    peers.closeIdle();
    for (ServerConnection s : List.copyOf(sessions)) {
      s.abort();
    }
    Future<Void> closed = netServer == null ? Future.succeededFuture() : netServer.close();
    // Whatever was being received is rolled back before the process ends: no half-written file.
    return closed.compose(v -> netClient.close())
        .compose(v -> vertx.executeBlocking(() -> {
          walks.forEach(BlobStore.Cursor::close);
          store.clearTemp();
          return null;
        }))
        .onComplete(v -> hashExecutor.shutdownNow());
  }

  /**
   * Serves one connection: a transfer at a time, each by its own {@link ServerConnection};
   * after one ends cleanly the next starts on the same connection, so a sender with many
   * files pays one handshake.
   */
  private void onConnect(NetSocket socket) {
    ServerConnection[] current = new ServerConnection[1];
    socket.closeHandler(v -> {
      ServerConnection session = current[0];
      sessions.remove(session);
      if (!session.finished()) {
        session.fail(new BackupException(ErrorCode.CONNECTION, "the sender went away before the transfer ended"), false);
      }
    });
    Runnable[] next = new Runnable[1];
    next[0] = () -> {
      if (current[0] != null) {
        sessions.remove(current[0]);
      }
      ServerConnection session = new ServerConnection(this, socket, next[0]);
      current[0] = session;
      sessions.add(session);
      session.start();
    };
    next[0].run();
  }

  /**
   * The manager announces transfers this server is the primary of: one ({@code ticket}),
   * or several placed together ({@code batch} of such bodies, answered with one result
   * each, in order: {@code ok}, or the failure's {@code code} and {@code message}).
   */
  private void onPrepare(Message<JsonObject> msg) {
    JsonArray batch = msg.body().getJsonArray("batch");
    if (batch == null) {
      try {
        prepare(msg.body());
        msg.reply(new JsonObject().put("ok", true));
      } catch (RuntimeException e) {
        BackupException be = BackupException.fromRequest(e);
        msg.fail(be.code().code(), be.getMessage());
      }
      return;
    }
    JsonArray results = new JsonArray();
    for (Object o : batch) {
      try {
        prepare((JsonObject) o);
        results.add(new JsonObject().put("ok", true));
      } catch (RuntimeException e) {
        BackupException be = BackupException.fromRequest(e);
        results.add(be.toJson());
      }
    }
    msg.reply(new JsonObject().put("results", results));
  }

  private void prepare(JsonObject body) {
    Ticket t = Ticket.fromJson(body.getJsonObject("ticket"));
    t.verify(config.secret(), Ticket.PUT, config.id(), 0, System.currentTimeMillis());
    if (!hasRoomFor(t.size())) {
      throw new BackupException(ErrorCode.DISK_FULL, "server " + config.id() + " has no room for " + t.size() + " bytes");
    }
    prepared.put(t.transferId(), t.expires());
    long delay = Math.max(1, t.expires() - System.currentTimeMillis());
    vertx.setTimer(delay, x -> prepared.remove(t.transferId()));
  }

  private void onDelete(Message<JsonObject> msg) {
    removeCopies(msg.body().getJsonArray("items", new JsonArray())).onComplete(ar -> {
      if (ar.succeeded()) {
        msg.reply(new JsonObject().put("deleted", ar.result()));
      } else {
        msg.fail(ErrorCode.IO.code(), "server " + config.id() + " cannot delete: " + ar.cause().getMessage());
      }
    });
  }

  /**
   * Removes these copies ({@code name}, {@code version}); an item that also names the
   * copy's {@code sha256} and {@code created} (reconciliation's) removes it only if the copy
   * here is still that one, and one marked {@code aside} (a damaged last copy) is moved
   * aside for salvage rather than deleted. Completes with how many were removed.
   */
  private Future<Integer> removeCopies(JsonArray items) {
    List<ReplicaMeta> gone = new java.util.ArrayList<>();
    boolean aside = items.stream().anyMatch(o -> ((JsonObject) o).getBoolean("aside", false));
    return vertx.executeBlocking(() -> {
      for (Object o : items) {
        JsonObject it = (JsonObject) o;
        String name = it.getString("name");
        long version = it.getLong("version");
        boolean listed = it.containsKey("created");
        long size = it.getBoolean("aside", false) ? store.setAside(name, version)
            : store.remove(name, version, listed ? it.getString("sha256", "") : null,
                listed ? it.getLong("created") : null);
        if (size >= 0) {
          gone.add(new ReplicaMeta(name, version, size, "", 0, 0));
        } else if (listed) {
          log.info("server {}: keeps {} v{}: the copy here is not the one listed for removal", config.id(), name,
              version);
        }
        store.pruneEmptyFolders(store.replicaPath(name, version).getParent());
      }
      return gone.size();
    }, false).onComplete(ar -> {
      if (aside) {
        countAside(); // (also after a failure: some may have been set aside before it)
      }
    }).onSuccess(n -> {
      for (ReplicaMeta m : gone) {
        storedFiles--;
        storedBytes -= m.size();
      }
      log.info("server {}: deleted {} cop{}", config.id(), n, n == 1 ? "y" : "ies");
    });
  }

  /**
   * Counts the copies set aside under damaged/ for the load reports (and so for
   * {@code status}): at start, after each copy set aside, after each scrub pass (a user may
   * have removed some). The folder holds only damaged last copies: a few, if any.
   */
  private void countAside() {
    if (stopped) {
      return;
    }
    long mine = ++asideCounts;
    vertx.executeBlocking(store::countAside, false).onComplete(ar -> {
      if (mine != asideCounts) {
        return; // (a later count is under way: this one may have read the folder before a change)
      }
      if (ar.succeeded()) {
        asideCopies = ar.result();
      } else {
        log.warn("server {}: cannot count the copies set aside under {}/: {}", config.id(), BlobStore.DAMAGED,
            ar.cause().toString());
      }
    });
  }

  private void onVerify(Message<JsonObject> msg) {
    JsonArray items = msg.body().getJsonArray("items", new JsonArray());
    vertx.executeBlocking(() -> {
      JsonArray results = new JsonArray();
      for (Object o : items) {
        JsonObject it = (JsonObject) o;
        String status = store.check(it.getString("name"), it.getLong("version"), it.getString("sha256"));
        results.add(it.copy().put("status", status).put("server", config.id()));
      }
      return results;
    }, false).onComplete(ar -> {
      if (ar.succeeded()) {
        msg.reply(new JsonObject().put("results", ar.result()));
      } else {
        msg.fail(ErrorCode.IO.code(), "server " + config.id() + " cannot verify: " + ar.cause().getMessage());
      }
    });
  }

  /** Whether {@link #countCopies} has ended: the reports carry the counts from then on. */
  private boolean counted;

  /** Copies read from the disk at a time by {@link #countCopies}. */
  private static final int COUNT_PAGE = 5_000;

  /**
   * Counts the copies held here (and their bytes) for the load reports, once the server
   * serves: a page at a time, in the background. A server may hold many millions, and
   * reading all their metadata took most of a minute a million here before it would serve.
   * (Until it ends, the reports carry no counts, and the manager keeps the last ones it
   * had: a server that comes back with a million copies is not taken for an empty one.)
   */
  private void countCopies() {
    if (stopped) {
      return;
    }
    vertx.executeBlocking(store::cursor, false)
        .compose(cursor -> countPages(cursor, 0, 0).andThen(x -> closeCursor(cursor)))
        .onComplete(ar -> {
          if (ar.failed()) {
            if (!stopped) {
              log.warn("server {}: cannot count its copies ({}); trying again in a minute", config.id(),
                  ar.cause().toString());
              vertx.setTimer(60_000, t -> countCopies());
            }
            return;
          }
          // (Added on the event loop, where copies put in place or removed meanwhile are
          // counted: one that came or went while the walk went on may be counted twice or not
          // at all, and the figure stays that far off until the next start.)
          counted = true;
          storedFiles += ar.result()[0];
          storedBytes += ar.result()[1];
        });
  }

  private Future<long[]> countPages(BlobStore.Cursor cursor, long files, long bytes) {
    if (stopped) {
      return Future.failedFuture("the server is stopping");
    }
    return vertx.executeBlocking(() -> cursor.next(COUNT_PAGE), false).compose(page -> {
      long f = files + page.copies().size();
      long b = bytes + page.copies().stream().mapToLong(ReplicaMeta::size).sum();
      return page.end() ? Future.succeededFuture(new long[] {f, b}) : countPages(cursor, f, b);
    });
  }

  /**
   * Reconciliation, asked for in the reply to a load report: sends every copy held here
   * to the manager and removes those its answer names. Applied, its token goes with the
   * following reports, so the manager stops asking. One at a time.
   */
  private void reconcile(String token) {
    reconciling = true;
    // The manager takes a copy it lists here but this inventory lacks for lost: a copy put
    // in place while the folders are being walked goes with it too, even if the walk
    // passed its folder first.
    placedWhileListing = new ArrayList<>();
    vertx.executeBlocking(store::cursor, false)
        .compose(cursor -> {
          if (stopped) {
            closeCursor(cursor);
            return Future.failedFuture("the server is stopping");
          }
          inventoryCursor = cursor;
          return sendInventory(token, new InventoryWalk(cursor), 0)
              .andThen(x -> closeCursor(cursor));
        })
        .onComplete(ar -> {
          reconciling = false;
          placedWhileListing = null; // (one inventory at a time)
          if (ar.succeeded()) {
            reconciled = token;
            reconcileBackoff.succeeded();
          } else {
            // Asked again by the next reports, but not at once: a manager that cannot save its
            // catalog (or a disk here that refuses) should not get the whole inventory twice a second.
            long wait = reconcileBackoff.failed(System.currentTimeMillis());
            log.warn("server {}: reconciliation with the manager failed ({}); trying again in {} s", config.id(),
                ar.cause().getMessage(), wait / 1000);
          }
        });
  }

  /** Copies per inventory message: a server may hold millions (some 200 bytes each in a message). */
  static int inventoryPage = 5_000;

  /** The walk of the inventory being sent, if any (closed when the server stops). */
  private BlobStore.Cursor inventoryCursor;

  /**
   * An inventory being sent: the folders are walked a page at a time, each page read only
   * once the last one is answered, so that a page of a server's copies is in memory, not
   * all of them (with those put in place since the last page). Copies whose metadata is
   * missing or unreadable go with the last page (by their path): the manager has their
   * bytes checked rather than take them for lost.
   */
  private static final class InventoryWalk {
    final BlobStore.Cursor cursor;
    final JsonArray unreadable = new JsonArray();
    /** Once the walk has ended: what is left to send (its last copies, and those placed meanwhile). */
    List<JsonObject> rest;

    InventoryWalk(BlobStore.Cursor cursor) {
      this.cursor = cursor;
    }
  }

  /** A page as the walk found it. */
  private record Walked(List<JsonObject> items, boolean end) {
  }

  /**
   * Sends the inventory from page {@code page} on, one page at a time: each page is read
   * from the disk (on a worker) once the last one's answer (copies to remove, copies to
   * check) has been applied.
   */
  private Future<Void> sendInventory(String token, InventoryWalk w, int page) {
    if (stopped) {
      return Future.failedFuture("the server is stopping");
    }
    Future<Walked> walked = w.rest != null ? Future.succeededFuture(new Walked(List.of(), true))
        : vertx.executeBlocking(() -> {
          BlobStore.Page p = w.cursor.next(inventoryPage);
          List<JsonObject> items = new ArrayList<>(p.copies().size());
          p.copies().forEach(m -> items.add(item(m)));
          for (BlobStore.Unreadable u : p.unreadable()) {
            w.unreadable.add(new JsonObject().put("name", u.name()).put("version", u.version()).put("size", u.size()));
          }
          return new Walked(items, p.end());
        }, false);
    return walked.compose(found -> {
      if (w.rest != null) {
        return sendPage(token, w, page, List.of());
      }
      // The copies put in place since the last page go with this one, if they are still here
      // as they were put (one may have been removed since, by an answer to an earlier page or
      // a deletion: the manager would take it as held). Once the walk has ended, a copy put
      // in place was not found by it, and the manager knows of it from its report.
      List<ReplicaMeta> placedNow = placedWhileListing == null ? List.of() : placedWhileListing;
      placedWhileListing = found.end() ? null : new ArrayList<>();
      Future<List<ReplicaMeta>> placed = placedNow.isEmpty() ? Future.succeededFuture(List.of())
          : vertx.executeBlocking(() -> stillHere(placedNow), false);
      return placed.compose(kept -> {
        List<JsonObject> items = new ArrayList<>(found.items());
        kept.forEach(m -> items.add(item(m)));
        if (!found.end()) {
          return sendPage(token, w, page, items);
        }
        w.rest = items;
        return sendPage(token, w, page, List.of());
      });
    });
  }

  /** The copies of {@code placed} still here with the same metadata (the last of each copy's). */
  private List<ReplicaMeta> stillHere(List<ReplicaMeta> placed) {
    java.util.Map<String, ReplicaMeta> last = new java.util.LinkedHashMap<>();
    placed.forEach(m -> last.put(m.name() + "\u0000" + m.version(), m));
    List<ReplicaMeta> out = new ArrayList<>();
    for (ReplicaMeta m : last.values()) {
      try {
        if (store.readMeta(m.name(), m.version()).equals(m)) {
          out.add(m);
        }
      } catch (java.io.IOException | RuntimeException gone) {
        // removed (or its metadata unreadable: the next inventory names it so)
      }
    }
    return out;
  }

  /**
   * Sends page {@code page}: {@code walked}, the copies the walk found, while it goes on;
   * once it has ended, the next of what is left. Then the rest, a page at a time.
   */
  private Future<Void> sendPage(String token, InventoryWalk w, int page, List<JsonObject> walked) {
    List<JsonObject> items = walked;
    if (w.rest != null) {
      int n = Math.min(inventoryPage, w.rest.size());
      items = new ArrayList<>(w.rest.subList(0, n));
      w.rest.subList(0, n).clear();
    }
    boolean last = w.rest != null && w.rest.isEmpty();
    JsonObject body = new JsonObject().put("id", config.id()).put("token", token).put("page", page).put("last", last)
        .put("items", new JsonArray(new ArrayList<>(items)));
    if (last) {
      body.put("unreadable", w.unreadable);
    }
    return vertx.eventBus().<JsonObject>request(Addresses.INVENTORY, body,
            new DeliveryOptions().setSendTimeout(INVENTORY_TIMEOUT_MS))
        .compose(reply -> {
          if (stopped) {
            return Future.failedFuture("the server is stopping");
          }
          JsonArray remove = reply.body().getJsonArray("remove", new JsonArray());
          JsonArray check = reply.body().getJsonArray("check", new JsonArray());
          return (remove.isEmpty() ? Future.succeededFuture(0) : removeCopies(remove))
              .compose(n -> check.isEmpty() ? Future.<Void>succeededFuture() : checkCopies(check));
        })
        .compose(x -> last ? Future.<Void>succeededFuture() : sendInventory(token, w, page + 1));
  }

  /** Ends a walk of the folders (on a worker: it closes folders). */
  private void closeCursor(BlobStore.Cursor cursor) {
    if (inventoryCursor == cursor) {
      inventoryCursor = null;
    }
    if (scrubCursor == cursor) {
      scrubCursor = null;
    }
    vertx.executeBlocking(() -> {
      cursor.close();
      return null;
    }, false);
  }

  private static JsonObject item(ReplicaMeta m) {
    return new JsonObject().put("name", m.name()).put("version", m.version()).put("size", m.size())
        .put("sha256", m.sha256()).put("created", m.createdMillis()).put("replicas", m.replicasWanted());
  }

  /**
   * The copies put in place between two pages of an inventory that go with the next, at
   * most (a page waits on the manager up to its timeout while backups go on). One that
   * does not go may count as lacking once, and the manager then asks for another
   * inventory at once.
   */
  static final int PLACED_WHILE_WALKING = 10_000;

  /** While an inventory's walk goes on: the copies put in place since its last page was read. */
  private List<ReplicaMeta> placedWhileListing;

  private void placed(ReplicaMeta meta, boolean existed) {
    if (!existed) {
      storedFiles++;
      storedBytes += meta.size();
    }
    if (placedWhileListing != null && placedWhileListing.size() < PLACED_WHILE_WALKING) {
      placedWhileListing.add(meta);
    }
  }

  /** Pushes a copy of a replica held here to another server (server to server, never through the manager). */
  private void onCopy(Message<JsonObject> msg) {
    Ticket t;
    try {
      t = Ticket.fromJson(msg.body().getJsonObject("ticket"));
    } catch (BackupException e) {
      msg.fail(e.code().code(), e.getMessage());
      return;
    }
    int replicas = msg.body().getInteger("replicas", 2);
    Ticket.Hop target = t.chain().get(0);
    transferStarted(false);
    boolean clusterBusy = msg.body().getBoolean("busy", false);
    readMetaToSend(t.name(), t.version()).compose(meta -> netClient.connect(target.port(), target.host())
            .recover(e -> Future.failedFuture(new BackupException(ErrorCode.CONNECTION,
                "server " + target.id() + " cannot be reached: " + BackupException.reason(e), e)))
            .compose(sock -> {
              io.vertx.core.Promise<JsonObject> done = io.vertx.core.Promise.promise();
              dev.backup.protocol.FrameDecoder d = new dev.backup.protocol.FrameDecoder(
                  new dev.backup.protocol.FrameDecoder.Listener() {
                    @Override
                    public void onFrame(dev.backup.protocol.Frame f) {
                      if (f.op() == dev.backup.protocol.Op.ERROR) {
                        done.tryFail(f.toException());
                      } else {
                        done.tryComplete(f.body());
                      }
                    }

                    @Override
                    public void onError(BackupException error) {
                      done.tryFail(error);
                    }
                  });
              sock.handler(d::feed);
              sock.closeHandler(v -> done.tryFail(new BackupException(ErrorCode.CONNECTION,
                  "server " + target.id() + " closed the connection during a copy")));
              sock.write(new dev.backup.protocol.Frame(dev.backup.protocol.Op.PUT, 1, new JsonObject()
                  .put("ticket", t.toJson()).put("hop", 0).put("replicas", replicas).put("copy", true)).encode());
              String path = store.replicaPath(t.name(), t.version()).toString();
              sendShared(sock, path, 0, meta.size(), clusterBusy)
                  .onSuccess(v -> sock.write(new dev.backup.protocol.Frame(dev.backup.protocol.Op.COMMIT, 1,
                      new JsonObject().put("sha256", meta.sha256())).encode()))
                  .onFailure(done::tryFail);
              return done.future().eventually(sock::close);
            }))
        .onComplete(ar -> {
          transferEnded(false);
          if (ar.succeeded()) {
            log.info("server {}: copied {} v{} to server {}", config.id(), t.name(), t.version(), target.id());
            msg.reply(ar.result());
          } else {
            BackupException e = BackupException.wrap(ar.cause());
            log.warn("server {}: copy of {} v{} to server {} failed: {}", config.id(), t.name(), t.version(),
                target.id(), e.getMessage());
            msg.fail(e.code().code(), e.getMessage());
          }
        });
  }

  /** Bytes a heal copy sends between two looks at whether it must make way for clients. */
  static final long HEAL_SLICE = 4L * 1024 * 1024;

  /**
   * Sends a file in slices straight from the disk (zero copy). While backups or restores
   * run (on this server, or anywhere in the cluster when the manager asked the copy to
   * be {@code busy}), it pauses after each slice so that the copy takes no more than
   * heal-percent of the time and leaves the rest to the clients.
   */
  private Future<Void> sendShared(NetSocket sock, String path, long offset, long size, boolean clusterBusy) {
    if (offset >= size) {
      return Future.succeededFuture();
    }
    long length = Math.min(HEAL_SLICE, size - offset);
    long started = System.nanoTime();
    return FileSender.send(vertx, sock, path, offset, length, config.tls()).compose(v -> {
      boolean busy = clusterBusy || foregroundTransfers > 0;
      long pause = busy ? HealShare.pauseMillis(System.nanoTime() - started, config.healPercent()) : 0;
      if (pause == 0) {
        return sendShared(sock, path, offset + length, size, clusterBusy);
      }
      io.vertx.core.Promise<Void> next = io.vertx.core.Promise.promise();
      vertx.setTimer(pause, t -> sendShared(sock, path, offset + length, size, clusterBusy).onComplete(next));
      return next.future();
    });
  }

  // ---- scrub ----

  /** Where the end of the last finished scrub pass is kept, so a restart neither rescans at once nor skips a pass. */
  private Path scrubMark() {
    return store.root().resolve("scrub.last");
  }

  /**
   * How long after start the first scrub pass begins: the interval after the last finished
   * pass (at least a second if that is overdue). A root with copies but no record of a pass
   * is scrubbed within a minute; a new, empty root waits a whole interval.
   */
  private long firstScrubDelay(boolean empty) {
    long now = System.currentTimeMillis();
    Long last = null;
    try {
      last = Long.parseLong(dev.backup.config.SmallFiles.read(scrubMark(), 64,
          java.nio.charset.StandardCharsets.US_ASCII).trim());
    } catch (java.io.IOException | NumberFormatException e) {
      if (empty) {
        writeScrubMark(now);
      }
    }
    return firstScrubDelay(last, now, config.scrubIntervalSeconds() * 1000L, empty);
  }

  static long firstScrubDelay(Long lastPass, long now, long interval, boolean empty) {
    if (lastPass != null) {
      return Math.max(1000L, Math.min(interval, lastPass + interval - now));
    }
    return empty ? interval : Math.min(60_000L, interval);
  }

  private void writeScrubMark(long when) {
    try {
      Path tmp = scrubMark().resolveSibling("scrub.last.tmp");
      java.nio.file.Files.writeString(tmp, Long.toString(when));
      java.nio.file.Files.move(tmp, scrubMark(), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (java.io.IOException e) {
      log.warn("server {}: cannot record the scrub pass: {}", config.id(), e.toString());
    }
  }

  /**
   * Re-reads every copy in the background and reports those whose checksum no longer
   * matches. After each file it waits as long as reading it at the configured rate would
   * take, so the average rate stays bounded; then the next pass starts after the interval.
   */
  private void scrubPass() {
    if (stopped) {
      return;
    }
    vertx.executeBlocking(store::cursor, false).onComplete(ar -> {
      if (stopped) {
        if (ar.succeeded()) {
          closeCursor(ar.result());
        }
        return;
      }
      if (ar.failed()) {
        scrubFailed(ar.cause());
        return;
      }
      scrubCursor = ar.result();
      scrubNext(new ScrubPass(ar.result()));
    });
  }

  private void scrubFailed(Throwable cause) {
    log.warn("server {}: scrub cannot list copies: {}", config.id(), cause.toString());
    scrubTimer = vertx.setTimer(config.scrubIntervalSeconds() * 1000L, t -> scrubPass());
  }

  /** Copies a scrub pass reads from its walk at a time. */
  static int scrubBatch = 1_000;

  /** The walk of the scrub pass under way, if any (closed when the server stops). */
  private BlobStore.Cursor scrubCursor;

  /** A scrub pass: its walk of the folders, the copies it has read from the walk and not yet judged. */
  private static final class ScrubPass {
    final BlobStore.Cursor cursor;
    final java.util.Deque<Judged> todo = new java.util.ArrayDeque<>();
    boolean walked;
    int checked;
    int bad;

    ScrubPass(BlobStore.Cursor cursor) {
      this.cursor = cursor;
    }
  }

  /**
   * A copy to judge by its bytes: its metadata as read, {@code null} when that is missing
   * or unreadable (then {@code size} is its bytes' length).
   */
  private record Judged(String name, long version, long size, ReplicaMeta meta) {
    static Judged of(ReplicaMeta m) {
      return new Judged(m.name(), m.version(), m.size(), m);
    }

    /** Whether bytes that hash to {@code actual} disagree with the metadata (always, with none to agree with). */
    boolean disagrees(String actual) {
      return actual != null && (meta == null || !actual.equals(meta.sha256()));
    }
  }

  private void scrubNext(ScrubPass pass) {
    if (stopped) {
      return; // (its walk is closed by stop)
    }
    if (pass.todo.isEmpty() && !pass.walked) {
      // The next copies of the walk: a server may hold many millions, and a pass lasts days.
      vertx.executeBlocking(() -> pass.cursor.next(scrubBatch), false).onComplete(ar -> {
        if (stopped) {
          return;
        }
        if (ar.failed()) {
          closeCursor(pass.cursor);
          scrubFailed(ar.cause());
          return;
        }
        ar.result().copies().forEach(m -> pass.todo.add(Judged.of(m)));
        ar.result().unreadable().forEach(u -> pass.todo.add(new Judged(u.name(), u.version(), u.size(), null)));
        pass.walked = ar.result().end();
        scrubNext(pass);
      });
      return;
    }
    Judged m = pass.todo.poll();
    if (m == null) {
      closeCursor(pass.cursor);
      if (pass.checked > 0) {
        log.info("server {}: scrub checked {} cop{}, {} damaged", config.id(), pass.checked,
            pass.checked == 1 ? "y" : "ies", pass.bad);
      }
      countAside();
      long finished = System.currentTimeMillis();
      vertx.executeBlocking(() -> {
        writeScrubMark(finished);
        return null;
      }, false).onComplete(done -> {
        if (!stopped) {
          scrubTimer = vertx.setTimer(config.scrubIntervalSeconds() * 1000L, t -> scrubPass());
        }
      });
      return;
    }
    vertx.executeBlocking(() -> store.actualSha256(m.name(), m.version()), false).onComplete(ar -> {
      if (stopped) {
        return;
      }
      boolean damaged = ar.succeeded() && m.disagrees(ar.result());
      if (damaged) {
        log.warn("server {}: scrub found {} v{} damaged{}", config.id(), m.name(), m.version(),
            m.meta() == null ? " (its metadata missing or unreadable)" : "");
        reportDamaged(m, ar.result());
      }
      long rate = Math.max(1, config.scrubMegabytesPerSecond()) * 1_000_000L;
      long pause = Math.max(1, m.size() * 1000 / rate);
      pass.checked++;
      pass.bad += damaged ? 1 : 0;
      scrubTimer = vertx.setTimer(pause, t -> scrubNext(pass));
    });
  }

  /**
   * Tells the manager the bytes of this copy (metadata {@code m}) hash to {@code actual}.
   * It knows which is right, the bytes or the checksum in the metadata: if the bytes match
   * the catalog, only the metadata is damaged, and it is rewritten; else the manager drops
   * the copy (and heals the file).
   */
  private Future<Void> reportDamaged(Judged m, String actual) {
    return vertx.eventBus().<JsonObject>request(Addresses.BAD_COPY, new JsonObject().put("id", config.id())
            .put("name", m.name()).put("version", m.version()).put("sha256", actual))
        .compose(reply -> actual.equals(reply.body().getString("repair"))
            ? repairMeta(m, actual, reply.body()) : Future.<Void>succeededFuture())
        .recover(t -> {
          // (Scrub and the next inventory find it again.)
          log.warn("server {}: cannot report {} v{} to the manager: {}", config.id(), m.name(), m.version(),
              t.getMessage());
          return Future.succeededFuture();
        });
  }

  /**
   * Copies whose metadata's checksum the manager's catalog does not share (named by a
   * reconciliation's answer): their bytes are hashed, and the manager told what they hold.
   */
  private Future<Void> checkCopies(JsonArray items) {
    List<Judged> metas = new ArrayList<>();
    List<String> actual = new ArrayList<>();
    return vertx.executeBlocking(() -> {
      for (Object o : items) {
        JsonObject it = (JsonObject) o;
        try {
          String name = it.getString("name");
          long version = it.getLong("version");
          Judged m;
          try {
            m = Judged.of(store.readMeta(name, version));
          } catch (BackupException | java.io.IOException e) {
            if (e instanceof BackupException b && b.code() != ErrorCode.INTEGRITY && b.code() != ErrorCode.NOT_FOUND) {
              throw b;
            }
            // Its metadata missing, unreadable, or one the disk cannot read.
            m = new Judged(name, version, -1, null);
          }
          String sha = store.actualSha256(name, version);
          if (sha == null) {
            continue; // (gone meanwhile)
          }
          metas.add(m);
          actual.add(sha);
        } catch (java.io.IOException | RuntimeException e) {
          log.warn("server {}: cannot check {} v{}: {}", config.id(), it.getString("name"), it.getLong("version"),
              e.toString());
        }
      }
      return null;
    }, false).compose(x -> {
      // Done when the manager has answered each and the metadata it vouched for is rewritten,
      // so that the next inventory finds it so.
      List<Future<Void>> reports = new ArrayList<>();
      for (int i = 0; i < metas.size(); i++) {
        reports.add(reportDamaged(metas.get(i), actual.get(i)));
      }
      return Future.join(reports).mapEmpty();
    });
  }

  /**
   * Rewrites the metadata of a copy whose bytes the manager found right ({@code answer}:
   * its word, with the version's size, time and copies wanted from the catalog, which make
   * the metadata anew when none was readable here).
   */
  private Future<Void> repairMeta(Judged m, String sha256, JsonObject answer) {
    ReplicaMeta was = m.meta();
    ReplicaMeta fixed = was != null
        ? new ReplicaMeta(was.name(), was.version(), was.size(), sha256, was.createdMillis(), was.replicasWanted())
        : new ReplicaMeta(m.name(), m.version(), answer.getLong("size", -1L), sha256,
            answer.getLong("created", System.currentTimeMillis()), answer.getInteger("replicas", 0));
    return vertx.executeBlocking(() -> store.repairMeta(was, fixed), false).onComplete(ar -> {
      if (ar.succeeded() && ar.result()) {
        log.warn("server {}: the metadata of {} v{} was {} (its bytes are right); rewritten", config.id(),
            m.name(), m.version(), was == null ? "missing or unreadable" : "damaged");
        if (was == null) {
          placed(fixed, false); // (counted among the copies held from now on)
        }
      } else if (ar.failed()) {
        log.warn("server {}: cannot rewrite the metadata of {} v{}: {}", config.id(), m.name(), m.version(),
            ar.cause().toString());
      }
    }).mapEmpty();
  }

  /** A copy's metadata and the length its bytes have on disk now. */
  private record Held(ReplicaMeta meta, long bytes) {
  }

  /**
   * The metadata of a copy about to be sent, once its bytes on disk are checked to be of
   * the size it gives: a copy cut short on disk would otherwise be sent short, and its
   * reader left waiting for the rest. One that is not fails at once (INTEGRITY), and the
   * manager is told what its bytes hold, as a scrub would.
   */
  Future<ReplicaMeta> readMetaToSend(String name, long version) {
    return vertx.executeBlocking(() -> {
      ReplicaMeta m = store.readMeta(name, version);
      return new Held(m, java.nio.file.Files.size(store.replicaPath(name, version)));
    }, false).compose(h -> {
      if (h.bytes() == h.meta().size()) {
        return Future.succeededFuture(h.meta());
      }
      log.warn("server {}: the copy of {} v{} holds {} bytes, its metadata {}", config.id(), name, version,
          h.bytes(), h.meta().size());
      vertx.executeBlocking(() -> store.actualSha256(name, version), false).onSuccess(actual -> {
        if (actual != null && !stopped) {
          reportDamaged(Judged.of(h.meta()), actual);
        }
      });
      return Future.failedFuture(new BackupException(ErrorCode.INTEGRITY, "server " + config.id() + " holds "
          + h.bytes() + " bytes of " + name + " v" + version + ", not " + h.meta().size()));
    });
  }

  private void report() {
    if (reporting) {
      return;
    }
    reporting = true;
    long sent = System.nanoTime();
    JsonObject r = new JsonObject().put("id", config.id()).put("node", nodeId.get())
        .put("host", advertised).put("port", netServer.actualPort())
        .put("freeBytes", freeBytes)
        .put("transfers", transfers).put("foreground", foregroundTransfers).put("latencyMicros", lastLatencyMicros)
        .put("reconciled", reconciled);
    if (asideCopies >= 0) {
      r.put("damagedAside", asideCopies);
    }
    if (counted) {
      // (Copies that came or went while they were being counted can put it a little off.)
      r.put("bytes", Math.max(0, storedBytes)).put("files", Math.max(0, storedFiles));
    }
    vertx.eventBus().<JsonObject>request(Addresses.LOAD, r, new DeliveryOptions().setSendTimeout(3000))
        .onComplete(ar -> {
          reporting = false;
          if (ar.succeeded()) {
            lastLatencyMicros = (System.nanoTime() - sent) / 1000;
            String wanted = ar.result().body().getString("inventory");
            // (A reply to a report sent before the last reconciliation ended may still ask for it.)
            if (wanted != null && !wanted.equals(reconciled) && !reconciling
                && reconcileBackoff.ready(System.currentTimeMillis())) {
              reconcile(wanted);
            }
            if (reportsFailing) {
              reportsFailing = false;
              log.info("server {}: the manager hears this server's reports again", config.id());
            }
          } else if (!reportsFailing) {
            reportsFailing = true;
            log.warn("server {}: cannot report to the manager: {}", config.id(), ar.cause().getMessage());
          }
        });
    vertx.executeBlocking(store::freeBytes, false).onSuccess(f -> freeBytes = f);
  }

  // ---- services for upload sessions ----

  int id() {
    return config.id();
  }

  boolean tls() {
    return config.tls();
  }

  String secret() {
    return config.secret();
  }

  BlobStore store() {
    return store;
  }

  NetClient netClient() {
    return netClient;
  }

  Context context() {
    return context;
  }

  Vertx vertx() {
    return vertx;
  }

  ExecutorService hashExecutor() {
    return hashExecutor;
  }

  long idleTimeoutMs() {
    return config.idleTimeoutSeconds() * 1000L;
  }

  long freeBytes() {
    return freeBytes;
  }

  /** Room kept free on the disk beyond each incoming file. */
  long reserveBytes() {
    return 8L * 1024 * 1024;
  }

  /** Whether a file of {@code size} bytes fits, keeping the reserve (no overflow for sizes near 2^63). */
  boolean hasRoomFor(long size) {
    return size >= 0 && size <= freeBytes() - reserveBytes();
  }

  /** Connections to other servers, kept for the next file of a chain. */
  dev.backup.protocol.ConnectionPool peers() {
    return peers;
  }

  boolean takePrepared(String transferId) {
    return prepared.remove(transferId) != null;
  }

  /** Counts a transfer; {@code foreground} when it serves a client (a backup or a restore), not a heal. */
  void transferStarted(boolean foreground) {
    transfers++;
    if (foreground) {
      foregroundTransfers++;
    }
  }

  void transferEnded(boolean foreground) {
    transfers--;
    if (foreground) {
      foregroundTransfers--;
    }
  }

  Future<Void> writeMeta(Path tmp, ReplicaMeta meta) {
    return vertx.executeBlocking(() -> {
      store.writeMeta(tmp, meta);
      return null;
    }, false);
  }

  /** Stores a small copy received whole (see {@link BlobStore#storeWhole}) in one trip to a worker. */
  Future<Placed> storeWhole(Path tmp, byte[] bytes, String senderSha, ReplicaMeta meta) {
    return vertx.executeBlocking(() -> store.storeWhole(tmp, bytes, senderSha, meta), false).map(existed -> {
      placed(meta, existed);
      return new Placed(meta, existed);
    });
  }

  /** A copy put in place; {@code replaced}: over a copy of the same version that was already here. */
  record Placed(ReplicaMeta meta, boolean replaced) {
  }

  /** Moves a received copy whose bytes and metadata are on disk into place. */
  Future<Placed> placeReplica(Path tmp, ReplicaMeta meta) {
    return vertx.executeBlocking(() -> store.place(tmp, meta), false).map(existed -> {
      placed(meta, existed);
      return new Placed(meta, existed);
    });
  }

  void discard(Path tmp) {
    vertx.executeBlocking(() -> {
      store.deleteQuietly(tmp);
      return null;
    }, false);
  }

  /**
   * Takes out a copy this server put in place for a transfer that then failed: only if the
   * copy there is still that one (its checksum and time), not one a later transfer of the
   * same version put there since (a heal sent again after the first was given up, say).
   */
  Future<Boolean> discardReplica(ReplicaMeta meta) {
    return vertx.executeBlocking(() -> {
      if (store.remove(meta.name(), meta.version(), meta.sha256(), meta.createdMillis()) < 0) {
        log.info("server {}: keeps {} v{}: the copy here is another transfer's", config.id(), meta.name(),
            meta.version());
        return false;
      }
      return true;
    }, false).onSuccess(removed -> {
      if (removed) {
        storedFiles--;
        storedBytes -= meta.size();
      }
    }).onFailure(t -> log.warn("server {}: cannot remove the copy of {} v{}: {}", config.id(), meta.name(),
        meta.version(), t.toString()));
  }

  /** Tells the manager a transfer this server was primary of failed, so that no stray copy of it survives. */
  void reportAborted(Ticket t) {
    JsonArray chain = new JsonArray();
    t.chain().forEach(h -> chain.add(h.id()));
    vertx.eventBus().send(Addresses.ABORTED, new JsonObject().put("transferId", t.transferId()).put("name", t.name())
        .put("version", t.version()).put("chain", chain));
  }

  Future<Void> reportCommitted(Ticket t, String sha, JsonArray stored, int replicasWanted, boolean copy) {
    JsonObject body = new JsonObject().put("transferId", t.transferId()).put("copy", copy).put("name", t.name())
        .put("version", t.version()).put("size", t.size()).put("sha256", sha)
        .put("servers", stored).put("replicas", replicasWanted).put("created", System.currentTimeMillis());
    return reportCommitted(body, 1);
  }

  /**
   * A report whose answer is lost may or may not have been recorded: it is sent again (the
   * manager's handling is idempotent) a few times. If it still goes unanswered, the
   * failure says the outcome is unknown ({@link #uncertain}): the copy must then stay, for
   * reconciliation to settle, never be removed on a guess.
   */
  private Future<Void> reportCommitted(JsonObject body, int attempt) {
    return vertx.eventBus().request(Addresses.COMMITTED, body, new DeliveryOptions().setSendTimeout(5_000))
        .<Void>mapEmpty()
        .recover(e -> {
          // Lost (no answer), or recorded in the manager's memory but not yet on its disk (its
          // catalog write failed: the next one writes it, and a report sent again is answered
          // once it has): neither is a refusal.
          boolean lost = e instanceof io.vertx.core.eventbus.ReplyException re
              && (re.failureType() != io.vertx.core.eventbus.ReplyFailure.RECIPIENT_FAILURE
                  || re.failureCode() == ErrorCode.IO.code());
          if (!lost) {
            return Future.failedFuture(BackupException.wrap(e));
          }
          if (attempt < 3) {
            return vertx.timer(500L * attempt).compose(x -> reportCommitted(body, attempt + 1));
          }
          return Future.failedFuture(new Uncertain(new BackupException(ErrorCode.TIMEOUT,
              "the manager did not confirm " + body.getString("name") + " v" + body.getLong("version")
                  + " (" + e.getMessage() + "); the copy is kept until the manager settles it")));
        });
  }

  /**
   * A copy (heal or raise) kept after its report went unanswered: reported again every few
   * seconds for two minutes until the manager answers. Recorded: it stays. Refused (the
   * version is gone, or has its copies by now): it is removed. Still no answer: it stays
   * for reconciliation. (A backup's copy is not reported again: its primary reports the
   * transfer aborted, and the manager either has it recorded or buries it.)
   */
  void settleLater(Ticket t, ReplicaMeta meta, JsonArray stored, int replicasWanted) {
    settle(t, meta, stored, replicasWanted, 1);
  }

  private void settle(Ticket t, ReplicaMeta meta, JsonArray stored, int replicasWanted, int round) {
    vertx.setTimer(5_000, x -> reportCommitted(t, meta.sha256(), stored, replicasWanted, true).onComplete(ar -> {
      if (ar.succeeded()) {
        log.info("server {}: the manager recorded the copy of {} v{} at last", config.id(), t.name(), t.version());
      } else if (!uncertain(ar.cause())) {
        log.info("server {}: the manager does not want the copy of {} v{} ({}); removing it", config.id(), t.name(),
            t.version(), ar.cause().getMessage());
        discardReplica(meta);
      } else if (round < 8) {
        settle(t, meta, stored, replicasWanted, round + 1);
      }
    }));
  }

  /** A failure after which nobody knows whether the manager recorded the copy. */
  static final class Uncertain extends RuntimeException {
    Uncertain(BackupException cause) {
      super(cause.getMessage(), cause);
    }

    BackupException reason() {
      return (BackupException) getCause();
    }
  }

  static boolean uncertain(Throwable t) {
    return t instanceof Uncertain;
  }
}
