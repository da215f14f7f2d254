package dev.backup.server;

import dev.backup.cluster.Addresses;
import dev.backup.cluster.Ticket;
import dev.backup.config.Config;
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
  private final Set<UploadSession> sessions = ConcurrentHashMap.newKeySet();
  private ExecutorService hashExecutor;
  private NetServer netServer;
  private NetClient netClient;
  private long reportTimer = -1;
  private long lastLatencyMicros;
  private long storedBytes;
  private long storedFiles;
  private int transfers;
  private volatile long freeBytes;
  private boolean reporting;

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
    netClient = vertx.createNetClient(new NetClientOptions()
        .setConnectTimeout(config.connectTimeoutMs())
        .setIdleTimeout(config.idleTimeoutSeconds()).setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setTcpNoDelay(true).setSendBufferSize(READ_BUFFER).setReceiveBufferSize(READ_BUFFER));
    Future<Void> opened = vertx.executeBlocking(() -> {
      store.open();
      List<ReplicaMeta> inv = store.inventory();
      storedFiles = inv.size();
      storedBytes = inv.stream().mapToLong(ReplicaMeta::size).sum();
      freeBytes = store.freeBytes();
      return null;
    });
    vertx.eventBus().<JsonObject>consumer(Addresses.prepare(config.id()), this::onPrepare);
    return opened
        .compose(v -> vertx.createNetServer(new NetServerOptions()
                .setHost(config.host()).setPort(config.port())
                .setIdleTimeout(config.idleTimeoutSeconds()).setIdleTimeoutUnit(TimeUnit.SECONDS)
                .setTcpNoDelay(true).setReceiveBufferSize(READ_BUFFER).setSendBufferSize(READ_BUFFER))
            .connectHandler(this::onConnect)
            .listen())
        .onSuccess(s -> {
          netServer = s;
          reportTimer = vertx.setPeriodic(0, config.reportIntervalMs(), t -> report());
          log.info("server {}: listening on {}:{}, root {}", config.id(), config.host(), s.actualPort(), store.root());
        });
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(reportTimer);
    for (UploadSession s : List.copyOf(sessions)) {
      s.abort();
    }
    Future<Void> closed = netServer == null ? Future.succeededFuture() : netServer.close();
    return closed.compose(v -> netClient.close()).onComplete(v -> hashExecutor.shutdownNow());
  }

  private void onConnect(NetSocket socket) {
    UploadSession session = new UploadSession(this, socket);
    sessions.add(session);
    session.start();
    socket.closeHandler(v -> {
      sessions.remove(session);
      if (!session.finished()) {
        session.fail(new BackupException(ErrorCode.CONNECTION, "the sender went away before the transfer ended"), false);
      }
    });
  }

  private void onPrepare(Message<JsonObject> msg) {
    try {
      Ticket t = Ticket.fromJson(msg.body().getJsonObject("ticket"));
      t.verify(config.secret(), config.id(), 0, System.currentTimeMillis());
      if (freeBytes() < t.size() + reserveBytes()) {
        msg.fail(ErrorCode.DISK_FULL.code(), "server " + config.id() + " has no room for " + t.size() + " bytes");
        return;
      }
      prepared.put(t.transferId(), t.expires());
      long delay = Math.max(1, t.expires() - System.currentTimeMillis());
      vertx.setTimer(delay, x -> prepared.remove(t.transferId()));
      msg.reply(new JsonObject().put("ok", true));
    } catch (BackupException e) {
      msg.fail(e.code().code(), e.getMessage());
    }
  }

  private void report() {
    if (reporting) {
      return;
    }
    reporting = true;
    long sent = System.nanoTime();
    JsonObject r = new JsonObject().put("id", config.id()).put("node", nodeId.get())
        .put("host", config.host()).put("port", netServer.actualPort())
        .put("bytes", storedBytes).put("files", storedFiles).put("freeBytes", freeBytes)
        .put("transfers", transfers).put("latencyMicros", lastLatencyMicros);
    vertx.eventBus().request(Addresses.LOAD, r, new DeliveryOptions().setSendTimeout(3000))
        .onComplete(ar -> {
          reporting = false;
          if (ar.succeeded()) {
            lastLatencyMicros = (System.nanoTime() - sent) / 1000;
          }
        });
    vertx.executeBlocking(store::freeBytes, false).onSuccess(f -> freeBytes = f);
  }

  // ---- services for upload sessions ----

  int id() {
    return config.id();
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

  long freeBytes() {
    return freeBytes;
  }

  /** Room kept free on the disk beyond each incoming file. */
  long reserveBytes() {
    return 8L * 1024 * 1024;
  }

  boolean takePrepared(String transferId) {
    return prepared.remove(transferId) != null;
  }

  void transferStarted() {
    transfers++;
  }

  void transferEnded() {
    transfers--;
  }

  Future<ReplicaMeta> commitReplica(Path tmp, ReplicaMeta meta) {
    return vertx.executeBlocking(() -> {
      boolean existed = java.nio.file.Files.exists(store.replicaPath(meta.name(), meta.version()));
      store.commit(tmp, meta);
      return existed;
    }, false).map(existed -> {
      if (!existed) {
        storedFiles++;
        storedBytes += meta.size();
      }
      return meta;
    });
  }

  void discard(Path tmp) {
    vertx.executeBlocking(() -> {
      store.deleteQuietly(tmp);
      return null;
    }, false);
  }

  void discardReplica(ReplicaMeta meta) {
    vertx.executeBlocking(() -> {
      store.deleteQuietly(store.metaPath(meta.name(), meta.version()));
      store.deleteQuietly(store.replicaPath(meta.name(), meta.version()));
      return null;
    }, false).onSuccess(v -> {
      storedFiles--;
      storedBytes -= meta.size();
    });
  }

  Future<Void> reportCommitted(Ticket t, String sha, JsonArray stored, int replicasWanted) {
    JsonObject body = new JsonObject().put("transferId", t.transferId()).put("name", t.name())
        .put("version", t.version()).put("size", t.size()).put("sha256", sha)
        .put("servers", stored).put("replicas", replicasWanted).put("created", System.currentTimeMillis());
    return vertx.eventBus().request(Addresses.COMMITTED, body, new DeliveryOptions().setSendTimeout(10_000))
        .recover(e -> Future.failedFuture(BackupException.wrap(e)))
        .mapEmpty();
  }
}
