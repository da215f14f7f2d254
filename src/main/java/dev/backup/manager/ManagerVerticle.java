package dev.backup.manager;

import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import dev.backup.cluster.Addresses;
import dev.backup.cluster.Clustering;
import dev.backup.config.Config;
import dev.backup.config.Tls;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.FrameDeadline;
import dev.backup.protocol.FrameDecoder;
import dev.backup.protocol.Op;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The manager: answers clients over TCP (placement, list, status), keeps the catalog,
 * follows the servers through cluster membership, load reports and a watch connection
 * to each, and never carries file data.
 */
public final class ManagerVerticle extends VerticleBase {
  private static final Logger log = LoggerFactory.getLogger(ManagerVerticle.class);

  private final Config config;
  private final HazelcastInstance hazelcast;
  private final Runnable refreshRoutes;
  private final ServerTable servers = new ServerTable(2500);
  private final Map<Integer, NetSocket> watches = new HashMap<>();
  private final Set<Integer> connecting = new HashSet<>();
  private ManagerService service;
  private Users users;
  private Map<String, Users.User> knownUsers = Map.of();
  private long knownUsersAt = Long.MIN_VALUE;
  private NetServer netServer;
  private NetClient netClient;
  private long tickTimer = -1;
  private Future<Void> lastSave = Future.succeededFuture();
  private long pingSeq;

  public ManagerVerticle(Config config, HazelcastInstance hazelcast) {
    this(config, hazelcast, () -> { });
  }

  /**
   * @param refreshRoutes corrects the event bus's routes to the elements from the member
   *     list; called when a server's report comes from a new process
   */
  public ManagerVerticle(Config config, HazelcastInstance hazelcast, Runnable refreshRoutes) {
    this.config = config;
    this.hazelcast = hazelcast;
    this.refreshRoutes = refreshRoutes;
  }

  @Override
  public Future<?> start() {
    service = new ManagerService(vertx, config, servers, this::saveCatalog);
    users = new Users(config.root());
    netClient = vertx.createNetClient(Tls.client(config, new NetClientOptions()
        .setConnectTimeout(config.connectTimeoutMs())
        .setIdleTimeout(10).setIdleTimeoutUnit(TimeUnit.SECONDS).setTcpNoDelay(true)));
    if (hazelcast != null) {
      hazelcast.getCluster().addMembershipListener(new MembershipListener() {
        @Override
        public void memberAdded(MembershipEvent e) {
          log.info("manager: cluster member joined: {}", e.getMember().getAddress());
        }

        @Override
        public void memberRemoved(MembershipEvent e) {
          if (!"server".equals(e.getMember().getAttribute(Clustering.ATTR_ROLE))) {
            return;
          }
          int id = Integer.parseInt(e.getMember().getAttribute(Clustering.ATTR_ID));
          context.runOnContext(v -> {
            if (servers.onMemberRemoved(id)) {
              log.warn("manager: server {} left the cluster", id);
              serversChanged();
            }
          });
        }
      });
    }
    // The servers' messages are taken once the catalog is loaded: an inventory compared with
    // an empty catalog would be adopted whole. (Until then they go unanswered; the servers
    // report again every half second and send commit reports again.)
    return loadCatalog()
        .compose(v -> {
          vertx.eventBus().<JsonObject>consumer(Addresses.LOAD, this::onLoadReport);
          vertx.eventBus().<JsonObject>consumer(Addresses.COMMITTED, this::onCommitted);
          vertx.eventBus().<JsonObject>consumer(Addresses.ABORTED, m -> service.aborted(m.body()));
          vertx.eventBus().<JsonObject>consumer(Addresses.INVENTORY, service::reconcile);
          vertx.eventBus().<JsonObject>consumer(Addresses.BAD_COPY, m -> m.reply(service.badCopy(
              m.body().getInteger("id"), m.body().getString("name"), m.body().getLong("version"),
              m.body().getString("sha256"))));
          return Future.succeededFuture();
        })
        .compose(v -> vertx.createNetServer(Tls.server(config, new NetServerOptions()
                .setHost(config.host()).setPort(config.port())
                .setIdleTimeout(config.idleTimeoutSeconds()).setIdleTimeoutUnit(TimeUnit.SECONDS).setTcpNoDelay(true)))
            .connectHandler(this::onClient)
            .listen())
        .onSuccess(s -> {
          netServer = s;
          tickTimer = vertx.setPeriodic(ServerTable.TICK_MILLIS, t -> tick());
          log.info("manager: listening on {}:{}, root {}", config.host(), s.actualPort(), config.root().toAbsolutePath());
        });
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(tickTimer);
    // Changes waiting for a save, or kept in memory only by a save that failed and waits
    // for its retry, are written now, one last time (and not tried again after).
    vertx.cancelTimer(retryTimer);
    boolean failedBefore = retryPending;
    retryPending = false;
    stopping = true;
    Future<Void> last = nextSave != null || failedBefore ? saveCatalog() : lastSave;
    return last.transform(x -> netServer == null ? Future.succeededFuture() : netServer.close())
        .transform(x -> netClient.close())
        .transform(x -> vertx.executeBlocking(() -> {
          if (catalogStore != null) {
            catalogStore.close();
          }
          return null;
        }));
  }

  // ---- catalog persistence ----

  private CatalogStore catalogStore;

  private Future<Void> loadCatalog() {
    catalogStore = new CatalogStore(config.root());
    return vertx.executeBlocking(catalogStore::open).map(c -> {
      service.catalog = c;
      log.info("manager: catalog has {} files", c.size());
      return null;
    });
  }

  private boolean saving;
  /** After a failed save, the next is tried this much later (if no change asks for one first). */
  static final long SAVE_RETRY_MS = 5_000;
  private boolean retryPending;
  private boolean stopping;
  private long retryTimer = -1;
  private io.vertx.core.Promise<Void> nextSave;

  /**
   * Makes the catalog's changes durable (see {@link CatalogStore}: appended to its journal,
   * or now and then a new snapshot). Group commit: while one write is in progress, every
   * change asked meanwhile is written together by the next one, so a burst of small
   * backups costs a few writes, not one each. The future completes once a write that
   * includes this change is durable.
   */
  private Future<Void> saveCatalog() {
    if (nextSave == null) {
      nextSave = io.vertx.core.Promise.promise();
    }
    Future<Void> mine = nextSave.future();
    // (After a failed save, the next waits for its retry: each would write the whole catalog.)
    if (!saving && !retryPending) {
      writeCatalog();
    }
    return mine;
  }

  private void writeCatalog() {
    io.vertx.core.Promise<Void> batch = nextSave;
    nextSave = null;
    saving = true;
    List<JsonObject> changes = service.catalog.drainChanges();
    if (catalogStore.wantsCompaction()) {
      // The catalog belongs to this thread: a snapshot's view of it is taken here (an array
      // per file), a step at a time, and encoded and written on a worker. (The changes just
      // drained are in the view, and those made from now on go to the next journal.)
      Catalog.Freezer view = service.catalog.freezer();
      lastSave = Steps.run(vertx, () -> view.step(Steps.SIZE)).compose(x -> vertx.executeBlocking(() -> {
        catalogStore.compact(view.frozen());
        return null;
      }, true));
    } else {
      byte[] lines = CatalogStore.lines(changes);
      lastSave = vertx.executeBlocking(() -> {
        if (lines.length > 0) {
          catalogStore.append(lines);
        }
        return null;
      }, true);
    }
    lastSave.onComplete(ar -> {
      saving = false;
      if (ar.failed()) {
        // Those changes are in memory only: the next save writes the whole catalog (see
        // CatalogStore.append), and is tried again in a while even if nothing changes.
        log.error("manager: cannot write the catalog ({}): {}", stopping ? "stopping, not trying again"
            : "trying again in " + SAVE_RETRY_MS / 1000 + " s", ar.cause().toString());
        if (!retryPending && !stopping) {
          retryPending = true;
          retryTimer = vertx.setTimer(SAVE_RETRY_MS, t -> {
            retryPending = false;
            saveCatalog();
          });
        }
      }
      // (Always IO, whatever the cause: a server takes IO from a commit report as "not yet
      // durable", not as a refusal, and keeps its copy.)
      batch.handle(ar.failed() ? Future.failedFuture(new BackupException(ErrorCode.IO,
          "the manager cannot write its catalog: " + ar.cause().getMessage(), ar.cause())) : ar.mapEmpty());
      if (nextSave != null && !retryPending) {
        writeCatalog();
      }
    });
  }


  // ---- servers ----

  private void onLoadReport(Message<JsonObject> msg) {
    JsonObject r = msg.body();
    int id = r.getInteger("id", 0);
    if (id <= 0) {
      msg.reply(new JsonObject());
      return;
    }
    String before = servers.node(id);
    boolean changed = servers.onReport(r, isMember(id), ServerTable.now());
    if (before != null && !before.equals(r.getString("node"))) {
      // The server was restarted: what is sent to it from now on must reach the new
      // process, even if the member list's change has not been handled here yet; and what
      // it holds is compared with the catalog (whether or not its death was noticed).
      refreshRoutes.run();
      servers.wantInventory(id);
    }
    servers.inventoryApplied(id, r.getString("reconciled"));
    if (changed) {
      log.info("manager: server {} is {}", id, servers.health(id));
    }
    // The reply asks for the server's inventory while one is wanted (it came back, or a
    // deletion sent to it was lost): see ManagerService#reconcile.
    String wanted = servers.inventoryWanted(id);
    msg.reply(wanted == null ? new JsonObject() : new JsonObject().put("inventory", wanted));
    serversChanged();
    if (!servers.watched(id) && !connecting.contains(id)) {
      watch(id);
    }
  }

  /** Whether a server with this id is in the cluster now (membership as Hazelcast sees it). */
  private boolean isMember(int id) {
    if (hazelcast == null) {
      return true;
    }
    String sid = String.valueOf(id);
    try {
      return hazelcast.getCluster().getMembers().stream()
          .anyMatch(m -> "server".equals(m.getAttribute(Clustering.ATTR_ROLE)) && sid.equals(m.getAttribute(Clustering.ATTR_ID)));
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Keeps a connection open to each server: when it breaks, the server is dead at once. */
  private void watch(int id) {
    connecting.add(id);
    String host = servers.host(id);
    int port = servers.port(id);
    netClient.connect(port, host).onComplete(ar -> {
      connecting.remove(id);
      if (ar.failed()) {
        if (ar.cause() instanceof javax.net.ssl.SSLException ssl) {
          log.warn("manager: cannot watch server {} at {}:{}: {}", id, host, port, BackupException.tlsProblem(ssl));
        } else {
          log.debug("manager: cannot watch server {}: {}", id, ar.cause().toString());
        }
        return;
      }
      NetSocket sock = ar.result();
      NetSocket old = watches.put(id, sock);
      if (old != null) {
        old.close();
      }
      servers.onWatch(id, true);
      Map<Long, Long> sent = new HashMap<>();
      FrameDecoder decoder = new FrameDecoder(new FrameDecoder.Listener() {
        @Override
        public void onFrame(Frame f) {
          Long t0 = sent.remove(f.requestId());
          if (t0 != null) {
            servers.onPing(id, (System.nanoTime() - t0) / 1000, ServerTable.now());
          }
        }

        @Override
        public void onError(BackupException error) {
          sock.close();
        }
      });
      sock.handler(decoder::feed);
      long timer = vertx.setPeriodic(500, t -> {
        long rid = ++pingSeq;
        sent.put(rid, System.nanoTime());
        if (sent.size() > 10) {
          sent.clear();
        }
        sock.write(new Frame(Op.REQUEST, rid, new JsonObject().put("op", "ping")).encode());
      });
      sock.closeHandler(v -> {
        vertx.cancelTimer(timer);
        if (watches.get(id) == sock) {
          watches.remove(id);
          if (servers.onWatchLost(id)) {
            log.warn("manager: server {} is dead (connection lost)", id);
          }
          serversChanged();
        }
      });
    });
  }

  private long ticks;

  /** Every 250 ms: re-evaluates the servers' health; every other tick, looks for copies to heal. */
  private void tick() {
    for (int id : servers.tick(ServerTable.now())) {
      log.warn("manager: server {} is {}", id, servers.health(id));
    }
    serversChanged();
    service.abandonHealsOnLostServers();
    if (++ticks % 2 == 0) {
      service.heal();
    }
  }

  private void serversChanged() {
    service.serversChanged();
  }

  // ---- clients ----

  /** Until users exist, every client is served in the one unnamed namespace. */
  static final String SIGN_IN_NEEDED = "this manager serves only its users: give your user's secret "
      + "(BACKUP_SECRET or --secret-file) and name (--user)";

  /**
   * A client's request on a connection: sign-in ({@code hello}, {@code auth}) and {@code
   * ping} always; anything else only once signed in, or while the manager has no users.
   * The users file is looked at on a worker (it changes when an admin adds a user).
   */
  private Future<JsonObject> answer(JsonObject req, SignIn signIn) {
    String op = req.getString("op", "");
    if (op.equals("ping")) {
      return service.handle(req);
    }
    return knownUsers().compose(known -> {
      switch (op) {
        case "hello":
          return Future.succeededFuture(known.isEmpty() ? new JsonObject().put("open", true) : signIn.hello(req, known));
        case "auth":
          try {
            JsonObject ok = signIn.auth(req, known);
            log.info("manager: user {} signed in", ok.getString("user"));
            return Future.succeededFuture(ok);
          } catch (BackupException e) {
            return Future.failedFuture(e);
          }
        default:
          if (signIn.user() != null) {
            if (!known.containsKey(signIn.user())) {
              return Future.failedFuture(new BackupException(ErrorCode.DENIED, SignIn.REFUSED));
            }
            return service.handle(req, new ManagerService.Namespace(signIn.user(), known.get(signIn.user()).quota()));
          }
          if (!known.isEmpty()) {
            return Future.failedFuture(new BackupException(ErrorCode.DENIED, SIGN_IN_NEEDED));
          }
          return service.handle(req);
      }
    });
  }

  /**
   * The users, read again from the file (on a worker, unordered: never behind a catalog
   * write) when the last look is more than a second old, so that an admin's change is
   * seen within a second.
   */
  private Future<Map<String, Users.User>> knownUsers() {
    long now = System.nanoTime();
    if (knownUsersAt != Long.MIN_VALUE && now - knownUsersAt < 1_000_000_000L) {
      return Future.succeededFuture(knownUsers);
    }
    return vertx.executeBlocking(users::current, false).onSuccess(u -> {
      knownUsers = u;
      knownUsersAt = now;
    });
  }

  private void onClient(NetSocket sock) {
    SignIn signIn = new SignIn(config.secret());
    FrameDecoder decoder = new FrameDecoder(new FrameDecoder.Listener() {
      @Override
      public void onFrame(Frame f) {
        if (f.op() != Op.REQUEST) {
          sock.write(Frame.error(f.requestId(), ErrorCode.PROTOCOL, "expected a REQUEST frame").encode())
              .onComplete(x -> sock.close());
          return;
        }
        Future<JsonObject> result;
        try {
          result = answer(f.body(), signIn);
        } catch (RuntimeException e) {
          result = Future.failedFuture(e);
        }
        result.onComplete(ar -> {
          Buffer answer;
          try {
            answer = ar.succeeded() ? new Frame(Op.RESPONSE, f.requestId(), ar.result()).encode()
                : Frame.error(f.requestId(), BackupException.fromRequest(ar.cause())).encode();
          } catch (BackupException e) {
            // An answer beyond the frame limit: say so rather than leave the client waiting.
            answer = Frame.error(f.requestId(), e.code(), "the answer is too large to send: " + e.getMessage()).encode();
          }
          sock.write(answer);
        });
      }

      @Override
      public void onError(BackupException error) {
        log.debug("manager: dropping connection from {}: {}", sock.remoteAddress(), error.getMessage());
        sock.write(Frame.error(0, error).encode()).onComplete(x -> sock.close());
      }
    });
    FrameDeadline deadline = new FrameDeadline(vertx, decoder, config.idleTimeoutSeconds() * 1000L, e -> {
      log.debug("manager: dropping {}: {}", sock.remoteAddress(), e.getMessage());
      sock.write(Frame.error(0, e).encode()).onComplete(x -> sock.close());
    });
    sock.handler(b -> {
      decoder.feed(b);
      deadline.check();
    });
    sock.closeHandler(v -> deadline.cancel());
    sock.exceptionHandler(t -> log.debug("manager: client connection error: {}", t.toString()));
  }

  private void onCommitted(Message<JsonObject> msg) {
    service.committed(msg.body()).onComplete(ar -> {
      if (ar.succeeded()) {
        msg.reply(new JsonObject().put("ok", true));
      } else {
        BackupException e = BackupException.wrap(ar.cause());
        log.error("manager: cannot record {}: {}", msg.body().getString("name"), e.getMessage());
        msg.fail(e.code().code(), "manager cannot record the copy: " + e.getMessage());
      }
    });
  }
}
